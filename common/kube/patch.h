// Pure builders for the patches spotguard sends. Tested without a server.
//
// Taints have no patch strategy in the API (a merge patch replaces the whole list), so one
// taint is added or removed with a JSON patch whose first op tests metadata.resourceVersion:
// a concurrent writer makes the patch fail (409/422) instead of being silently overwritten,
// and the caller re-reads and retries (resources.h AddTaint/RemoveTaint).
//
// Example:
//   auto p = AddTaintPatch(node, {"spotguard.io/eviction-notice", "spot-interruption", "NoSchedule"});
//   // [{"op":"test","path":"/metadata/resourceVersion","value":"42"},
//   //  {"op":"add","path":"/spec/taints/-","value":{"key":...,"value":...,"effect":"NoSchedule"}}]
#pragma once

#include "absl/strings/string_view.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <string_view>

#include "nlohmann/json.hpp"

namespace spotguard::kube {

using Json = nlohmann::json;

struct Taint {
  std::string key;
  std::string value;
  std::string effect = "NoSchedule";  // NoSchedule | PreferNoSchedule | NoExecute

  Json ToJson() const;
  bool operator==(const Taint&) const = default;
};

// "/" → "~1", "~" → "~0" (RFC 6901), for label and annotation keys in JSON patch paths.
std::string EscapeJsonPointer(absl::string_view key);

// The {"op":"test"} that guards a JSON patch with the object's resourceVersion.
Json TestResourceVersion(const Json& object);

// Whether `node` carries a taint with this key and effect (any value).
bool HasTaint(const Json& node, absl::string_view key, absl::string_view effect);

// Ops that add `taint` to `node`; nullopt if a taint with the same key, value and effect is
// there. A taint with the same key and effect but another value is replaced.
std::optional<Json> AddTaintOps(const Json& node, const Taint& taint);
// Ops that remove every taint with `key` (and `effect`, if non-empty); nullopt if none.
std::optional<Json> RemoveTaintOps(const Json& node, absl::string_view key, absl::string_view effect = "");

// A whole JSON patch: the resourceVersion test followed by `ops`.
Json GuardedPatch(const Json& object, const Json& ops);

// Ops that change metadata.<field> ("labels" or "annotations") of `object`: each change
// sets key = value, or removes key when value is nullopt. Changes that are already true are
// left out; an absent map is created with one op. Empty array if nothing changes.
using MetadataChanges = std::vector<std::pair<std::string, std::optional<std::string>>>;
Json MetadataOps(const Json& object, absl::string_view field, const MetadataChanges& changes);

}  // namespace spotguard::kube
