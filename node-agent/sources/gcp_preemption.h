// GCP preemption (Spot and preemptible VMs, 30 s notice).
//
//   GET http://metadata.google.internal/computeMetadata/v1/instance/preempted
//   Metadata-Flavor: Google          (required; without it GCP answers 403)
//   200 "TRUE" once preempted, "FALSE" before
#pragma once

#include <memory>

#include "common/clock.h"
#include "common/http_client.h"
#include "node-agent/source.h"

namespace spotguard::agent::sources {

class GcpPreemption final : public Source {
 public:
  GcpPreemption(std::shared_ptr<HttpClient> http, Clock& clock, absl::Duration timeout = absl::Seconds(2))
      : http_(std::move(http)), clock_(clock), timeout_(timeout) {}

  absl::StatusOr<std::vector<Notice>> Poll() override;
  absl::string_view Kind() const override { return "gcp-preemption"; }

 private:
  std::shared_ptr<HttpClient> http_;
  Clock& clock_;
  absl::Duration timeout_;
  absl::Time first_seen_ = absl::InfinitePast();
};

}  // namespace spotguard::agent::sources
