#include "common/kube/patch.h"

#include "absl/strings/str_cat.h"

namespace spotguard::kube {

Json Taint::ToJson() const {
  Json j = {{"key", key}, {"effect", effect}};
  if (!value.empty()) j["value"] = value;
  return j;
}

std::string EscapeJsonPointer(absl::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Json TestResourceVersion(const Json& object) {
  return {{"op", "test"},
          {"path", "/metadata/resourceVersion"},
          {"value", object.at("metadata").value("resourceVersion", "")}};
}

namespace {

const Json* Taints(const Json& node) {
  auto spec = node.find("spec");
  if (spec == node.end()) return nullptr;
  auto taints = spec->find("taints");
  if (taints == spec->end() || !taints->is_array()) return nullptr;
  return &*taints;
}

}  // namespace

bool HasTaint(const Json& node, absl::string_view key, absl::string_view effect) {
  const Json* taints = Taints(node);
  if (taints == nullptr) return false;
  for (const Json& t : *taints) {
    if (t.value("key", "") == key && t.value("effect", "") == effect) return true;
  }
  return false;
}

std::optional<Json> AddTaintOps(const Json& node, const Taint& taint) {
  const Json* taints = Taints(node);
  if (taints == nullptr || taints->empty()) {
    return Json::array({{{"op", "add"}, {"path", "/spec/taints"}, {"value", Json::array({taint.ToJson()})}}});
  }
  for (size_t i = 0; i < taints->size(); ++i) {
    const Json& t = (*taints)[i];
    if (t.value("key", "") != taint.key || t.value("effect", "") != taint.effect) continue;
    if (t.value("value", "") == taint.value) return std::nullopt;
    return Json::array({{{"op", "replace"}, {"path", absl::StrCat("/spec/taints/", i)}, {"value", taint.ToJson()}}});
  }
  return Json::array({{{"op", "add"}, {"path", "/spec/taints/-"}, {"value", taint.ToJson()}}});
}

std::optional<Json> RemoveTaintOps(const Json& node, absl::string_view key, absl::string_view effect) {
  const Json* taints = Taints(node);
  if (taints == nullptr) return std::nullopt;
  Json ops = Json::array();
  // Highest index first, so earlier removals do not shift later ones.
  for (size_t i = taints->size(); i-- > 0;) {
    const Json& t = (*taints)[i];
    if (t.value("key", "") == key && (effect.empty() || t.value("effect", "") == effect)) {
      ops.push_back({{"op", "remove"}, {"path", absl::StrCat("/spec/taints/", i)}});
    }
  }
  if (ops.empty()) return std::nullopt;
  return ops;
}

Json GuardedPatch(const Json& object, const Json& ops) {
  Json patch = Json::array({TestResourceVersion(object)});
  for (const Json& op : ops) patch.push_back(op);
  return patch;
}

Json MetadataOps(const Json& object, absl::string_view field, const MetadataChanges& changes) {
  const Json& meta = object.at("metadata");
  auto it = meta.find(std::string(field));
  const Json* map = it != meta.end() && it->is_object() ? &*it : nullptr;
  Json ops = Json::array();
  Json created = Json::object();
  for (const auto& [key, value] : changes) {
    const bool present = map != nullptr && map->contains(key);
    if (value.has_value()) {
      if (present && map->at(key) == *value) continue;
      if (map == nullptr) {
        created[key] = *value;
        continue;
      }
      ops.push_back({{"op", "add"}, {"path", absl::StrCat("/metadata/", field, "/", EscapeJsonPointer(key))}, {"value", *value}});
    } else if (present) {
      ops.push_back({{"op", "remove"}, {"path", absl::StrCat("/metadata/", field, "/", EscapeJsonPointer(key))}});
    }
  }
  if (!created.empty()) ops.push_back({{"op", "add"}, {"path", absl::StrCat("/metadata/", field)}, {"value", created}});
  return ops;
}

}  // namespace spotguard::kube
