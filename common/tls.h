// TLS for the servers spotguard runs: certificate, key and client CA from PEM files,
// re-read when they change on disk (cert-manager and the kubelet rotate them in place).
//
// Example:
//   tls::Files files{.cert_file = "tls.crt", .key_file = "tls.key", .ca_file = "ca.crt"};
//   ASSIGN_OR_RETURN(auto ctx, tls::ServerContext::Create(files, RealClock::Get()));
//   ctx->OnAlert([](absl::string_view alert) { failures.Increment(alert); });
//   HttpServer server({.address = ":8888", .tls = ctx});   // HTTPS, client certificate required
#pragma once

#include <openssl/ssl.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace spotguard::tls {

struct Files {
  std::string cert_file;  // PEM certificate chain, leaf first
  std::string key_file;   // PEM private key of the leaf
  // PEM CA bundle. A server requires client certificates chaining to it ("" = asks for none);
  // a client verifies the server's certificate against it.
  std::string ca_file;
};

// Reads `files` now: the chain and key parse and match, the CA bundle holds at least one
// certificate. An error names the file and what is wrong with it.
absl::Status Check(const Files& files);

// An OpenSSL server context's settings: TLS 1.2 or later, the certificate from `files` and,
// with a CA file, a client certificate required and verified against it. Handshakes use
// the files as they were at most `recheck` ago; a rotation that fails to parse (a file
// caught half-written) keeps the previous material and is tried again at the next check.
class ServerContext {
 public:
  static absl::StatusOr<std::shared_ptr<ServerContext>> Create(Files files, Clock& clock,
                                                               absl::Duration recheck = absl::Seconds(10));
  ~ServerContext();

  // Applies the settings to `ctx` (cpp-httplib's SSLServer set-up callback). `ctx` keeps a
  // pointer to this object: it must outlive the server.
  bool Configure(SSL_CTX& ctx);
  // Called with the alert's description ("certificate required", "unknown CA", ...) for
  // every fatal alert this side sends: a handshake refused.
  void OnAlert(std::function<void(absl::string_view)> fn) { on_alert_ = std::move(fn); }
  bool requires_client_certificate() const { return !files_.ca_file.empty(); }
  // How many times the files were found changed and loaded (for tests and logs).
  int reloads() const;

  struct Material;

 private:
  ServerContext(Files files, Clock& clock, absl::Duration recheck, std::shared_ptr<const Material> material);
  std::shared_ptr<const Material> Current();
  static int SelectCertificate(SSL* ssl, void* arg);
  static void Info(const SSL* ssl, int where, int ret);

  const Files files_;
  Clock& clock_;
  const absl::Duration recheck_;
  std::function<void(absl::string_view)> on_alert_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Material> material_ ABSL_GUARDED_BY(mu_);
  absl::Time checked_ ABSL_GUARDED_BY(mu_);
  int reloads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace spotguard::tls
