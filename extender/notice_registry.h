// NoticeRegistry: the notices the extender holds active, by node and id, and a bounded memory
// of the ones withdrawn — the one place that decides whether a report from either channel
// (gRPC, node watch) is new, a change, a repeat or stale.
//
// A notice's occurrence is (node, id, detectedAt to the second): AWS ids repeat ("aws-spot-stop"), so a
// notice that comes back after a withdrawal carries a later detectedAt and is new; a report
// of a withdrawn occurrence arriving late (another channel, a retry) is stale. The memory of
// withdrawals keeps at most `max_withdrawn` entries for at most `withdrawn_ttl`.
//
// Example:
//   reg.Report(n, now).outcome == Outcome::kNew;        // first sight
//   reg.Report(n, now).outcome == Outcome::kDuplicate;  // the other channel
//   reg.Withdraw(n.node, n.id, now);
//   reg.Report(n, now).outcome == Outcome::kStale;      // a late retry of it
//   n.detected_at += absl::Minutes(5);
//   reg.Report(n, now).outcome == Outcome::kNew;        // it came back
//
// Not thread-safe: ClusterState guards it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "extender/records.h"

namespace spotguard::extender {

struct NoticeRegistryOptions {
  // Longer than an agent retries a report (5 min after first sight), so a late one is stale.
  absl::Duration withdrawn_ttl = absl::Minutes(10);
  size_t max_withdrawn = 10000;
  size_t max_active = 100000;
};

class NoticeRegistry {
 public:
  enum class Outcome {
    kNew,        // first sight of this occurrence (it may end an earlier one: `replaced`)
    kChanged,    // the same occurrence with a new deadline, kind or action
    kDuplicate,  // nothing new
    kStale,      // an occurrence already withdrawn
    kFull,       // max_active notices are active: refused
  };
  struct Result {
    Outcome outcome;
    std::optional<NoticeRecord> replaced;  // an earlier occurrence on the same node and id
  };

  explicit NoticeRegistry(NoticeRegistryOptions options = {}) : options_(options) {}

  Result Report(NoticeRecord n, absl::Time now);
  // The active notice it removed, if any.
  std::optional<NoticeRecord> Withdraw(const std::string& node, const std::string& id, absl::Time now);
  // A node that no longer exists: its notices end without a withdrawal to remember.
  void ForgetNode(const std::string& node);
  // Drops memories older than withdrawn_ttl.
  void Prune(absl::Time now);

  const NoticeRecord* Find(const std::string& key) const;
  // True if this occurrence (key and detectedAt) is the active one.
  bool Active(const NoticeRecord& n) const;
  // The node's active notices, in id order.
  std::vector<const NoticeRecord*> OnNode(const std::string& node) const;
  const absl::btree_map<std::string, NoticeRecord>& active() const { return active_; }
  size_t withdrawn_size() const { return withdrawn_.size(); }

 private:
  struct Withdrawn {
    absl::Time detected_at, at;
  };
  void Remember(const NoticeRecord& n, absl::Time now);

  const NoticeRegistryOptions options_;
  absl::btree_map<std::string, NoticeRecord> active_;  // by Key(): one node's notices are one range
  absl::flat_hash_map<std::string, Withdrawn> withdrawn_;
};

}  // namespace spotguard::extender
