#include "node-agent/reporter.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc/credentials.h"
#include "common/kube/config.h"
#include "grpcpp/grpcpp.h"
#include "spotguard/v1/eviction.grpc.pb.h"

namespace spotguard::agent {

absl::Status FromGrpc(int code, const std::string& message, absl::string_view what) {
  if (code == 0) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(code), absl::StrCat(what, ": ", message));
}

v1::NodeFacts ToProto(const kube::NodeFacts& n) {
  v1::NodeFacts p;
  p.set_name(n.name);
  p.set_provider_id(n.provider_id);
  p.set_instance_type(n.instance_type);
  p.set_zone(n.zone);
  p.set_pool(n.pool);
  p.set_capacity_type(n.capacity_type);
  return p;
}

namespace {

// The channel is made on the first call, not at start-up: until a node gets its first
// notice, gRPC's threads, heap and code pages stay out of the agent (about 3 MiB of its
// resident memory; bench/RESULTS.md, "Agent"). The cordon never waits for it: reports run
// on their own threads.
class GrpcReporter final : public Reporter {
 public:
  explicit GrpcReporter(GrpcReporterOptions options) : options_(std::move(options)) {}

  absl::Status Report(const kube::NodeFacts& node, const Notice& notice) override {
    v1::ReportNoticeRequest req;
    *req.mutable_node() = ToProto(node);
    *req.mutable_notice() = ToProto(notice);
    v1::ReportNoticeResponse res;
    grpc::ClientContext ctx;
    if (absl::Status s = Prepare(ctx); !s.ok()) return s;
    grpc::Status st = Stub().ReportNotice(&ctx, req, &res);
    return FromGrpc(st.error_code(), st.error_message(), "ReportNotice");
  }

  absl::Status Withdraw(const kube::NodeFacts& node, const Notice& notice) override {
    v1::WithdrawNoticeRequest req;
    *req.mutable_node() = ToProto(node);
    req.set_notice_id(notice.id);
    req.set_cloud(notice.cloud);
    req.set_kind(notice.kind);
    v1::WithdrawNoticeResponse res;
    grpc::ClientContext ctx;
    if (absl::Status s = Prepare(ctx); !s.ok()) return s;
    grpc::Status st = Stub().WithdrawNotice(&ctx, req, &res);
    return FromGrpc(st.error_code(), st.error_message(), "WithdrawNotice");
  }

 private:
  absl::Status Prepare(grpc::ClientContext& ctx) {
    auto token = kube::ReadFile(options_.token_path);
    if (!token.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("reading the report token: ", token.status().message()));
    }
    ctx.AddMetadata("authorization", absl::StrCat("Bearer ", absl::StripAsciiWhitespace(*token)));
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(absl::ToInt64Milliseconds(options_.timeout)));
    return absl::OkStatus();
  }

  v1::EvictionService::Stub& Stub() {
    absl::MutexLock lock(&mu_);
    if (stub_ == nullptr) {
      stub_ = v1::EvictionService::NewStub(grpc_tls::NewChannel(options_.address, options_.channel));
    }
    return *stub_;  // stubs are thread-safe; this one lives as long as the reporter
  }

  const GrpcReporterOptions options_;
  absl::Mutex mu_;
  std::unique_ptr<v1::EvictionService::Stub> stub_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Reporter> NewGrpcReporter(GrpcReporterOptions options) {
  return std::make_unique<GrpcReporter>(std::move(options));
}

}  // namespace spotguard::agent
