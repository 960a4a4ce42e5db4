#include "common/kube/watch.h"

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/http_client.h"
#include "common/kube/resources.h"
#include "common/kube/status.h"
#include "common/log.h"

namespace spotguard::kube {

absl::StatusOr<WatchEvent> DecodeWatchEvent(absl::string_view line) {
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("watch event is not a JSON object: ", line.substr(0, 120)));
  }
  auto type = j.find("type");
  auto object = j.find("object");
  if (type == j.end() || !type->is_string() || object == j.end() || !object->is_object()) {
    return absl::InvalidArgumentError("watch event lacks a string 'type' or an object 'object'");
  }
  static const std::pair<const char*, WatchEvent::Type> kTypes[] = {
      {"ADDED", WatchEvent::Type::kAdded},       {"MODIFIED", WatchEvent::Type::kModified},
      {"DELETED", WatchEvent::Type::kDeleted},   {"BOOKMARK", WatchEvent::Type::kBookmark},
      {"ERROR", WatchEvent::Type::kError}};
  for (const auto& [name, t] : kTypes) {
    if (*type == name) return WatchEvent{t, std::move(*object)};
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown watch event type ", type->dump()));
}

absl::Status WatchErrorStatus(const Json& status) {
  int code = status.value("code", 500);
  return ApiError(code, status.dump(), "watch");
}

Reflector::Reflector(KubeClient& client, ListWatchSpec spec, Handler handler)
    : client_(client), spec_(std::move(spec)), handler_(std::move(handler)) {}

std::string Reflector::resource_version() const {
  absl::MutexLock lock(&mu_);
  return resource_version_;
}

namespace {
void AppendSelectors(std::string& q, const ListWatchSpec& spec) {
  if (!spec.label_selector.empty()) absl::StrAppend(&q, "&labelSelector=", UrlEncode(spec.label_selector));
  if (!spec.field_selector.empty()) absl::StrAppend(&q, "&fieldSelector=", UrlEncode(spec.field_selector));
}
}  // namespace

std::string Reflector::ListPath(absl::string_view continue_token) const {
  std::string q = absl::StrCat(spec_.path, "?limit=", spec_.page_size);
  AppendSelectors(q, spec_);
  if (!continue_token.empty()) absl::StrAppend(&q, "&continue=", UrlEncode(continue_token));
  return q;
}

std::string Reflector::WatchPath(absl::string_view rv) const {
  std::string q = absl::StrCat(spec_.path, "?watch=1&allowWatchBookmarks=true&resourceVersion=", UrlEncode(rv),
                               "&timeoutSeconds=", absl::ToInt64Seconds(spec_.watch_timeout));
  AppendSelectors(q, spec_);
  return q;
}

absl::Status Reflector::List() {
  std::vector<Json> items;
  std::string continue_token, rv;
  do {
    auto page = client_.Get(ListPath(continue_token));
    if (!page.ok()) return page.status();
    if (!page->is_object() || !(*page)["items"].is_array()) {
      return absl::InternalError(absl::StrCat("list ", spec_.path, ": answer has no items array"));
    }
    for (Json& item : (*page)["items"]) items.push_back(std::move(item));
    continue_token = StringAt(*page, {"metadata", "continue"});
    rv = StringAt(*page, {"metadata", "resourceVersion"});
  } while (!continue_token.empty());
  ++lists_;  // before the handler runs: whoever it wakes sees this list counted
  try {
    handler_.replace(std::move(items));
  } catch (const std::exception& e) {
    // A handler must never take the watch thread down with it: log, and carry on.
    log::Error("watch handler failed on a list; continuing", {{"path", spec_.path}, {"error", e.what()}});
  }
  {
    absl::MutexLock lock(&mu_);
    resource_version_ = rv;
  }
  synced_ = true;
  return absl::OkStatus();
}

absl::Status Reflector::Watch(const StopSignal& stop) {
  absl::Status event_error;
  absl::Status s = client_.Stream(
      WatchPath(resource_version()),
      [&](absl::string_view line) {
        auto ev = DecodeWatchEvent(line);
        if (!ev.ok()) {
          log::Warn("skipping undecodable watch event", {{"path", spec_.path}, {"error", ev.status()}});
          return true;
        }
        if (ev->type == WatchEvent::Type::kError) {
          event_error = WatchErrorStatus(ev->object);
          return false;
        }
        std::string rv = StringAt(ev->object, {"metadata", "resourceVersion"});
        if (ev->type != WatchEvent::Type::kBookmark) {
          try {
            handler_.apply(ev->type, ev->object);
          } catch (const std::exception& e) {
            log::Error("watch handler failed on an event; skipping it",
                       {{"path", spec_.path}, {"object", StringAt(ev->object, {"metadata", "name"})}, {"error", e.what()}});
          }
        }
        if (!rv.empty()) {
          absl::MutexLock lock(&mu_);
          resource_version_ = rv;
        }
        return true;
      },
      stop, spec_.watch_timeout + absl::Seconds(30));
  if (!event_error.ok()) return event_error;
  return s;
}

void Reflector::Run(const StopSignal& stop) {
  absl::BitGen rng;
  Backoff backoff(spec_.backoff, rng);
  bool need_list = true;
  while (!stop.stopped()) {
    absl::Status s = need_list ? List() : Watch(stop);
    if (stop.stopped()) return;
    if (s.ok()) {
      // A list succeeded, or a watch ended as the server planned: watch (again).
      need_list = false;
      backoff.Reset();
      continue;
    }
    if (IsGone(s)) {
      log::Info("watch resourceVersion expired; relisting", {{"path", spec_.path}});
      need_list = true;
      continue;
    }
    absl::Duration wait = backoff.Next();
    log::Warn(need_list ? "list failed" : "watch failed",
              {{"path", spec_.path}, {"error", s}, {"retry_in_s", wait}});
    if (!client_.clock().SleepFor(wait, stop)) return;
  }
}

}  // namespace spotguard::kube
