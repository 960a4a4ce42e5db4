// The per-kind table: for each cloud event spotguard understands, what it means (kind), what
// the agent does by default (action, configurable per kind by the agent's flags), and the
// minimum notice the cloud documents for it. README's "What each notice does" is this table.
//
// The minimum notice fixes a notice's deadline when the cloud gives no time, stops giving one
// (an Azure event that turns Started) or gives one that cannot be parsed: first sight plus
// this. Executors are decommissioned `lead` before the deadline (the extender's
// --decommission_lead), so a far-ahead notice (an AWS retirement days away) labels and
// cordons the node at once but evicts nothing until it is nearly due.
//
// Example:
//   const KindPolicy* p = FindKind(v1::CLOUD_AZURE, "Preempt");
//   // p->kind == NOTICE_KIND_EVICTION, p->action == Action::kCordon, p->min_notice == 30 s
#pragma once

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/notice/notice.h"

namespace spotguard::notice {

struct KindPolicy {
  v1::Cloud cloud;
  const char* raw_action;  // the cloud's word, as the source reports it
  const char* source;      // the metadata document it comes from
  v1::NoticeKind kind;
  Action action;           // the default; the agent's flag for this kind may change it
  absl::Duration min_notice;
  const char* notice_text;  // how much notice the cloud gives, for people
};

// Every row, in README order.
absl::Span<const KindPolicy> Kinds();
// The row for a cloud's word (exact match), or null for a word spotguard does not know.
const KindPolicy* FindKind(v1::Cloud cloud, absl::string_view raw_action);
// The deadline a notice gets when the cloud gives none: `first_sight` + the kind's minimum
// notice (an unknown word: 30 s, the shortest any cloud gives).
absl::Time AssumedDeadline(const Notice& n, absl::Time first_sight);

}  // namespace spotguard::notice
