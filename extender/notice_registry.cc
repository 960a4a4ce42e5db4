#include "extender/notice_registry.h"

#include "absl/strings/match.h"

namespace spotguard::extender {

NoticeRegistry::Result NoticeRegistry::Report(NoticeRecord n, absl::Time now) {
  const std::string key = n.Key();
  if (auto it = active_.find(key); it != active_.end()) {
    NoticeRecord& cur = it->second;
    if (n.detected_at != absl::InfinitePast() && cur.detected_at != absl::InfinitePast() &&
        n.detected_at > cur.detected_at) {
      // A later occurrence: the earlier one was withdrawn and this came back before the
      // withdrawal was heard.
      Result r{Outcome::kNew, std::move(cur)};
      cur = std::move(n);
      return r;
    }
    if (n.detected_at != cur.detected_at && n.detected_at != absl::InfinitePast() &&
        cur.detected_at != absl::InfinitePast()) {
      return {Outcome::kStale};  // an earlier occurrence than the active one
    }
    if (n.not_before == cur.not_before && n.kind == cur.kind && n.action == cur.action &&
        n.raw_action == cur.raw_action) {
      return {Outcome::kDuplicate};
    }
    cur.not_before = n.not_before;
    cur.kind = n.kind;
    cur.action = n.action;
    cur.raw_action = n.raw_action;
    return {Outcome::kChanged};
  }
  if (auto w = withdrawn_.find(key); w != withdrawn_.end()) {
    const bool later = n.detected_at != absl::InfinitePast() && n.detected_at > w->second.detected_at;
    if (!later) return {Outcome::kStale};
    withdrawn_.erase(w);
  }
  if (active_.size() >= options_.max_active) return {Outcome::kFull};
  active_.emplace(key, std::move(n));
  return {Outcome::kNew};
}

std::optional<NoticeRecord> NoticeRegistry::Withdraw(const std::string& node, const std::string& id, absl::Time now) {
  auto it = active_.find(node + "/" + id);
  if (it == active_.end()) return std::nullopt;
  NoticeRecord n = std::move(it->second);
  active_.erase(it);
  Remember(n, now);
  return n;
}

void NoticeRegistry::Remember(const NoticeRecord& n, absl::Time now) {
  if (withdrawn_.size() >= options_.max_withdrawn) {
    Prune(now);
    // Still full: forget the oldest withdrawal.
    if (withdrawn_.size() >= options_.max_withdrawn && !withdrawn_.empty()) {
      auto oldest = withdrawn_.begin();
      for (auto it = withdrawn_.begin(); it != withdrawn_.end(); ++it) {
        if (it->second.at < oldest->second.at) oldest = it;
      }
      withdrawn_.erase(oldest);
    }
  }
  withdrawn_[n.Key()] = Withdrawn{n.detected_at, now};
}

void NoticeRegistry::ForgetNode(const std::string& node) {
  const std::string prefix = node + "/";
  auto begin = active_.lower_bound(prefix), end = begin;
  while (end != active_.end() && absl::StartsWith(end->first, prefix)) ++end;
  active_.erase(begin, end);
  absl::erase_if(withdrawn_, [&](const auto& kv) { return absl::StartsWith(kv.first, prefix); });
}

void NoticeRegistry::Prune(absl::Time now) {
  absl::erase_if(withdrawn_, [&](const auto& kv) { return now - kv.second.at > options_.withdrawn_ttl; });
}

const NoticeRecord* NoticeRegistry::Find(const std::string& key) const {
  auto it = active_.find(key);
  return it == active_.end() ? nullptr : &it->second;
}

bool NoticeRegistry::Active(const NoticeRecord& n) const {
  const NoticeRecord* cur = Find(n.Key());
  return cur != nullptr && cur->detected_at == n.detected_at;
}

std::vector<const NoticeRecord*> NoticeRegistry::OnNode(const std::string& node) const {
  std::vector<const NoticeRecord*> out;
  const std::string prefix = node + "/";
  for (auto it = active_.lower_bound(prefix); it != active_.end() && absl::StartsWith(it->first, prefix); ++it) {
    out.push_back(&it->second);
  }
  return out;
}

}  // namespace spotguard::extender
