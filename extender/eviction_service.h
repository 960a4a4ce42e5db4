// EvictionService (proto/spotguard/v1/eviction.proto): the agents' fast channel.
//
// Every call is authenticated (Authenticator): a missing or invalid token is
// UNAUTHENTICATED; a token whose pod does not run on the node the request is about is
// PERMISSION_DENIED — an agent speaks only for its own node; a peer past its budget of
// failed authentications is RESOURCE_EXHAUSTED. Requests are validated
// (INVALID_ARGUMENT naming the field) and idempotent by notice id: a repeat is a success
// with first_report = false.
#pragma once

#include <memory>
#include <string>

#include "common/tls.h"
#include "extender/authenticator.h"
#include "extender/cluster_state.h"
#include "extender/metrics.h"
#include "grpcpp/grpcpp.h"
#include "spotguard/v1/eviction.grpc.pb.h"

namespace spotguard::extender {

class EvictionService final : public spotguard::v1::EvictionService::Service {
 public:
  EvictionService(Authenticator& auth, ClusterState& state, ExtenderMetrics& metrics);

  grpc::Status ReportNotice(grpc::ServerContext* ctx, const spotguard::v1::ReportNoticeRequest* req,
                            spotguard::v1::ReportNoticeResponse* res) override;
  grpc::Status WithdrawNotice(grpc::ServerContext* ctx, const spotguard::v1::WithdrawNoticeRequest* req,
                              spotguard::v1::WithdrawNoticeResponse* res) override;

  // The checks without gRPC, for tests: `authorization` is the metadata value, `peer` the
  // caller's address as gRPC names it ("ipv4:10.0.0.5:41234").
  grpc::Status Report(absl::string_view authorization, const spotguard::v1::ReportNoticeRequest& req,
                      spotguard::v1::ReportNoticeResponse* res, absl::string_view peer = "");
  grpc::Status Withdraw(absl::string_view authorization, const spotguard::v1::WithdrawNoticeRequest& req,
                        spotguard::v1::WithdrawNoticeResponse* res, absl::string_view peer = "");

 private:
  absl::Status Authorize(absl::string_view authorization, absl::string_view peer, const std::string& node);

  Authenticator& auth_;
  ClusterState& state_;
  ExtenderMetrics& metrics_;
};

// The NoticeRecord of a wire message, validated by the notice contract.
absl::StatusOr<NoticeRecord> FromProto(const spotguard::v1::ReportNoticeRequest& req);

// Serves `service` on `address` ("host:port", port 0 = any). With a certificate in `tls`,
// over TLS only, the files re-read when they rotate, and with its CA file a client
// certificate chaining to it required; without one, in plaintext.
struct GrpcServerOptions {
  std::string address = ":8889";
  tls::Files tls;
};
absl::StatusOr<std::unique_ptr<grpc::Server>> StartGrpcServer(const GrpcServerOptions& options,
                                                              grpc::Service* service, int* bound_port);

}  // namespace spotguard::extender
