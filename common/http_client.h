// A small HTTP/1.1 client for one server: the Kubernetes API server (TLS, client
// certificates) and the instance metadata services (plain HTTP, link-local).
//
// Thread-safe: each call borrows a keep-alive connection from a pool, so concurrent calls
// run in parallel. Every response body is bounded (max_response_bytes): a bigger body is
// an error and is never held in memory whole.
//
// Example:
//   auto http = NewHttpClient({.base_url = "http://169.254.169.254"});
//   auto res = (*http)->Send({.method = "GET", .path = "/latest/meta-data/spot/instance-action",
//                            .timeout = absl::Seconds(2)});
//   // res->status == 404 when there is no notice
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"

namespace spotguard {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string path;  // including the query string, already escaped
  HttpHeaders headers;
  std::string body;
  std::string content_type;
  absl::Duration timeout = absl::Seconds(30);
  size_t max_response_bytes = 64 << 20;
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;

  // The first header named `name` (case-insensitive), or "".
  std::string Header(absl::string_view name) const;
};

struct TlsOptions {
  std::string ca_pem;           // trust only these CAs; empty = the system's store
  std::string client_cert_pem;  // mutual TLS, with client_key_pem
  std::string client_key_pem;
  bool insecure_skip_verify = false;
};

struct HttpClientOptions {
  std::string base_url;  // http://host:port or https://host:port
  TlsOptions tls;
  absl::Duration connect_timeout = absl::Seconds(5);
  size_t max_idle_connections = 16;
  // Requests (not streams) in flight at once; more wait for one to finish, reusing its
  // connection rather than opening (and for TLS, handshaking) yet another. 0 = no limit.
  size_t max_connections = 0;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;

  // One request. A non-2xx status is not an error here. Errors: kUnavailable (cannot
  // connect, connection reset), kDeadlineExceeded (timeout), kResourceExhausted (body over
  // the limit), kInvalidArgument (bad request).
  virtual absl::StatusOr<HttpResponse> Send(const HttpRequest& req) = 0;

  // A streaming request (watches): `on_data` gets the body as it arrives and may return
  // false to end the stream. Returns the HTTP status once the stream ends; a non-2xx body
  // is collected into `error_body` instead. `stop` ends the stream early (returns
  // kCancelled).
  virtual absl::StatusOr<int> Stream(const HttpRequest& req,
                                     const std::function<bool(absl::string_view)>& on_data,
                                     std::string* error_body, const StopSignal& stop) = 0;
};

absl::StatusOr<std::unique_ptr<HttpClient>> NewHttpClient(HttpClientOptions options);

// Makes SIGPIPE harmless for the whole process (once). Called by NewHttpClient and
// HttpServer; socket writes to a closed peer then fail with EPIPE instead.
void IgnoreSigpipe();

// Percent-encodes a query parameter value.
std::string UrlEncode(absl::string_view s);

}  // namespace spotguard
