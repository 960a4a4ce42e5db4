// A Notice: what a cloud's metadata service said about this node, and what spotguard-agent
// should do about it.
//
// Each Source turns its cloud's payload into Notices; the Notice carries everything specific
// to it (kind, deadline, the action configured for its kind), so the Poller and Responder
// never branch on the cloud.
//
// Example:
//   Notice n{.id = "A3B1-...", .cloud = v1::CLOUD_AZURE, .kind = v1::NOTICE_KIND_EVICTION,
//            .raw_action = "Preempt", .not_before = t, .source = "azure-scheduled-events",
//            .action = Action::kCordon};
//   ToJson(n);   // {"id":"A3B1-...","cloud":"azure","kind":"eviction","rawAction":"Preempt",...}
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "spotguard/v1/eviction.pb.h"

namespace spotguard::agent {

namespace v1 = ::spotguard::v1;
using Json = nlohmann::json;

// What the agent does to the node for a notice (configurable per event kind).
enum class Action {
  kCordon,  // cordon + eviction-notice taint + evicting label + notice annotation
  kLabel,   // a label only: rebalance-recommended, or maintenance=<raw action>
  kReport,  // neither: an Event and the report to the extender
};

struct Notice {
  std::string id;  // stable across polls, unique within its source
  v1::Cloud cloud = v1::CLOUD_UNSPECIFIED;
  v1::NoticeKind kind = v1::NOTICE_KIND_UNSPECIFIED;
  std::string raw_action;                         // the cloud's word: Preempt, terminate, ...
  absl::Time not_before = absl::InfinitePast();   // when the cloud acts; InfinitePast = unknown
  absl::Time detected_at = absl::InfinitePast();  // first sight by this agent
  std::string description;
  std::string source;                             // Source::Kind() that produced it
  Action action = Action::kReport;
  bool acknowledgeable = false;  // the source can be told to start the event early (Azure)

  bool operator==(const Notice&) const = default;
};

absl::string_view CloudName(v1::Cloud cloud);      // azure | aws | gcp | unknown
absl::string_view KindName(v1::NoticeKind kind);   // eviction | maintenance | rebalance | unknown
absl::string_view ActionName(Action action);       // cordon | label | report
absl::StatusOr<Action> ParseAction(absl::string_view name);

// The time by which acting on the notice stops making sense: not_before if known, else
// detected_at + `window`.
absl::Time DeadlineOf(const Notice& n, absl::Duration window = absl::Minutes(2));

// The annotation form (DESIGN.md: id, cloud, kind, notBefore, detectedAt, source, plus
// rawAction, description, action) and back.
Json ToJson(const Notice& n);
absl::StatusOr<Notice> NoticeFromJson(const Json& j);

v1::Notice ToProto(const Notice& n);

}  // namespace spotguard::agent
