// Azure Scheduled Events: Preempt (Spot eviction, ≥ 30 s notice), Terminate, and the
// maintenance kinds Reboot, Redeploy and Freeze.
//
//   GET http://169.254.169.254/metadata/scheduledevents?api-version=2020-07-01
//   Metadata: true                      (without it Azure answers 400)
//   {"DocumentIncarnation": 3, "Events": [{"EventId": "A123-...", "EventType": "Preempt",
//     "ResourceType": "VirtualMachine", "Resources": ["aks-spot1-12345678-vmss_4"],
//     "EventStatus": "Scheduled", "NotBefore": "Mon, 19 Sep 2016 18:29:47 GMT",
//     "Description": "...", "EventSource": "Platform", "DurationInSeconds": -1}]}
//
// Events go to every VM of a placement group: only those whose Resources name this VM are
// kept (case-insensitive). A finished or cancelled event just disappears (the Poller then
// withdraws it). NotBefore is empty once an event has Started.
#pragma once

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/http_client.h"
#include "node-agent/source.h"

namespace spotguard::agent::sources {

struct AzureOptions {
  // This VM's name as Scheduled Events spells it ("<vmss>_<instance>" for scale sets);
  // empty: asked once from /metadata/instance/compute/name.
  std::string vm_name;
  Action reboot_action = Action::kCordon;
  Action redeploy_action = Action::kCordon;
  Action freeze_action = Action::kLabel;
  bool acknowledge = false;  // mark notices acknowledgeable (StartRequests when decommissioned)
  absl::Duration timeout = absl::Seconds(5);
  // Azure enables the service on the first call, which can take up to 2 minutes.
  absl::Duration first_call_timeout = absl::Seconds(130);
};

// The VM name Scheduled Events uses, from a node's providerID:
//   azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/aks-spot1-vmss/virtualMachines/4
//     → "aks-spot1-vmss_4";  .../virtualMachines/myvm (availability set) → "myvm"; else "".
std::string AzureVmNameFromProviderId(absl::string_view provider_id);

class AzureScheduledEvents final : public Source {
 public:
  AzureScheduledEvents(std::shared_ptr<HttpClient> http, Clock& clock, AzureOptions options);

  absl::StatusOr<std::vector<Notice>> Poll() override;
  absl::string_view Kind() const override { return "azure-scheduled-events"; }
  absl::Status Acknowledge(const Notice& notice) override;

  static constexpr char kPath[] = "/metadata/scheduledevents?api-version=2020-07-01";

 private:
  absl::Status ResolveVmName();

  std::shared_ptr<HttpClient> http_;
  Clock& clock_;
  AzureOptions options_;
  bool first_call_done_ = false;
  int64_t incarnation_ = -1;
  int stale_documents_ = 0;
};

}  // namespace spotguard::agent::sources
