#include "common/http_server.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/http_client.h"
#include "common/log.h"
#include "nlohmann/json.hpp"

namespace spotguard {

absl::StatusOr<HostPort> ParseHostPort(absl::string_view address) {
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", address, "' must look like host:port or :port"));
  }
  HostPort hp;
  hp.host = std::string(address.substr(0, colon));
  if (hp.host.size() >= 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  if (hp.host.empty()) hp.host = "0.0.0.0";
  if (!absl::SimpleAtoi(address.substr(colon + 1), &hp.port) || hp.port < 0 || hp.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("address '", address, "' has a bad port"));
  }
  return hp;
}

namespace {
std::unique_ptr<httplib::Server> NewServer(const std::shared_ptr<tls::ServerContext>& tls) {
  if (tls == nullptr) return std::make_unique<httplib::Server>();
  return std::make_unique<httplib::SSLServer>([tls](SSL_CTX& ctx) { return tls->Configure(ctx); });
}
}  // namespace

HttpServer::HttpServer(HttpServerOptions options) : options_(std::move(options)), server_(NewServer(options_.tls)) {
  IgnoreSigpipe();
  int threads = options_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_tcp_nodelay(true);
  // cpp-httplib's default adds SO_REUSEPORT, which would let a second process bind the
  // same port and silently take half the traffic. Only SO_REUSEADDR (fast restarts).
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server_->set_keep_alive_timeout(absl::ToInt64Seconds(options_.keep_alive));
  server_->set_keep_alive_max_count(options_.keep_alive_max_requests);
  server_->set_read_timeout(absl::ToInt64Seconds(options_.read_timeout));
  server_->set_write_timeout(absl::ToInt64Seconds(options_.write_timeout));
  server_->set_payload_max_length(options_.max_body_bytes);
  server_->set_exception_handler([](const httplib::Request& req, httplib::Response& res,
                                   std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log::Error("http handler failed", {{"path", req.path}, {"error", what}});
    SetJson(res, nlohmann::json{{"Error", "internal error: " + what}}.dump(), 500);
  });
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::ServeMetrics(const MetricsRegistry& registry) {
  server_->Get("/metrics", [&registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry.Serialize(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

void HttpServer::ServeProbes(std::function<absl::Status()> healthy,
                             std::function<absl::Status()> ready) {
  auto probe = [](std::function<absl::Status()> check) {
    return [check = std::move(check)](const httplib::Request&, httplib::Response& res) {
      absl::Status s = check();
      res.status = s.ok() ? 200 : 503;
      res.set_content(s.ok() ? "ok\n" : std::string(s.message()) + "\n", "text/plain; charset=utf-8");
    };
  };
  server_->Get("/healthz", probe(std::move(healthy)));
  server_->Get("/readyz", probe(std::move(ready)));
}

absl::Status HttpServer::Start() {
  absl::StatusOr<HostPort> hp = ParseHostPort(options_.address);
  if (!hp.ok()) return hp.status();
  host_ = hp->host;
  if (!server_->is_valid()) return absl::InvalidArgumentError(absl::StrCat("cannot set up TLS for ", options_.address));
  if (hp->port == 0) {
    port_ = server_->bind_to_any_port(host_);
    if (port_ < 0) port_ = 0;
  } else if (server_->bind_to_port(host_, hp->port)) {
    port_ = hp->port;
  }
  if (port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.address));
  }
  // bind_to_port already listens, so connections queue in the backlog from here on.
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // stop() is a no-op until the accept loop runs, so do not return before it does.
  while (!server_->is_running()) std::this_thread::yield();
  return absl::OkStatus();
}

std::string HttpServer::BoundAddress() const {
  std::string host = host_ == "0.0.0.0" || host_.empty() ? "127.0.0.1" : host_;
  return absl::StrCat(host, ":", port_);
}

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

void SetJson(httplib::Response& res, std::string body, int status) {
  res.status = status;
  // Served from the string itself: set_content() would copy it (an extender answer is
  // hundreds of KiB).
  auto owned = std::make_shared<const std::string>(std::move(body));
  res.set_content_provider(owned->size(), "application/json; charset=utf-8",
                           [owned](size_t offset, size_t length, httplib::DataSink& sink) {
                             return sink.write(owned->data() + offset, length);
                           });
}

}  // namespace spotguard
