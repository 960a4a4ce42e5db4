// The HTTP server both daemons expose: /metrics, /healthz, /readyz, plus whatever routes
// the daemon adds (the extender's /filter and /prioritize).
//
// Built on cpp-httplib's thread-per-connection server. Tuned for Go HTTP clients such as
// kube-scheduler's: keep-alive outlives Go's 90 s idle timeout (Go does not retry a POST on
// a connection the server closed), TCP_NODELAY, a bounded body size, and no response
// compression (see SetJson).
//
// With `tls` set it serves HTTPS only (common/tls.h: a client certificate is required when
// the context has a CA).
//
// Example:
//   HttpServer server({.address = "127.0.0.1:0"});
//   server.ServeMetrics(registry);
//   server.ServeProbes([] { return absl::OkStatus(); }, [&] { return state.Ready(); });
//   RETURN_IF_ERROR(server.Start());   // server.port() is now the bound port
//   ...
//   server.Stop();                     // finishes in-flight requests, then returns
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/strings/string_view.h"
#include "common/metrics.h"
#include "common/tls.h"
#include "httplib.h"

namespace spotguard {

struct HostPort {
  std::string host;
  int port = 0;
};
// Parses "host:port", ":port" (all interfaces) or "[v6]:port".
absl::StatusOr<HostPort> ParseHostPort(absl::string_view address);

struct HttpServerOptions {
  std::string address = "0.0.0.0:8080";
  int threads = 8;  // connections served at once (keep-alive connections hold one each)
  absl::Duration keep_alive = absl::Seconds(120);
  int keep_alive_max_requests = 100000;
  absl::Duration read_timeout = absl::Seconds(10);
  absl::Duration write_timeout = absl::Seconds(10);
  size_t max_body_bytes = 64 << 20;
  std::shared_ptr<tls::ServerContext> tls;  // null: plain HTTP
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();

  // Add routes before Start(). Handlers run on the server's threads.
  httplib::Server& routes() { return *server_; }

  void ServeMetrics(const MetricsRegistry& registry);
  // /healthz and /readyz answer 200 "ok" when the check returns OK, else 503 with its message.
  void ServeProbes(std::function<absl::Status()> healthy, std::function<absl::Status()> ready);

  // Binds (port 0 picks a free port) and starts serving on a background thread.
  absl::Status Start();
  int port() const { return port_; }
  // The address clients should use, e.g. "127.0.0.1:41234".
  std::string BoundAddress() const;
  // Stops accepting, lets in-flight requests finish, joins the threads. Idempotent.
  void Stop();

 private:
  HttpServerOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string host_;
  int port_ = 0;
};

// Sets a JSON body. The content type carries a charset parameter, which also keeps
// cpp-httplib from gzip-compressing the response when Go's client offers
// "Accept-Encoding: gzip": on loopback and pod networks compression only adds latency.
void SetJson(httplib::Response& res, std::string body, int status = 200);

}  // namespace spotguard
