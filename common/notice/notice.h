// The notice contract between spotguard-agent and spotguard-extender, in one place: the
// spotguard.io/* keys, the Notice and its vocabulary, its JSON form on the node, its protobuf
// form on the wire, and the validation every reader applies. Both daemons, the demo and the
// benchmarks use this library; nothing else spells a key or parses a notice.
//
// The annotation spotguard.io/notice (and each entry of spotguard.io/agent's "notices") is:
//   {"id": "A3B1-...", "cloud": "azure", "kind": "eviction", "rawAction": "Preempt",
//    "notBefore": "2026-12-01T10:00:30Z", "detectedAt": "2026-12-01T10:00:00Z",
//    "source": "azure-scheduled-events", "action": "cordon"}
// id, cloud and kind are required; times are RFC 3339 (empty or absent: unknown); action
// defaults to cordon in spotguard.io/notice (the annotation of a doomed node) and to report
// in the agent's record. Other tools may write spotguard.io/notice in this form.
//
// Example:
//   auto n = notice::FromJson(Json::parse(text), notice::Action::kCordon);
//   if (!n.ok()) { /* n.status().message() says which field; RejectReason(n.status()) a label */ }
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "spotguard/v1/eviction.pb.h"

namespace spotguard::notice {

namespace v1 = ::spotguard::v1;
using Json = nlohmann::json;

// --- Keys ------------------------------------------------------------------------------------
// On a doomed node: the taint (value = the cloud's word), the label users write soft
// anti-affinity against, the annotation with the primary notice (the form above).
inline constexpr char kTaintKey[] = "spotguard.io/eviction-notice";
inline constexpr char kEvictingLabel[] = "spotguard.io/evicting";
inline constexpr char kNoticeAnnotation[] = "spotguard.io/notice";
// On a node with an AWS rebalance recommendation / planned maintenance the agent only labels.
inline constexpr char kRebalanceLabel[] = "spotguard.io/rebalance-recommended";
inline constexpr char kMaintenanceLabel[] = "spotguard.io/maintenance";
// The agent's own record: every active notice and whether spotguard cordoned the node.
inline constexpr char kAgentAnnotation[] = "spotguard.io/agent";
// Written by the extender once the node's executors are gone (value: the notice id).
inline constexpr char kDecommissionedAnnotation[] = "spotguard.io/decommissioned";
// On an executor pod being decommissioned: the label, and the replica's claim
// "<notice id> <replica> <RFC 3339 time>".
inline constexpr char kDecommissioningLabel[] = "spotguard.io/decommissioning";
inline constexpr char kClaimAnnotation[] = "spotguard.io/decommission-claim";
// On a pod: the highest eviction risk (0..1) it accepts.
inline constexpr char kMaxRiskAnnotation[] = "spotguard.io/max-eviction-risk";

// --- The notice ------------------------------------------------------------------------------

// What the agent does to the node for a notice (configurable per event kind).
enum class Action {
  kCordon,  // cordon + eviction-notice taint + evicting label + notice annotation
  kLabel,   // a label only: rebalance-recommended, or maintenance=<raw action>
  kReport,  // neither: an Event and the report to the extender
};

struct Notice {
  std::string id;  // stable across polls, unique within its source and node
  v1::Cloud cloud = v1::CLOUD_UNSPECIFIED;
  v1::NoticeKind kind = v1::NOTICE_KIND_UNSPECIFIED;
  std::string raw_action;                         // the cloud's word: Preempt, terminate, ...
  absl::Time not_before = absl::InfinitePast();   // when the cloud acts; InfinitePast = unknown
  absl::Time detected_at = absl::InfinitePast();  // first sight by the agent
  std::string description;
  std::string source;                             // which source saw it: aws-spot-itn, ...
  Action action = Action::kReport;
  bool acknowledgeable = false;  // the source can be told to start the event early (Azure)

  bool operator==(const Notice&) const = default;
  // The node is going away (or down for maintenance the agent cordoned for): its executors
  // must be decommissioned.
  bool Dooms() const {
    return kind == v1::NOTICE_KIND_EVICTION || (kind == v1::NOTICE_KIND_MAINTENANCE && action == Action::kCordon);
  }
};

absl::string_view CloudName(v1::Cloud cloud);     // azure | aws | gcp | unknown
absl::string_view KindName(v1::NoticeKind kind);  // eviction | maintenance | rebalance | unknown
absl::string_view ActionName(Action action);      // cordon | label | report
absl::StatusOr<v1::Cloud> ParseCloud(absl::string_view name);
absl::StatusOr<v1::NoticeKind> ParseKind(absl::string_view name);
absl::StatusOr<Action> ParseAction(absl::string_view name);

// The time by which acting on the notice stops making sense: not_before if known, else
// detected_at + `window`.
absl::Time DeadlineOf(const Notice& n, absl::Duration window = absl::Minutes(2));

// --- Validation and codecs -------------------------------------------------------------------

// Ids longer than this are refused (a cloud's ids are tens of characters).
inline constexpr size_t kMaxIdLength = 253;

// OK, or kInvalidArgument naming the field: an id that is empty, too long or holds control
// characters; a cloud or kind outside the vocabulary.
absl::Status Validate(const Notice& n);

// The low-cardinality reason of a rejection by Validate / FromJson / FromProto, for metric
// labels: not_object | id | cloud | kind | action | time | other.
std::string RejectReason(const absl::Status& s);

// The JSON form above, and back (validated). `default_action` applies when "action" is
// absent or empty.
Json ToJson(const Notice& n);
absl::StatusOr<Notice> FromJson(const Json& j, Action default_action);

// The wire form (spotguard.v1.Notice), and back (validated). An empty action reads as cordon.
v1::Notice ToProto(const Notice& n);
absl::StatusOr<Notice> FromProto(const v1::Notice& p);

}  // namespace spotguard::notice
