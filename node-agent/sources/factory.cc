#include "node-agent/sources/factory.h"

#include "absl/strings/str_cat.h"
#include "node-agent/sources/aws_imds.h"
#include "node-agent/sources/aws_rebalance.h"
#include "node-agent/sources/aws_scheduled_events.h"
#include "node-agent/sources/aws_spot_itn.h"
#include "node-agent/sources/azure_scheduled_events.h"
#include "node-agent/sources/gcp_preemption.h"

namespace spotguard::agent::sources {

absl::StatusOr<std::string> ResolveCloud(const Config& config, const kube::NodeFacts& node) {
  if (config.cloud != "auto") return config.cloud;
  if (node.cloud.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("cannot tell the cloud of node ", node.name,
                                                      " from its providerID '", node.provider_id,
                                                      "'; set --cloud to azure, aws or gcp"));
  }
  return node.cloud;
}

absl::StatusOr<std::vector<std::unique_ptr<Source>>> MakeSources(const Config& c, const kube::NodeFacts& node,
                                                                 Clock& clock) {
  auto cloud = ResolveCloud(c, node);
  if (!cloud.ok()) return cloud.status();
  auto endpoint = [&](const std::string& override) { return override.empty() ? c.imds_endpoint : override; };
  auto action = [](const std::string& name) { return *ParseAction(name); };  // Validate() checked them
  std::vector<std::unique_ptr<Source>> out;
  if (*cloud == "azure") {
    auto http = NewHttpClient({.base_url = endpoint(c.azure_endpoint), .max_idle_connections = 2});
    if (!http.ok()) return http.status();
    out.push_back(std::make_unique<AzureScheduledEvents>(
        std::shared_ptr<HttpClient>(std::move(*http)), clock,
        AzureOptions{.vm_name = AzureVmNameFromProviderId(node.provider_id),
                     .reboot_action = action(c.azure_reboot_action),
                     .redeploy_action = action(c.azure_redeploy_action),
                     .freeze_action = action(c.azure_freeze_action),
                     .acknowledge = c.azure_ack,
                     .timeout = c.imds_timeout}));
  } else if (*cloud == "aws") {
    auto http = NewHttpClient({.base_url = endpoint(c.aws_endpoint), .max_idle_connections = 4});
    if (!http.ok()) return http.status();
    auto imds = std::make_shared<AwsImds>(std::shared_ptr<HttpClient>(std::move(*http)), clock,
                                          AwsImdsOptions{.imdsv1 = c.aws_imdsv1, .timeout = c.imds_timeout});
    out.push_back(std::make_unique<AwsSpotItn>(imds, clock));
    out.push_back(std::make_unique<AwsRebalance>(imds, clock, action(c.rebalance_action)));
    out.push_back(std::make_unique<AwsScheduledEvents>(imds, clock, action(c.aws_maintenance_action)));
  } else if (*cloud == "gcp") {
    auto http = NewHttpClient({.base_url = endpoint(c.gcp_endpoint), .max_idle_connections = 2});
    if (!http.ok()) return http.status();
    out.push_back(std::make_unique<GcpPreemption>(std::shared_ptr<HttpClient>(std::move(*http)), clock, c.imds_timeout));
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown cloud '", *cloud, "'"));
  }
  return out;
}

}  // namespace spotguard::agent::sources
