#include "node-agent/sources/aws_rebalance.h"

#include "absl/strings/str_cat.h"
#include "node-agent/sources/payload.h"

namespace spotguard::agent::sources {

absl::StatusOr<std::vector<Notice>> AwsRebalance::Poll() {
  auto res = imds_->Get("/latest/meta-data/events/recommendations/rebalance");
  if (!res.ok()) return res.status();
  if (res->status == 404) return std::vector<Notice>{};
  if (res->status != 200) return HttpStatusError(res->status, res->Header("Retry-After"), "AWS rebalance recommendation");
  auto doc = ParseJson(res->body, "AWS rebalance recommendation");
  if (!doc.ok()) return doc.status();
  auto notice_time = StringField(*doc, "noticeTime");
  if (!notice_time.has_value()) {
    return PollError("malformed", absl::StrCat("AWS rebalance recommendation without 'noticeTime': ", res->body.substr(0, 120)));
  }
  return std::vector<Notice>{Notice{.id = "aws-rebalance",
                                    .cloud = v1::CLOUD_AWS,
                                    .kind = v1::NOTICE_KIND_REBALANCE,
                                    .raw_action = "rebalance-recommendation",
                                    .detected_at = clock_.Now(),
                                    .description = absl::StrCat("EC2 rebalance recommendation at ", *notice_time),
                                    .source = std::string(Kind()),
                                    .action = action_}};
}

}  // namespace spotguard::agent::sources
