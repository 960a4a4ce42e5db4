#include "test/fakes/fake_eviction_service.h"

#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "common/grpc/credentials.h"

namespace spotguard::testing {

namespace {
std::string Authorization(const grpc::ServerContext* ctx) {
  auto it = ctx->client_metadata().find("authorization");
  if (it == ctx->client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

std::string ClientCommonName(const grpc::ServerContext* ctx) {
  auto auth = ctx->auth_context();
  if (auth == nullptr) return "";
  auto cn = auth->FindPropertyValues("x509_common_name");
  return cn.empty() ? "" : std::string(cn[0].data(), cn[0].size());
}
}  // namespace

FakeEvictionService::FakeEvictionService(int port, const tls::Files& tls) {
  auto creds = grpc_tls::ServerCredentials(tls);
  if (!creds.ok()) throw std::runtime_error(std::string(creds.status().message()));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), *creds, &port_);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
}

FakeEvictionService::~FakeEvictionService() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now());
}

std::string FakeEvictionService::address() const { return absl::StrCat("127.0.0.1:", port_); }

std::vector<ReceivedCall> FakeEvictionService::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

bool FakeEvictionService::WaitFor(const std::function<bool(const std::vector<ReceivedCall>&)>& pred,
                                  absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto ok = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pred(calls_); };
  return mu_.AwaitWithTimeout(absl::Condition(&ok), timeout);
}

grpc::Status FakeEvictionService::ReportNotice(grpc::ServerContext* ctx, const spotguard::v1::ReportNoticeRequest* req,
                                               spotguard::v1::ReportNoticeResponse* res) {
  absl::MutexLock lock(&mu_);
  bool first = true;
  for (const auto& c : calls_) {
    if (c.method == "ReportNotice" && c.report.notice().id() == req->notice().id()) first = false;
  }
  res->set_first_report(first);
  calls_.push_back({.method = "ReportNotice", .authorization = Authorization(ctx), .client_common_name = ClientCommonName(ctx), .report = *req});
  return grpc::Status::OK;
}

grpc::Status FakeEvictionService::WithdrawNotice(grpc::ServerContext* ctx,
                                                 const spotguard::v1::WithdrawNoticeRequest* req,
                                                 spotguard::v1::WithdrawNoticeResponse* res) {
  absl::MutexLock lock(&mu_);
  res->set_was_known(true);
  calls_.push_back({.method = "WithdrawNotice", .authorization = Authorization(ctx), .client_common_name = ClientCommonName(ctx), .withdraw = *req});
  return grpc::Status::OK;
}

}  // namespace spotguard::testing
