// AWS EC2 scheduled events (maintenance).
//
//   GET /latest/meta-data/events/maintenance/scheduled
//   200 [{"Code": "system-reboot", "Description": "...", "State": "active",
//         "EventId": "instance-event-0d59937288b749b32", "NotBefore": "21 Jan 2019 09:00:43 GMT",
//         "NotAfter": "21 Jan 2019 09:17:23 GMT", "NotBeforeDeadline": "..."}]
//   404 or [] → none
//
// State active → a notice; canceled or completed → left out, so the Poller withdraws it.
// instance-stop and instance-retirement take the instance away: eviction notices. The
// reboots and system-maintenance are maintenance with the configured action.
#pragma once

#include <memory>

#include "common/clock.h"
#include "node-agent/source.h"
#include "node-agent/sources/aws_imds.h"

namespace spotguard::agent::sources {

class AwsScheduledEvents final : public Source {
 public:
  AwsScheduledEvents(std::shared_ptr<AwsImds> imds, Clock& clock, Action maintenance_action)
      : imds_(std::move(imds)), clock_(clock), maintenance_action_(maintenance_action) {}

  absl::StatusOr<std::vector<Notice>> Poll() override;
  absl::string_view Kind() const override { return "aws-scheduled-events"; }

 private:
  std::shared_ptr<AwsImds> imds_;
  Clock& clock_;
  Action maintenance_action_;
};

}  // namespace spotguard::agent::sources
