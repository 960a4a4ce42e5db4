#include "node-agent/node_state.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "common/kube/resources.h"

namespace spotguard::agent {
namespace {

int Severity(v1::NoticeKind k) {
  switch (k) {
    case v1::NOTICE_KIND_EVICTION: return 2;
    case v1::NOTICE_KIND_MAINTENANCE: return 1;
    default: return 0;
  }
}

std::optional<std::string> Annotation(const Json& node, const char* key) {
  std::string v = kube::StringAt(node, {"metadata", "annotations", key});
  if (v.empty()) return std::nullopt;
  return v;
}

// Ops that leave exactly `want` as spotguard's taint: ours with another effect (the flag
// changed between runs) or none wanted are removed, highest index first, then `want` added.
Json TaintOps(const Json& node, const std::optional<kube::Taint>& want) {
  Json ops = Json::array();
  Json after = node;
  if (node.contains("spec") && node["spec"].contains("taints") && node["spec"]["taints"].is_array()) {
    Json& taints = after["spec"]["taints"];
    for (size_t i = taints.size(); i-- > 0;) {
      const Json& t = taints[i];
      if (t.value("key", "") != kTaintKey) continue;
      if (want.has_value() && t.value("effect", "") == want->effect) continue;
      ops.push_back({{"op", "remove"}, {"path", "/spec/taints/" + std::to_string(i)}});
      taints.erase(i);
    }
  }
  if (want.has_value()) {
    if (auto add = kube::AddTaintOps(after, *want); add.has_value()) {
      for (const Json& op : *add) ops.push_back(op);
    }
  }
  return ops;
}

}  // namespace

std::string LabelValue(absl::string_view raw) {
  std::string out;
  for (char c : raw) {
    out.push_back(absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-' ? c : '-');
  }
  // Must start and end with an alphanumeric.
  while (!out.empty() && !absl::ascii_isalnum(out.front())) out.erase(out.begin());
  if (out.size() > 63) out.resize(63);
  while (!out.empty() && !absl::ascii_isalnum(out.back())) out.pop_back();
  return out;
}

absl::StatusOr<NodeRecord> ReadRecord(const Json& node) {
  NodeRecord record;
  std::optional<std::string> text = Annotation(node, kAgentAnnotation);
  if (!text.has_value()) return record;
  Json j = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("notices") || !j["notices"].is_array()) {
    return absl::InvalidArgumentError(std::string(kAgentAnnotation) + " annotation is not {\"notices\": [...]}");
  }
  record.cordoned = j.contains("cordoned") && j["cordoned"].is_boolean() && j["cordoned"].get<bool>();
  for (const Json& n : j["notices"]) {
    auto notice = notice::FromJson(n, Action::kReport);
    if (!notice.ok()) return notice.status();
    record.notices.push_back(std::move(*notice));
  }
  return record;
}

std::optional<Notice> PrimaryNotice(const std::vector<Notice>& active) {
  std::optional<Notice> best;
  for (const Notice& n : active) {
    if (n.action != Action::kCordon) continue;
    if (!best.has_value() || Severity(n.kind) > Severity(best->kind) ||
        (Severity(n.kind) == Severity(best->kind) && n.not_before < best->not_before)) {
      best = n;
    }
  }
  return best;
}

NodePlan PlanNode(const Json& node, const std::vector<Notice>& active, const std::string& taint_effect) {
  NodePlan plan;
  Json ops = Json::array();
  // A malformed record is treated as "spotguard did nothing": never uncordon on a guess.
  NodeRecord before = ReadRecord(node).value_or(NodeRecord{});
  const std::optional<Notice> primary = PrimaryNotice(active);
  const bool unschedulable = node.contains("spec") && node["spec"].value("unschedulable", false);

  plan.record.notices = active;
  if (primary.has_value()) {
    if (!unschedulable) {
      ops.push_back({{"op", "add"}, {"path", "/spec/unschedulable"}, {"value", true}});
      plan.cordons = true;
      plan.record.cordoned = true;
    } else {
      plan.record.cordoned = before.cordoned;  // already cordoned: by us earlier, or by someone else
    }
  } else if (before.cordoned && unschedulable) {
    ops.push_back({{"op", "remove"}, {"path", "/spec/unschedulable"}});
    plan.uncordons = true;
  }

  std::optional<kube::Taint> taint;
  if (primary.has_value()) taint = kube::Taint{kTaintKey, LabelValue(primary->raw_action), taint_effect};
  for (const Json& op : TaintOps(node, taint)) ops.push_back(op);

  bool rebalance = false;
  std::string maintenance;
  for (const Notice& n : active) {
    if (n.action != Action::kLabel) continue;
    if (n.kind == v1::NOTICE_KIND_REBALANCE) rebalance = true;
    if (n.kind == v1::NOTICE_KIND_MAINTENANCE && maintenance.empty()) maintenance = LabelValue(n.raw_action);
  }
  auto maybe = [](bool on, std::string v) { return on ? std::optional<std::string>(std::move(v)) : std::nullopt; };
  for (const Json& op : kube::MetadataOps(node, "labels",
                                          {{kEvictingLabel, maybe(primary.has_value(), "true")},
                                           {kRebalanceLabel, maybe(rebalance, "true")},
                                           {kMaintenanceLabel, maybe(!maintenance.empty(), maintenance)}})) {
    ops.push_back(op);
  }

  std::optional<std::string> notice_json, record_json;
  if (primary.has_value()) {
    Json n = ToJson(*primary);
    notice_json = n.dump();
  }
  if (!active.empty()) {
    // Compact, keys sorted: the text begins {"cordoned":true, exactly when spotguard cordoned,
    // which is what manifests/base/agent-admission-policy.yaml reads.
    Json r = {{"cordoned", plan.record.cordoned}, {"notices", Json::array()}};
    for (const Notice& n : active) r["notices"].push_back(ToJson(n));
    record_json = r.dump();
  }
  for (const Json& op : kube::MetadataOps(node, "annotations",
                                          {{kNoticeAnnotation, notice_json}, {kAgentAnnotation, record_json}})) {
    ops.push_back(op);
  }
  plan.ops = std::move(ops);
  return plan;
}

}  // namespace spotguard::agent
