#include "node-agent/sources/gcp_preemption.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace spotguard::agent::sources {

absl::StatusOr<std::vector<Notice>> GcpPreemption::Poll() {
  auto res = http_->Send({.path = "/computeMetadata/v1/instance/preempted",
                          .headers = {{"Metadata-Flavor", "Google"}},
                          .timeout = timeout_,
                          .max_response_bytes = 1024});
  if (!res.ok()) return TransportError(res.status(), "GCP preempted");
  if (res->status != 200) return HttpStatusError(res->status, res->Header("Retry-After"), "GCP preempted");
  std::string value = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(res->body));
  if (value == "FALSE") {
    first_seen_ = absl::InfinitePast();
    return std::vector<Notice>{};
  }
  if (value != "TRUE") {
    return PollError("malformed", absl::StrCat("GCP preempted: want TRUE or FALSE, got '", res->body.substr(0, 40), "'"));
  }
  const absl::Time now = clock_.Now();
  if (first_seen_ == absl::InfinitePast()) first_seen_ = now;
  return std::vector<Notice>{Notice{.id = "gcp-preempted",
                                    .cloud = v1::CLOUD_GCP,
                                    .kind = v1::NOTICE_KIND_EVICTION,
                                    .raw_action = "preempted",
                                    .not_before = first_seen_ + absl::Seconds(30),
                                    .detected_at = now,
                                    .description = "GCE instance preempted",
                                    .source = std::string(Kind()),
                                    .action = Action::kCordon}};
}

}  // namespace spotguard::agent::sources
