// spotguard-agent's configuration: every flag, its environment variable and its default.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/flags.h"

namespace spotguard::agent {

struct Config {
  std::string node_name;                  // NODE_NAME from the downward API
  std::string cloud = "auto";             // auto | azure | aws | gcp
  std::string imds_endpoint = "http://169.254.169.254";
  std::string azure_endpoint, aws_endpoint, gcp_endpoint;  // per-cloud overrides
  absl::Duration poll_interval = absl::Seconds(1);
  absl::Duration resync_interval = absl::Minutes(5);  // node read afresh and put right
  std::string extender_address;           // host:port of the extender's gRPC service
  std::string token_path = "/var/run/secrets/spotguard/token";
  // TLS to the extender: its certificate checked against this CA (and named
  // extender_server_name, default the host of extender_address); the agent's own
  // certificate presented when given.
  std::string extender_ca_file = "/var/run/secrets/spotguard/tls/ca.crt";
  std::string extender_server_name;
  std::string tls_cert_file, tls_key_file;
  bool insecure_plaintext = false;  // reports, token included, in the clear
  std::string kubeconfig;
  std::string listen_address = ":9101";   // /metrics, /healthz, /readyz
  absl::Duration imds_timeout = absl::Seconds(2);
  bool dry_run = false;
  std::string taint_effect = "NoSchedule";
  // What to do per event kind: cordon | label | report (see README).
  std::string azure_reboot_action = "cordon";
  std::string azure_redeploy_action = "cordon";
  std::string azure_freeze_action = "label";
  std::string aws_maintenance_action = "cordon";
  std::string rebalance_action = "label";
  bool azure_ack = false;   // approve Azure events (StartRequests) once executors are gone
  bool aws_imdsv1 = false;  // no IMDSv2 session token
  absl::Duration report_timeout = absl::Seconds(5);  // per gRPC attempt
  std::string log_level = "info";
};

// Binds every field of `config` to a flag in `flags`.
void RegisterFlags(FlagSet& flags, Config& config);
// Checks values that flags alone cannot (names, ranges); one clear message per problem.
absl::Status Validate(const Config& config);

}  // namespace spotguard::agent
