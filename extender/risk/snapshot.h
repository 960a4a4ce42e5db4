// Snapshot: the immutable view of the cluster that /filter and /prioritize read. Built by
// ClusterState from its watches and the notices it receives; swapped in whole; never
// changed after publication, so handlers read it without locks and never wait on I/O.
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"

namespace spotguard::extender::risk {

struct NodeInfo {
  std::string name;
  std::string cloud, pool, zone, instance_type;
  bool spot = false;
  int pool_id = -1, zone_id = -1;  // dense ids of the pool and zone, for spread accounting
  bool rebalance = false;          // an AWS rebalance recommendation is active
  // An active notice that dooms the node (reported over gRPC or seen in its annotation).
  bool doomed = false;
  std::string notice_id, notice_kind;
  absl::Time not_before = absl::InfinitePast();
  double risk = 0;  // p(eviction within the horizon); 1 when doomed
};

// One Spark application's executors per pool and zone (ids as in NodeInfo).
struct AppSpread {
  int total = 0;
  absl::flat_hash_map<int, int> per_pool, per_zone;
};

using NodeTable = absl::flat_hash_map<std::string, std::shared_ptr<const NodeInfo>>;
using AppTable = absl::flat_hash_map<std::string, std::shared_ptr<const AppSpread>>;

struct Snapshot {
  std::shared_ptr<const NodeTable> nodes = std::make_shared<NodeTable>();
  std::shared_ptr<const AppTable> apps = std::make_shared<AppTable>();

  const NodeInfo* Node(absl::string_view name) const {
    auto it = nodes->find(name);
    return it == nodes->end() ? nullptr : it->second.get();
  }
  const AppSpread* App(absl::string_view app) const {
    auto it = apps->find(app);
    return it == apps->end() ? nullptr : it->second.get();
  }
};

}  // namespace spotguard::extender::risk
