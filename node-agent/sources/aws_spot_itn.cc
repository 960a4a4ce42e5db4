#include "node-agent/sources/aws_spot_itn.h"

#include "absl/strings/str_cat.h"
#include "node-agent/sources/payload.h"

namespace spotguard::agent::sources {

absl::StatusOr<std::vector<Notice>> AwsSpotItn::Poll() {
  // 404s are normal when querying for the 'latest/meta-data/spot' path.
  auto res = imds_->Get("/latest/meta-data/spot/instance-action");
  if (!res.ok()) return res.status();
  if (res->status == 404) return std::vector<Notice>{};
  if (res->status != 200) return HttpStatusError(res->status, res->Header("Retry-After"), "AWS spot instance-action");
  auto doc = ParseJson(res->body, "AWS spot instance-action");
  if (!doc.ok()) return doc.status();
  auto action = StringField(*doc, "action");
  if (!action.has_value() || action->empty()) {
    return PollError("malformed", absl::StrCat("AWS spot instance-action without a string 'action': ", res->body.substr(0, 120)));
  }
  const absl::Time now = clock_.Now();
  Notice n{.id = absl::StrCat("aws-spot-", *action),
           .cloud = v1::CLOUD_AWS,
           .kind = v1::NOTICE_KIND_EVICTION,
           .raw_action = *action,
           .detected_at = now,
           .description = absl::StrCat("EC2 spot instance-action: ", *action),
           .source = std::string(Kind()),
           .action = Action::kCordon};
  if (*action != "terminate" && *action != "stop" && *action != "hibernate") {
    Problem("unknown_action", absl::StrCat("AWS spot instance-action '", *action, "' is not terminate, stop or hibernate; "
                                           "treating it as an interruption"));
  }
  auto time = StringField(*doc, "time");
  auto t = time.has_value() ? ParseRfc3339(*time) : absl::InvalidArgumentError("no 'time' field");
  if (t.ok()) {
    n.not_before = *t;
  } else {
    // The Poller gives it the two minutes AWS guarantees, from first sight.
    Problem("bad_time", absl::StrCat("AWS spot instance-action time: ", t.status().message(),
                                     "; assuming the two minutes AWS guarantees"));
  }
  return std::vector<Notice>{std::move(n)};
}

}  // namespace spotguard::agent::sources
