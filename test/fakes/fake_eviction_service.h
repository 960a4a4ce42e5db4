// An in-process EvictionService (gRPC, port 0) that records what agents report, standing in
// for spotguard-extender in the agent's tests. It can start on a chosen port later, to play
// an extender that was unreachable and came back.
//
// Example:
//   FakeEvictionService extender;                  // serving on 127.0.0.1:<port>
//   ... run an agent with --extender_address=extender.address() ...
//   ASSERT_TRUE(extender.WaitFor([](auto& r) { return r.size() >= 1; }));
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/tls.h"
#include "grpcpp/grpcpp.h"
#include "spotguard/v1/eviction.grpc.pb.h"

namespace spotguard::testing {

struct ReceivedCall {
  std::string method;  // ReportNotice | WithdrawNotice
  std::string authorization;
  std::string client_common_name;  // of the client's TLS certificate, when it sent one
  spotguard::v1::ReportNoticeRequest report;
  spotguard::v1::WithdrawNoticeRequest withdraw;
};

class FakeEvictionService final : public spotguard::v1::EvictionService::Service {
 public:
  // Serves on 127.0.0.1:`port` (0 = any free port); over TLS with a certificate in `tls`.
  explicit FakeEvictionService(int port = 0, const tls::Files& tls = {});
  ~FakeEvictionService() override;

  std::string address() const;
  int port() const { return port_; }

  std::vector<ReceivedCall> calls() const;
  // Waits (real time, bounded) until `pred(calls)` holds.
  bool WaitFor(const std::function<bool(const std::vector<ReceivedCall>&)>& pred,
               absl::Duration timeout = absl::Seconds(30)) const;

  grpc::Status ReportNotice(grpc::ServerContext* ctx, const spotguard::v1::ReportNoticeRequest* req,
                            spotguard::v1::ReportNoticeResponse* res) override;
  grpc::Status WithdrawNotice(grpc::ServerContext* ctx, const spotguard::v1::WithdrawNoticeRequest* req,
                              spotguard::v1::WithdrawNoticeResponse* res) override;

 private:
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  mutable absl::Mutex mu_;
  std::vector<ReceivedCall> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace spotguard::testing
