#include "common/notice/kinds.h"

namespace spotguard::notice {
namespace {

// Minimum notices from the providers' documentation (DESIGN.md, "Cloud metadata contracts").
constexpr KindPolicy kKinds[] = {
    {v1::CLOUD_AZURE, "Preempt", "azure-scheduled-events", v1::NOTICE_KIND_EVICTION, Action::kCordon,
     absl::Seconds(30), "30 s (spot eviction)"},
    {v1::CLOUD_AZURE, "Terminate", "azure-scheduled-events", v1::NOTICE_KIND_EVICTION, Action::kCordon,
     absl::Minutes(5), "5-15 min (configurable on the scale set)"},
    {v1::CLOUD_AZURE, "Redeploy", "azure-scheduled-events", v1::NOTICE_KIND_MAINTENANCE, Action::kCordon,
     absl::Minutes(10), "10 min"},
    {v1::CLOUD_AZURE, "Reboot", "azure-scheduled-events", v1::NOTICE_KIND_MAINTENANCE, Action::kCordon,
     absl::Minutes(15), "15 min"},
    {v1::CLOUD_AZURE, "Freeze", "azure-scheduled-events", v1::NOTICE_KIND_MAINTENANCE, Action::kLabel,
     absl::Minutes(15), "15 min (a pause of seconds)"},
    {v1::CLOUD_AWS, "terminate", "aws-spot-itn", v1::NOTICE_KIND_EVICTION, Action::kCordon, absl::Minutes(2),
     "2 min"},
    {v1::CLOUD_AWS, "stop", "aws-spot-itn", v1::NOTICE_KIND_EVICTION, Action::kCordon, absl::Minutes(2), "2 min"},
    {v1::CLOUD_AWS, "hibernate", "aws-spot-itn", v1::NOTICE_KIND_EVICTION, Action::kCordon, absl::Minutes(2),
     "2 min"},
    {v1::CLOUD_AWS, "rebalance-recommendation", "aws-rebalance", v1::NOTICE_KIND_REBALANCE, Action::kLabel,
     absl::Minutes(2), "none (elevated risk, not an eviction)"},
    {v1::CLOUD_AWS, "instance-retirement", "aws-scheduled-events", v1::NOTICE_KIND_EVICTION, Action::kCordon,
     absl::Minutes(2), "days"},
    {v1::CLOUD_AWS, "instance-stop", "aws-scheduled-events", v1::NOTICE_KIND_EVICTION, Action::kCordon,
     absl::Minutes(2), "days"},
    {v1::CLOUD_AWS, "instance-reboot", "aws-scheduled-events", v1::NOTICE_KIND_MAINTENANCE, Action::kCordon,
     absl::Minutes(2), "days"},
    {v1::CLOUD_AWS, "system-reboot", "aws-scheduled-events", v1::NOTICE_KIND_MAINTENANCE, Action::kCordon,
     absl::Minutes(2), "days"},
    {v1::CLOUD_AWS, "system-maintenance", "aws-scheduled-events", v1::NOTICE_KIND_MAINTENANCE, Action::kCordon,
     absl::Minutes(2), "days"},
    {v1::CLOUD_GCP, "preempted", "gcp-preemption", v1::NOTICE_KIND_EVICTION, Action::kCordon, absl::Seconds(30),
     "30 s"},
};

}  // namespace

absl::Span<const KindPolicy> Kinds() { return kKinds; }

const KindPolicy* FindKind(v1::Cloud cloud, absl::string_view raw_action) {
  for (const KindPolicy& k : kKinds) {
    if (k.cloud == cloud && raw_action == k.raw_action) return &k;
  }
  return nullptr;
}

absl::Time AssumedDeadline(const Notice& n, absl::Time first_sight) {
  const KindPolicy* k = FindKind(n.cloud, n.raw_action);
  return first_sight + (k != nullptr ? k->min_notice : absl::Seconds(30));
}

}  // namespace spotguard::notice
