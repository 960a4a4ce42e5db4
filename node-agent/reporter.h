// Reporter: tells the extender about notices over gRPC (EvictionService), authenticated
// with the agent's projected ServiceAccount token ("authorization: Bearer <token>"),
// re-read from its file on every call because the kubelet rotates it.
//
// The channel is TLS unless plaintext is asked for explicitly.
//
// One attempt per call; the Responder retries until acknowledged or past the deadline.
// The gRPC channel is created on the first call (an agent that never sees a notice never
// starts gRPC).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/kube/node_facts.h"
#include "common/grpc/credentials.h"
#include "node-agent/notice.h"

namespace spotguard::agent {

class Reporter {
 public:
  virtual ~Reporter() = default;
  virtual absl::Status Report(const kube::NodeFacts& node, const Notice& notice) = 0;
  virtual absl::Status Withdraw(const kube::NodeFacts& node, const Notice& notice) = 0;
};

struct GrpcReporterOptions {
  std::string address;     // host:port of the extender's EvictionService
  std::string token_path;  // projected ServiceAccount token
  absl::Duration timeout = absl::Seconds(5);
  grpc_tls::ChannelOptions channel;  // TLS unless channel.plaintext
};

std::unique_ptr<Reporter> NewGrpcReporter(GrpcReporterOptions options);

// Converts a gRPC status into an absl::Status with the same code and message.
absl::Status FromGrpc(int code, const std::string& message, absl::string_view what);

v1::NodeFacts ToProto(const kube::NodeFacts& node);

}  // namespace spotguard::agent
