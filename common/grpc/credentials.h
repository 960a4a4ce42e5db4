// gRPC credentials from TLS files (common/tls.h), re-read by gRPC when they rotate.
//
// Example:
//   builder.AddListeningPort(address, grpc_tls::ServerCredentials(files), &port);
//   auto channel = grpc_tls::NewChannel("extender:8889", {.ca_file = "ca.crt"});
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/tls.h"
#include "grpcpp/grpcpp.h"

namespace spotguard::grpc_tls {

// A server's: TLS with `files`' certificate, and with its CA a client certificate chaining to
// it required; plaintext when `files` has no certificate. An error names a file that does not
// load (tls::Check).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const tls::Files& files);

struct ChannelOptions {
  // The server's certificate is verified against tls.ca_file and must name `server_name`
  // (default: the host of the address); tls.cert_file and tls.key_file, when given, are
  // presented as the client's certificate.
  tls::Files tls;
  std::string server_name;
  bool plaintext = false;  // no TLS at all
};

// A channel to `address` (made lazily by gRPC: nothing is checked or connected here).
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address, const ChannelOptions& options,
                                          grpc::ChannelArguments args = {});

}  // namespace spotguard::grpc_tls
