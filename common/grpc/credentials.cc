#include "common/grpc/credentials.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace spotguard::grpc_tls {
namespace {

constexpr unsigned kRecheckSeconds = 10;  // as tls::ServerContext's default

std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> Provider(const tls::Files& f) {
  using grpc::experimental::FileWatcherCertificateProvider;
  if (f.cert_file.empty()) return std::make_shared<FileWatcherCertificateProvider>(f.ca_file, kRecheckSeconds);
  if (f.ca_file.empty()) {
    return std::make_shared<FileWatcherCertificateProvider>(f.key_file, f.cert_file, kRecheckSeconds);
  }
  return std::make_shared<FileWatcherCertificateProvider>(f.key_file, f.cert_file, f.ca_file, kRecheckSeconds);
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const tls::Files& f) {
  if (f.cert_file.empty()) return grpc::InsecureServerCredentials();
  if (absl::Status s = tls::Check(f); !s.ok()) return absl::InvalidArgumentError(absl::StrCat("gRPC TLS: ", s.message()));
  grpc::experimental::TlsServerCredentialsOptions options(Provider(f));
  options.watch_identity_key_cert_pairs();
  if (f.ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address, const ChannelOptions& o,
                                          grpc::ChannelArguments args) {
  if (o.plaintext) return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Provider(o.tls));
  options.watch_root_certs();
  if (!o.tls.cert_file.empty()) options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  if (!o.server_name.empty()) args.SetSslTargetNameOverride(o.server_name);
  return grpc::CreateCustomChannel(address, grpc::experimental::TlsCredentials(options), args);
}

}  // namespace spotguard::grpc_tls
