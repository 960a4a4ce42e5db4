#include "test/fakes/fake_imds.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace spotguard::testing {

FakeImds::FakeImds() {
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    Record(req);
    std::string name, value;
    int status;
    {
      absl::MutexLock lock(&mu_);
      name = required_name_;
      value = required_value_;
      status = required_status_;
    }
    if (!name.empty() && req.get_header_value(name) != value) {
      res.status = status;
      res.set_content(absl::StrCat("missing header ", name), "text/plain");
      return;
    }
    if (!Handle(req, res)) {
      res.status = 404;
      res.set_content("<html><body><h1>404 - Not Found</h1></body></html>", "text/html");
    }
  };
  server_.Get(".*", handler);
  server_.Post(".*", handler);
  server_.Put(".*", handler);
  port_ = server_.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  while (!server_.is_running()) std::this_thread::yield();
}

FakeImds::~FakeImds() { StopServing(); }

void FakeImds::StopServing() {
  stop_.Stop();
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

std::string FakeImds::url() const { return absl::StrCat("http://127.0.0.1:", port_); }

void FakeImds::Set(const std::string& path, FakeResponse response) {
  absl::MutexLock lock(&mu_);
  routes_[path] = std::move(response);
}

void FakeImds::RequireHeader(std::string name, std::string value, int status) {
  absl::MutexLock lock(&mu_);
  required_name_ = std::move(name);
  required_value_ = std::move(value);
  required_status_ = status;
}

void FakeImds::Record(const httplib::Request& req) {
  std::string target = req.target.empty() ? req.path : req.target;
  absl::MutexLock lock(&mu_);
  requests_.push_back(absl::StrCat(req.method, " ", target));
}

std::vector<std::string> FakeImds::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

int FakeImds::count(const std::string& method_and_path) const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const auto& r : requests_) n += r == method_and_path;
  return n;
}

bool FakeImds::Handle(const httplib::Request& req, httplib::Response& res) {
  std::string target = req.target.empty() ? req.path : req.target;
  FakeResponse r;
  {
    absl::MutexLock lock(&mu_);
    auto it = routes_.find(target);
    if (it == routes_.end()) it = routes_.find(req.path);
    if (it == routes_.end()) return false;
    r = it->second;
  }
  res.status = r.status;
  for (const auto& [k, v] : r.headers) res.set_header(k, v);
  if (!r.stall) {
    res.set_content(r.body, r.content_type);
    return true;
  }
  auto body = std::make_shared<std::string>(r.body);
  res.set_chunked_content_provider(r.content_type, [this, body](size_t, httplib::DataSink& sink) {
    sink.write(body->data(), body->size() / 2);
    stop_.WaitUntil(absl::InfiniteFuture());  // until the server stops
    return false;
  });
  return true;
}

// --- Azure ---------------------------------------------------------------------------------

FakeAzureScheduledEvents::FakeAzureScheduledEvents() { RequireHeader("Metadata", "true", 400); }

std::string FakeAzureScheduledEvents::Rfc1123(absl::Time t) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", t, absl::UTCTimeZone());
}

void FakeAzureScheduledEvents::Add(const AzureEvent& event) {
  absl::MutexLock lock(&mu_);
  for (auto& e : events_) {
    if (e.id == event.id) {
      e = event;
      ++incarnation_;
      return;
    }
  }
  events_.push_back(event);
  ++incarnation_;
}

void FakeAzureScheduledEvents::Remove(const std::string& id) {
  absl::MutexLock lock(&mu_);
  std::erase_if(events_, [&](const AzureEvent& e) { return e.id == id; });
  ++incarnation_;
}

void FakeAzureScheduledEvents::SetRawDocument(std::string body, int status) {
  absl::MutexLock lock(&mu_);
  raw_ = std::move(body);
  raw_status_ = status;
}

void FakeAzureScheduledEvents::SetIncarnation(int64_t incarnation) {
  absl::MutexLock lock(&mu_);
  incarnation_ = incarnation;
}

int64_t FakeAzureScheduledEvents::incarnation() const {
  absl::MutexLock lock(&mu_);
  return incarnation_;
}

std::vector<std::string> FakeAzureScheduledEvents::started() const {
  absl::MutexLock lock(&mu_);
  return started_;
}

bool FakeAzureScheduledEvents::WaitForStarted(const std::string& id, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return std::find(started_.begin(), started_.end(), id) != started_.end();
  };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

bool FakeAzureScheduledEvents::Handle(const httplib::Request& req, httplib::Response& res) {
  if (req.path != "/metadata/scheduledevents") return FakeImds::Handle(req, res);
  if (req.get_param_value("api-version").empty()) {
    res.status = 400;
    res.set_content(R"({"error":"Bad request. api-version was not specified"})", "application/json");
    return true;
  }
  absl::MutexLock lock(&mu_);
  if (req.method == "POST") {
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("StartRequests") || !body["StartRequests"].is_array()) {
      res.status = 400;
      return true;
    }
    for (const auto& r : body["StartRequests"]) {
      std::string id = r.value("EventId", "");
      started_.push_back(id);
      for (auto& e : events_) {
        if (e.id == id) {
          e.status = "Started";
          e.not_before = "";
          ++incarnation_;
        }
      }
    }
    res.status = 200;
    return true;
  }
  if (!raw_.empty()) {
    res.status = raw_status_;
    res.set_content(raw_, "application/json");
    return true;
  }
  nlohmann::json doc = {{"DocumentIncarnation", incarnation_}, {"Events", nlohmann::json::array()}};
  for (const auto& e : events_) {
    doc["Events"].push_back({{"EventId", e.id},
                             {"EventType", e.type},
                             {"ResourceType", "VirtualMachine"},
                             {"Resources", e.resources},
                             {"EventStatus", e.status},
                             {"NotBefore", e.not_before},
                             {"Description", e.description},
                             {"EventSource", "Platform"},
                             {"DurationInSeconds", e.duration_seconds}});
  }
  res.set_content(doc.dump(), "application/json");
  return true;
}

}  // namespace spotguard::testing
