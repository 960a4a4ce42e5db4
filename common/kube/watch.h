// List + watch: keeps a local view of a collection (nodes, pods) in step with the API
// server, the way client-go's Reflector does.
//
// Run() lists (in pages), hands the full list to Handler::replace, then watches from the
// list's resourceVersion and hands each change to Handler::apply. When a watch ends it
// re-watches from the last resourceVersion seen (BOOKMARK events advance it without
// changes); when the server says that version is gone (410 Expired) it lists again.
//
// Example:
//   Reflector nodes(client, {.path = "/api/v1/nodes"},
//                   {.replace = [&](std::vector<Json> items) { cache.Replace(items); },
//                    .apply = [&](WatchEvent::Type t, const Json& node) { cache.Apply(t, node); }});
//   std::thread t([&] { nodes.Run(stop); });
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/string_view.h"
#include "common/backoff.h"
#include "common/kube/client.h"

namespace spotguard::kube {

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type;
  Json object;
};

// Decodes one line of a watch stream: {"type":"ADDED","object":{...}}.
absl::StatusOr<WatchEvent> DecodeWatchEvent(absl::string_view line);
// The error an ERROR event carries (its object is a metav1.Status), as an ApiError:
// IsGone() for 410 Expired.
absl::Status WatchErrorStatus(const Json& status_object);

struct ListWatchSpec {
  std::string path;  // the collection: /api/v1/nodes, /api/v1/namespaces/spark/pods, ...
  std::string label_selector;
  std::string field_selector;
  int page_size = 500;
  absl::Duration watch_timeout = absl::Minutes(5);  // the server ends each watch after this
  BackoffPolicy backoff{.initial = absl::Milliseconds(500), .max = absl::Seconds(30)};
};

class Reflector {
 public:
  struct Handler {
    std::function<void(std::vector<Json> items)> replace;
    std::function<void(WatchEvent::Type type, const Json& object)> apply;
  };

  Reflector(KubeClient& client, ListWatchSpec spec, Handler handler);

  // Blocks until `stop` fires. Errors are logged, counted and retried with backoff.
  void Run(const StopSignal& stop);

  // Whether the first list has been delivered.
  bool synced() const { return synced_.load(); }
  int lists() const { return lists_.load(); }
  std::string resource_version() const;

  // The query strings Run uses; exposed for tests.
  std::string ListPath(absl::string_view continue_token) const;
  std::string WatchPath(absl::string_view resource_version) const;

 private:
  absl::Status List();
  // Returns OK when the watch ended normally, FailedPrecondition (410) to relist.
  absl::Status Watch(const StopSignal& stop);

  KubeClient& client_;
  ListWatchSpec spec_;
  Handler handler_;
  std::atomic<bool> synced_{false};
  std::atomic<int> lists_{0};
  mutable absl::Mutex mu_;
  std::string resource_version_ ABSL_GUARDED_BY(mu_);
};

}  // namespace spotguard::kube
