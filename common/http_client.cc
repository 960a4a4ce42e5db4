#include "common/http_client.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <csignal>
#include <deque>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "httplib.h"

namespace spotguard {

std::string HttpResponse::Header(absl::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

std::string UrlEncode(absl::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

void IgnoreSigpipe() {
  // OpenSSL writes with write(2): a peer that hung up (a stopped watch, a restarted API
  // server) would otherwise kill the process with SIGPIPE instead of failing one call.
  static std::once_flag once;
  std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

namespace {

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PKeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// Reads every certificate in a PEM bundle.
absl::StatusOr<std::vector<std::unique_ptr<X509, X509Deleter>>> ParseCerts(const std::string& pem,
                                                                           absl::string_view what) {
  std::vector<std::unique_ptr<X509, X509Deleter>> certs;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) certs.emplace_back(x);
  BIO_free(bio);
  if (certs.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " holds no PEM certificate"));
  return certs;
}

absl::Status ConnectionError(httplib::Error err, const std::string& base_url) {
  std::string what = absl::StrCat(httplib::to_string(err), " (", base_url, ")");
  switch (err) {
    case httplib::Error::Read:
    case httplib::Error::Write:
    case httplib::Error::ConnectionTimeout:
      return absl::DeadlineExceededError(what);
    case httplib::Error::Canceled:
      return absl::CancelledError(what);
    default:
      return absl::UnavailableError(what);
  }
}

class HttplibClient final : public HttpClient {
 public:
  HttplibClient(HttpClientOptions options, std::string host, int port, bool tls)
      : options_(std::move(options)), host_(std::move(host)), port_(port), tls_(tls) {}

  absl::Status Init() {
    if (!tls_) return absl::OkStatus();
    if (!options_.tls.ca_pem.empty()) {
      auto certs = ParseCerts(options_.tls.ca_pem, "the CA bundle");
      if (!certs.ok()) return certs.status();
      ca_ = std::move(*certs);
    }
    if (!options_.tls.client_cert_pem.empty() || !options_.tls.client_key_pem.empty()) {
      auto certs = ParseCerts(options_.tls.client_cert_pem, "the client certificate");
      if (!certs.ok()) return certs.status();
      cert_ = std::move((*certs)[0]);
      BIO* bio = BIO_new_mem_buf(options_.tls.client_key_pem.data(),
                                 static_cast<int>(options_.tls.client_key_pem.size()));
      key_.reset(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
      BIO_free(bio);
      if (!key_) return absl::InvalidArgumentError("the client key is not a PEM private key");
    }
    // Fail at start-up, not on the first request, if the TLS setup is unusable.
    auto probe = NewConnection();
    if (!probe->is_valid()) return absl::InvalidArgumentError("TLS client setup failed");
    Release(std::move(probe));
    return absl::OkStatus();
  }

  absl::StatusOr<HttpResponse> Send(const HttpRequest& req) override {
    InFlight slot(*this, req.timeout);
    if (!slot.ok()) {
      return absl::DeadlineExceededError(absl::StrCat(req.method, " ", req.path, ": all ", options_.max_connections,
                                                      " connections busy for ", absl::FormatDuration(req.timeout)));
    }
    std::unique_ptr<httplib::ClientImpl> conn = Acquire();
    Configure(*conn, req.timeout);
    httplib::Request hreq = ToHttplib(req);
    HttpResponse out;
    bool too_big = false, too_slow = false;
    // Socket timeouts bound each read; this bounds the whole body (a trickling server).
    const absl::Time deadline = absl::Now() + req.timeout;
    hreq.response_handler = [&](const httplib::Response& r) {
      out.status = r.status;
      for (const auto& [k, v] : r.headers) out.headers.emplace_back(k, v);
      return true;
    };
    hreq.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
      if (out.body.size() + len > req.max_response_bytes) {
        too_big = true;
        return false;
      }
      if (absl::Now() > deadline) {
        too_slow = true;
        return false;
      }
      out.body.append(data, len);
      return true;
    };
    httplib::Response hres;
    httplib::Error err = httplib::Error::Success;
    bool ok = conn->send(hreq, hres, err);
    if (too_big) {
      // The connection is mid-body: drop it.
      return absl::ResourceExhaustedError(absl::StrCat("response body of ", req.method, " ", req.path,
                                                       " exceeds ", req.max_response_bytes, " bytes"));
    }
    if (too_slow) {
      return absl::DeadlineExceededError(absl::StrCat(req.method, " ", req.path, ": body not complete within ",
                                                      absl::FormatDuration(req.timeout)));
    }
    if (!ok) return ConnectionError(err, options_.base_url);
    if (out.status == 0) out.status = hres.status;
    Release(std::move(conn));
    return out;
  }

  absl::StatusOr<int> Stream(const HttpRequest& req,
                             const std::function<bool(absl::string_view)>& on_data,
                             std::string* error_body, const StopSignal& stop) override {
    // A dedicated connection: stopping it must not disturb pooled ones.
    std::unique_ptr<httplib::ClientImpl> conn = NewConnection();
    Configure(*conn, req.timeout);
    httplib::ClientImpl* raw = conn.get();
    auto handle = stop.Subscribe([raw] { raw->stop(); });
    if (stop.stopped()) {  // stopped before the connection existed: stop() had nothing to close
      stop.Unsubscribe(handle);
      return absl::CancelledError("stream stopped");
    }
    httplib::Request hreq = ToHttplib(req);
    int status = 0;
    bool too_big = false;
    hreq.response_handler = [&](const httplib::Response& r) {
      status = r.status;
      return true;
    };
    hreq.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
      if (stop.stopped()) return false;
      if (status / 100 == 2) return on_data(absl::string_view(data, len));
      if (error_body->size() + len > req.max_response_bytes) {
        too_big = true;
        return false;
      }
      error_body->append(data, len);
      return true;
    };
    httplib::Response hres;
    httplib::Error err = httplib::Error::Success;
    bool ok = conn->send(hreq, hres, err);
    stop.Unsubscribe(handle);
    if (stop.stopped()) return absl::CancelledError("stream stopped");
    if (too_big) return absl::ResourceExhaustedError("error body over the limit");
    // A receiver that returned false ends the request with Error::Canceled: a normal end.
    if (!ok && err != httplib::Error::Canceled) return ConnectionError(err, options_.base_url);
    return status;
  }

 private:
  std::unique_ptr<httplib::ClientImpl> NewConnection() {
    std::unique_ptr<httplib::ClientImpl> c;
    if (tls_) {
      auto ssl = cert_ ? std::make_unique<httplib::SSLClient>(host_, port_, cert_.get(), key_.get())
                       : std::make_unique<httplib::SSLClient>(host_, port_);
      if (!ca_.empty()) {
        X509_STORE* store = X509_STORE_new();  // owned by the SSL context from here
        for (const auto& x : ca_) X509_STORE_add_cert(store, x.get());
        ssl->set_ca_cert_store(store);
      }
      if (!ca_.empty() && !options_.tls.insecure_skip_verify) {
        // Trust exactly these CAs, verified by OpenSSL in the handshake. (cpp-httplib's own
        // verification would also load the system's whole CA bundle into the store — trusting
        // it, and parsing it on every new connection.)
        ssl->enable_server_certificate_verification(false);
        SSL_CTX* ctx = ssl->ssl_context();
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        in6_addr ip;
        const bool is_ip = inet_pton(AF_INET, host_.c_str(), &ip) == 1 || inet_pton(AF_INET6, host_.c_str(), &ip) == 1;
        const int set = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host_.c_str())
                              : X509_VERIFY_PARAM_set1_host(param, host_.c_str(), host_.size());
        if (set != 1) SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 0; });  // fail closed
      } else {
        ssl->enable_server_certificate_verification(!options_.tls.insecure_skip_verify);
      }
      c = std::move(ssl);
    } else {
      c = std::make_unique<httplib::ClientImpl>(host_, port_);
    }
    c->set_keep_alive(true);
    c->set_tcp_nodelay(true);
    c->set_decompress(true);
    auto ct = options_.connect_timeout;
    c->set_connection_timeout(absl::ToInt64Seconds(ct), absl::ToInt64Microseconds(ct) % 1000000);
    return c;
  }

  static void Configure(httplib::ClientImpl& c, absl::Duration timeout) {
    int64_t s = absl::ToInt64Seconds(timeout);
    int64_t us = absl::ToInt64Microseconds(timeout) % 1000000;
    c.set_read_timeout(s, us);
    c.set_write_timeout(s, us);
  }

  static httplib::Request ToHttplib(const HttpRequest& req) {
    httplib::Request h;
    h.method = req.method;
    h.path = req.path;
    for (const auto& [k, v] : req.headers) h.headers.emplace(k, v);
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
      h.body = req.body;
      if (!req.content_type.empty()) h.headers.emplace("Content-Type", req.content_type);
    }
    return h;
  }

  // One of max_connections request slots, held for a Send; waits at most `timeout` for one.
  class InFlight {
   public:
    InFlight(HttplibClient& c, absl::Duration timeout) : c_(c) {
      if (c_.options_.max_connections == 0) return;
      absl::MutexLock lock(&c_.mu_);
      auto free = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(c_.mu_) { return c_.in_flight_ < c_.options_.max_connections; };
      if (!c_.mu_.AwaitWithTimeout(absl::Condition(&free), timeout)) return;
      ++c_.in_flight_;
      held_ = true;
    }
    ~InFlight() {
      if (!held_) return;
      absl::MutexLock lock(&c_.mu_);
      --c_.in_flight_;
    }
    bool ok() const { return held_ || c_.options_.max_connections == 0; }

   private:
    HttplibClient& c_;
    bool held_ = false;
  };

  std::unique_ptr<httplib::ClientImpl> Acquire() {
    {
      absl::MutexLock lock(&mu_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    return NewConnection();
  }

  void Release(std::unique_ptr<httplib::ClientImpl> c) {
    absl::MutexLock lock(&mu_);
    if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(c));
  }

  HttpClientOptions options_;
  std::string host_;
  int port_;
  bool tls_;
  std::vector<std::unique_ptr<X509, X509Deleter>> ca_;
  std::unique_ptr<X509, X509Deleter> cert_;
  std::unique_ptr<EVP_PKEY, PKeyDeleter> key_;
  absl::Mutex mu_;
  std::deque<std::unique_ptr<httplib::ClientImpl>> idle_ ABSL_GUARDED_BY(mu_);
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpClient>> NewHttpClient(HttpClientOptions options) {
  IgnoreSigpipe();
  absl::string_view url = options.base_url;
  bool tls;
  if (absl::StartsWith(url, "https://")) {
    tls = true;
    url.remove_prefix(8);
  } else if (absl::StartsWith(url, "http://")) {
    tls = false;
    url.remove_prefix(7);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("URL '", options.base_url, "' must start with http:// or https://"));
  }
  if (size_t slash = url.find('/'); slash != absl::string_view::npos) url = url.substr(0, slash);
  std::string host(url);
  int port = tls ? 443 : 80;
  size_t colon = url.rfind(':');
  if (colon != absl::string_view::npos && url.find(']', colon) == absl::string_view::npos) {
    host = std::string(url.substr(0, colon));
    if (!absl::SimpleAtoi(url.substr(colon + 1), &port)) {
      return absl::InvalidArgumentError(absl::StrCat("URL '", options.base_url, "' has a bad port"));
    }
  }
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty()) return absl::InvalidArgumentError(absl::StrCat("URL '", options.base_url, "' has no host"));
  auto client = std::make_unique<HttplibClient>(std::move(options), std::move(host), port, tls);
  if (absl::Status s = client->Init(); !s.ok()) return s;
  return client;
}

}  // namespace spotguard
