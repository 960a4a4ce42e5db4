// AWS EC2 instance rebalance recommendation: the instance is at elevated risk of
// interruption. A risk signal, not an eviction (default action: label only).
//
//   GET /latest/meta-data/events/recommendations/rebalance
//   404 → none;   200 {"noticeTime": "2020-10-27T08:22:00Z"}
//
// One per instance; its id is "aws-rebalance" (noticeTime is informational).
#pragma once

#include <memory>

#include "common/clock.h"
#include "node-agent/source.h"
#include "node-agent/sources/aws_imds.h"

namespace spotguard::agent::sources {

class AwsRebalance final : public Source {
 public:
  AwsRebalance(std::shared_ptr<AwsImds> imds, Clock& clock, Action action)
      : imds_(std::move(imds)), clock_(clock), action_(action) {}

  absl::StatusOr<std::vector<Notice>> Poll() override;
  absl::string_view Kind() const override { return "aws-rebalance"; }

 private:
  std::shared_ptr<AwsImds> imds_;
  Clock& clock_;
  Action action_;
};

}  // namespace spotguard::agent::sources
