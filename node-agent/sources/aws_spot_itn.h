// AWS spot interruption notice (two minutes' warning).
//
//   GET /latest/meta-data/spot/instance-action
//   404                                           → no notice (the normal answer)
//   200 {"action": "terminate", "time": "2017-09-18T08:22:00Z"}   action: terminate|stop|hibernate
//
// The notice id is "aws-spot-<action>": the time field is recomputed by some IMDS
// implementations on every request, so it cannot identify the notice.
#pragma once

#include <memory>

#include "common/clock.h"
#include "node-agent/source.h"
#include "node-agent/sources/aws_imds.h"

namespace spotguard::agent::sources {

class AwsSpotItn final : public Source {
 public:
  AwsSpotItn(std::shared_ptr<AwsImds> imds, Clock& clock) : imds_(std::move(imds)), clock_(clock) {}

  absl::StatusOr<std::vector<Notice>> Poll() override;
  absl::string_view Kind() const override { return "aws-spot-itn"; }

 private:
  std::shared_ptr<AwsImds> imds_;
  Clock& clock_;
};

}  // namespace spotguard::agent::sources
