// Snapshot: the immutable view of the cluster that /filter and /prioritize read. Built by
// ClusterState from its watches and the notices it receives; swapped in whole; never
// changed after publication, so handlers read it without locks and never wait on I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace spotguard::extender::risk {

struct NodeInfo {
  // What filter and prioritize read, first: one cache line per node.
  bool spot = false;
  bool rebalance = false;  // an AWS rebalance recommendation is active
  // An active notice that dooms the node (reported over gRPC or seen in its annotation).
  bool doomed = false;
  int pool_id = -1, zone_id = -1;  // dense ids of the pool and zone, for spread accounting
  double risk = 0;                 // p(eviction within the horizon); 1 when doomed

  std::string name;
  std::string cloud, pool, zone, instance_type;
  std::string notice_id, notice_kind;
  absl::Time not_before = absl::InfinitePast();
};

// One Spark application's executors per pool and zone (ids as in NodeInfo).
struct AppSpread {
  int total = 0;
  absl::flat_hash_map<int, int> per_pool, per_zone;
};

// A snapshot's nodes by name, laid out for the lookup every request makes once per candidate
// node (5000 per request on a large cluster: most of a handler's time). Open addressing over
// compact slots that hold the name's hash and where its bytes sit in one contiguous arena, so
// a lookup reads one slot and a few bytes of the arena instead of chasing a std::string key's
// heap allocation. Immutable once built.
class NodeTable {
 public:
  NodeTable() = default;
  // Later duplicates of a name are dropped.
  explicit NodeTable(std::vector<std::shared_ptr<const NodeInfo>> nodes);

  const NodeInfo* Find(absl::string_view name) const;
  // Find() for each name, into (*out)[i] (null when absent). Lookups are memory-bound: this
  // prefetches the slots of the names ahead while it resolves the current one.
  void FindAll(const std::vector<absl::string_view>& names, std::vector<const NodeInfo*>* out) const;
  // fn(names[i], node) for each name in order (node null when absent): the names resolved in
  // one batch (FindAll), each NodeInfo prefetched a few ahead of its turn.
  template <typename Fn>
  void ForEach(const std::vector<absl::string_view>& names, Fn&& fn) const {
    std::vector<const NodeInfo*> found;
    FindAll(names, &found);
    for (size_t i = 0; i < names.size(); ++i) {
      if (i + 8 < found.size() && found[i + 8] != nullptr) __builtin_prefetch(found[i + 8]);
      fn(names[i], found[i]);
    }
  }
  size_t size() const { return nodes_.size(); }
  // In construction order.
  const std::vector<std::shared_ptr<const NodeInfo>>& nodes() const { return nodes_; }

 private:
  const NodeInfo* Resolve(absl::string_view name, uint64_t hash) const;

  struct Slot {
    uint64_t hash = 0;
    uint32_t name_offset = 0, name_size = 0;
    const NodeInfo* node = nullptr;  // null: empty
  };
  std::vector<std::shared_ptr<const NodeInfo>> nodes_;
  std::vector<Slot> slots_;  // a power of two, at most half full
  std::string names_;
};

using AppTable = absl::flat_hash_map<std::string, std::shared_ptr<const AppSpread>>;

struct Snapshot {
  std::shared_ptr<const NodeTable> nodes = std::make_shared<NodeTable>();
  std::shared_ptr<const AppTable> apps = std::make_shared<AppTable>();

  const NodeInfo* Node(absl::string_view name) const { return nodes->Find(name); }
  const AppSpread* App(absl::string_view app) const {
    auto it = apps->find(app);
    return it == apps->end() ? nullptr : it->second.get();
  }
};

// Where the current Snapshot lives. Writers swap in a new node table or application table;
// readers copy the pointer under a lock held for nanoseconds, so a handler never waits for a
// rebuild. Thread-safe.
class SnapshotPublisher {
 public:
  std::shared_ptr<const Snapshot> Current() const {
    absl::MutexLock lock(&mu_);
    return current_;
  }
  void PublishNodes(std::shared_ptr<const NodeTable> nodes) {
    absl::MutexLock lock(&mu_);
    auto next = std::make_shared<Snapshot>(*current_);
    next->nodes = std::move(nodes);
    current_ = std::move(next);
  }
  void PublishApps(std::shared_ptr<const AppTable> apps) {
    absl::MutexLock lock(&mu_);
    auto next = std::make_shared<Snapshot>(*current_);
    next->apps = std::move(apps);
    current_ = std::move(next);
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const Snapshot> current_ ABSL_GUARDED_BY(mu_) = std::make_shared<Snapshot>();
};

}  // namespace spotguard::extender::risk
