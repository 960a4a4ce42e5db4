#include "extender/eviction_service.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "common/grpc/credentials.h"
#include "common/log.h"

namespace spotguard::extender {
namespace {

namespace v1 = spotguard::v1;

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

absl::string_view CodeName(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::OK: return "OK";
    case grpc::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::UNAUTHENTICATED: return "UNAUTHENTICATED";
    case grpc::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::UNAVAILABLE: return "UNAVAILABLE";
    default: return "OTHER";
  }
}

std::string Metadata(const grpc::ServerContext* ctx, const char* key) {
  auto it = ctx->client_metadata().find(key);
  return it == ctx->client_metadata().end() ? std::string() : std::string(it->second.data(), it->second.size());
}

}  // namespace

absl::StatusOr<NoticeRecord> FromProto(const v1::ReportNoticeRequest& req) {
  auto n = notice::FromProto(req.notice());
  if (!n.ok()) return n.status();
  NoticeRecord r;
  static_cast<notice::Notice&>(r) = std::move(*n);
  r.node = req.node().name();
  // An occurrence is known by its first sight to the second, as the node annotation writes it,
  // so the two channels name the same occurrence alike.
  if (r.detected_at != absl::InfinitePast()) r.detected_at = absl::FromUnixSeconds(absl::ToUnixSeconds(r.detected_at));
  return r;
}

EvictionService::EvictionService(Authenticator& auth, ClusterState& state, ExtenderMetrics& metrics)
    : auth_(auth), state_(state), metrics_(metrics) {}

absl::Status EvictionService::Authorize(absl::string_view authorization, absl::string_view peer,
                                       const std::string& node) {
  return auth_.Authorize(authorization, peer, node).status();
}

grpc::Status EvictionService::Report(absl::string_view authorization, const v1::ReportNoticeRequest& req,
                                     v1::ReportNoticeResponse* res, absl::string_view peer) {
  grpc::Status out;
  absl::StatusOr<NoticeRecord> notice = FromProto(req);
  if (req.node().name().empty()) {
    out = grpc::Status(grpc::INVALID_ARGUMENT, "node.name is required");
  } else if (!notice.ok()) {
    metrics_.RecordNoticeRefused(notice::RejectReason(notice.status()), "grpc");
    out = ToGrpc(notice.status());
  } else if (absl::Status s = Authorize(authorization, peer, req.node().name()); !s.ok()) {
    out = ToGrpc(s);
  } else {
    res->set_first_report(state_.ReportNotice(std::move(*notice), "grpc"));
  }
  metrics_.RecordGrpc("ReportNotice", CodeName(out));
  if (!out.ok()) {
    log::Warn("ReportNotice refused", {{"node", req.node().name()}, {"notice_id", req.notice().id()},
                                       {"code", CodeName(out)}, {"error", out.error_message()}});
  }
  return out;
}

grpc::Status EvictionService::Withdraw(absl::string_view authorization, const v1::WithdrawNoticeRequest& req,
                                       v1::WithdrawNoticeResponse* res, absl::string_view peer) {
  grpc::Status out;
  if (req.node().name().empty() || req.notice_id().empty()) {
    out = grpc::Status(grpc::INVALID_ARGUMENT, "node.name and notice_id are required");
  } else if (absl::Status s = Authorize(authorization, peer, req.node().name()); !s.ok()) {
    out = ToGrpc(s);
  } else {
    res->set_was_known(state_.WithdrawNotice(req.node().name(), req.notice_id()));
  }
  metrics_.RecordGrpc("WithdrawNotice", CodeName(out));
  if (!out.ok()) {
    log::Warn("WithdrawNotice refused", {{"node", req.node().name()}, {"notice_id", req.notice_id()},
                                         {"code", CodeName(out)}, {"error", out.error_message()}});
  }
  return out;
}

grpc::Status EvictionService::ReportNotice(grpc::ServerContext* ctx, const v1::ReportNoticeRequest* req,
                                           v1::ReportNoticeResponse* res) {
  return Report(Metadata(ctx, "authorization"), *req, res, ctx->peer());
}

grpc::Status EvictionService::WithdrawNotice(grpc::ServerContext* ctx, const v1::WithdrawNoticeRequest* req,
                                             v1::WithdrawNoticeResponse* res) {
  return Withdraw(Metadata(ctx, "authorization"), *req, res, ctx->peer());
}

absl::StatusOr<std::unique_ptr<grpc::Server>> StartGrpcServer(const GrpcServerOptions& options, grpc::Service* service,
                                                              int* bound_port) {
  auto creds = grpc_tls::ServerCredentials(options.tls);
  if (!creds.ok()) return creds.status();
  std::string address = options.address;
  if (absl::StartsWith(address, ":")) address = "0.0.0.0" + address;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, *creds, bound_port);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || *bound_port == 0) return absl::UnavailableError(absl::StrCat("cannot serve gRPC on ", options.address));
  return server;
}

}  // namespace spotguard::extender
