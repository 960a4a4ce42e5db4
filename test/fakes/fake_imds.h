// A scripted instance-metadata server on loopback (port 0), standing in for Azure IMDS and
// the GCP metadata server in tests, and for the faults real ones cannot be made to produce:
// 429/500 answers, malformed or oversized bodies, a body that stalls halfway.
//
// FakeAzureScheduledEvents serves the documented Scheduled Events schema on top of it:
// tests add, start and remove events; DocumentIncarnation moves with every change;
// StartRequests POSTs are recorded.
//
// Example:
//   FakeImds imds;
//   imds.Set("/computeMetadata/v1/instance/preempted", {.body = "TRUE"});
//   imds.RequireHeader("Metadata-Flavor", "Google", 403);
//   // point the source at imds.url()
#pragma once

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace spotguard::testing {

struct FakeResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  bool stall = false;  // send half the body, then hang until the server stops
};

class FakeImds {
 public:
  FakeImds();
  virtual ~FakeImds();

  std::string url() const;
  int port() const { return port_; }

  // The answer for GET `path` (query string included, as clients send it). Unknown paths 404.
  void Set(const std::string& path, FakeResponse response);
  // Requests lacking this header get `status` (Azure: Metadata: true → 400; GCP: 403).
  void RequireHeader(std::string name, std::string value, int status);
  // Everything that arrived, as "METHOD path".
  std::vector<std::string> requests() const;
  int count(const std::string& method_and_path) const;

 protected:
  httplib::Server& server() { return server_; }
  // Answers a request; subclasses add routes by overriding.
  virtual bool Handle(const httplib::Request& req, httplib::Response& res);
  void Record(const httplib::Request& req);
  // Stops the server (idempotent); subclasses call it first in their destructor so no
  // request reaches them half-destroyed.
  void StopServing();

  mutable absl::Mutex mu_;

 private:
  httplib::Server server_;
  StopSignal stop_;
  int port_ = 0;
  std::thread thread_;
  std::map<std::string, FakeResponse> routes_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> requests_ ABSL_GUARDED_BY(mu_);
  std::string required_name_ ABSL_GUARDED_BY(mu_), required_value_ ABSL_GUARDED_BY(mu_);
  int required_status_ ABSL_GUARDED_BY(mu_) = 0;
};

struct AzureEvent {
  std::string id;
  std::string type = "Preempt";  // Preempt | Terminate | Reboot | Redeploy | Freeze
  std::vector<std::string> resources;
  std::string status = "Scheduled";  // Scheduled | Started
  std::string not_before;            // RFC 1123; "" once Started
  std::string description = "Virtual machine is being preempted.";
  int duration_seconds = -1;
};

class FakeAzureScheduledEvents : public FakeImds {
 public:
  FakeAzureScheduledEvents();
  ~FakeAzureScheduledEvents() override { StopServing(); }

  void Add(const AzureEvent& event);
  void Remove(const std::string& id);
  // Serve this document verbatim instead (malformed-input tests); "" goes back to events.
  void SetRawDocument(std::string body, int status = 200);
  // Forces the next document's incarnation (to make it go backwards).
  void SetIncarnation(int64_t incarnation);
  int64_t incarnation() const;
  // EventIds approved with POST {"StartRequests": [...]}.
  std::vector<std::string> started() const;
  // Waits (real time, bounded) until `id` has been approved.
  bool WaitForStarted(const std::string& id, absl::Duration timeout = absl::Seconds(30)) const;

  static std::string Rfc1123(absl::Time t);

 protected:
  bool Handle(const httplib::Request& req, httplib::Response& res) override;

 private:
  std::vector<AzureEvent> events_ ABSL_GUARDED_BY(mu_);
  int64_t incarnation_ ABSL_GUARDED_BY(mu_) = 1;
  std::string raw_ ABSL_GUARDED_BY(mu_);
  int raw_status_ ABSL_GUARDED_BY(mu_) = 200;
  std::vector<std::string> started_ ABSL_GUARDED_BY(mu_);
};

}  // namespace spotguard::testing
