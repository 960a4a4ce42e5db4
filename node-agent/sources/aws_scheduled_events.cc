#include "node-agent/sources/aws_scheduled_events.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "node-agent/sources/payload.h"

namespace spotguard::agent::sources {

absl::StatusOr<std::vector<Notice>> AwsScheduledEvents::Poll() {
  auto res = imds_->Get("/latest/meta-data/events/maintenance/scheduled");
  if (!res.ok()) return res.status();
  if (res->status == 404) return std::vector<Notice>{};
  if (res->status != 200) return HttpStatusError(res->status, res->Header("Retry-After"), "AWS scheduled events");
  auto doc = ParseJson(res->body, "AWS scheduled events");
  if (!doc.ok()) return doc.status();
  if (!doc->is_array()) return PollError("malformed", "AWS scheduled events: the document is not a JSON array");
  const absl::Time now = clock_.Now();
  std::vector<Notice> out;
  absl::flat_hash_set<std::string> seen;
  for (const Json& e : *doc) {
    auto id = StringField(e, "EventId");
    auto code = StringField(e, "Code");
    auto state = StringField(e, "State");
    if (!id.has_value() || id->empty() || !code.has_value() || !state.has_value()) {
      Problem("missing_field", absl::StrCat("AWS scheduled event without string EventId, Code or State: ", e.dump().substr(0, 200)));
      continue;
    }
    if (*state != "active") continue;  // canceled or completed: gone
    if (!seen.insert(*id).second) {
      Problem("duplicate_id", absl::StrCat("AWS scheduled event ", *id, " appears twice; keeping the first"));
      continue;
    }
    const notice::KindPolicy* k = notice::FindKind(v1::CLOUD_AWS, *code);
    const bool goes_away = k != nullptr && k->kind == v1::NOTICE_KIND_EVICTION;
    Notice n{.id = *id,
             .cloud = v1::CLOUD_AWS,
             .kind = goes_away ? v1::NOTICE_KIND_EVICTION : v1::NOTICE_KIND_MAINTENANCE,
             .raw_action = *code,
             .detected_at = now,
             .description = StringField(e, "Description").value_or(""),
             .source = std::string(Kind()),
             .action = goes_away ? Action::kCordon : maintenance_action_};
    auto nb = StringField(e, "NotBefore");
    auto t = nb.has_value() ? ParseAwsEventTime(*nb) : absl::InvalidArgumentError("no NotBefore");
    if (t.ok()) {
      n.not_before = *t;
    } else {
      // The Poller gives it the kind's minimum notice from first sight.
      Problem("bad_time", absl::StrCat("AWS scheduled event ", *id, ": ", t.status().message(),
                                       "; assuming the minimum notice"));
    }
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace spotguard::agent::sources
