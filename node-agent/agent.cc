#include "node-agent/agent.h"

#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/kube/resources.h"
#include "common/log.h"

namespace spotguard::agent {

Agent::Agent(const Config& config, Clock& clock, kube::KubeClient& kube, Reporter* reporter, AgentMetrics& metrics,
             SourceFactory make_sources)
    : config_(config), clock_(clock), kube_(kube), metrics_(metrics), make_sources_(std::move(make_sources)) {
  responder_ = std::make_unique<Responder>(
      ResponderOptions{.node_name = config.node_name,
                       .taint_effect = config.taint_effect,
                       .dry_run = config.dry_run},
      clock, kube, reporter, metrics);
  poller_ = std::make_unique<Poller>(clock, PollerOptions{.interval = config.poll_interval}, metrics, *responder_);
}

Agent::~Agent() { responder_->Stop(); }

absl::Status Agent::Start(const StopSignal& stop) {
  absl::BitGen rng;
  Backoff backoff({.initial = absl::Milliseconds(500), .max = absl::Seconds(10)}, rng);
  const absl::Time give_up_not_found = clock_.Now() + absl::Minutes(1);
  absl::StatusOr<Json> node;
  while (true) {
    node = kube::GetNode(kube_, config_.node_name);
    if (node.ok()) break;
    if (absl::IsNotFound(node.status()) && clock_.Now() > give_up_not_found) {
      return absl::NotFoundError(absl::StrCat("node ", config_.node_name, " does not exist (check --node_name / NODE_NAME)"));
    }
    if (node.status().code() == absl::StatusCode::kPermissionDenied ||
        node.status().code() == absl::StatusCode::kUnauthenticated) {
      return node.status();  // RBAC or credentials: retrying will not help
    }
    log::Warn("cannot read the node yet; retrying", {{"node", config_.node_name}, {"error", node.status()}});
    if (!clock_.SleepFor(backoff.Next(), stop)) return absl::CancelledError("stopped while starting");
  }
  const kube::NodeFacts facts = kube::FactsOf(*node);
  auto sources = make_sources_(facts);
  if (!sources.ok()) return sources.status();
  std::vector<Notice> restored = responder_->Start(*node);
  for (auto& source : *sources) {
    std::vector<Notice> known;
    for (const Notice& n : restored) {
      if (n.source == source->Kind()) known.push_back(n);
    }
    poller_->Add(std::move(source), std::move(known));
  }
  log::Info("watching the node", {{"node", facts.name}, {"cloud", facts.cloud}, {"pool", facts.pool},
                                  {"zone", facts.zone}, {"capacity_type", facts.capacity_type},
                                  {"sources", poller_->size()}, {"restored_notices", restored.size()}});
  started_ = true;
  return absl::OkStatus();
}

void Agent::Run(const StopSignal& stop) {
  std::thread ack, resync;
  if (config_.azure_ack) ack = std::thread([&] { AcknowledgeLoop(stop); });
  if (config_.resync_interval > absl::ZeroDuration()) {
    resync = std::thread([&] {
      while (clock_.SleepFor(config_.resync_interval, stop)) responder_->Resync();
    });
  }
  poller_->Run(stop);
  if (ack.joinable()) ack.join();
  if (resync.joinable()) resync.join();
  responder_->Stop();
  log::Info("stopped", {{"node", config_.node_name}});
}

// Azure lets a VM approve its own scheduled event (StartRequests) so it happens now instead
// of at NotBefore. spotguard does so only once the extender has decommissioned the node's
// executors, which it records in the node's spotguard.io/decommissioned annotation. The
// node is read only while such a notice is pending.
void Agent::AcknowledgeLoop(const StopSignal& stop) {
  absl::flat_hash_set<std::string> acked;
  while (clock_.SleepFor(config_.poll_interval, stop)) {
    std::vector<Notice> pending;
    absl::flat_hash_set<std::string> active;
    for (const Notice& n : responder_->active()) {
      active.insert(n.id);
      if (n.acknowledgeable && !acked.contains(n.id)) pending.push_back(n);
    }
    // Only notices still active are remembered: the set stays as small as they are.
    absl::erase_if(acked, [&](const std::string& id) { return !active.contains(id); });
    if (pending.empty()) continue;
    auto node = kube::GetNode(kube_, config_.node_name, {.max_attempts = 1});
    if (!node.ok()) continue;
    const std::string done = kube::StringAt(*node, {"metadata", "annotations", kDecommissionedAnnotation});
    for (const Notice& n : pending) {
      if (done != n.id) continue;
      for (size_t i = 0; i < poller_->size(); ++i) {
        if (poller_->source(i).Kind() != n.source) continue;
        absl::Status s = config_.dry_run ? absl::OkStatus() : poller_->source(i).Acknowledge(n);
        if (s.ok()) {
          acked.insert(n.id);
          log::Info("acknowledged the event: executors are decommissioned", {{"notice_id", n.id}, {"dry_run", config_.dry_run}});
        } else {
          log::Warn("acknowledging the event failed", {{"notice_id", n.id}, {"error", s}});
        }
      }
    }
  }
}

absl::Status Agent::Healthy() const {
  if (!started_) return absl::OkStatus();  // starting: liveness must not kill a slow start
  return poller_->Healthy();
}

absl::Status Agent::Ready() const {
  if (!started_) return absl::UnavailableError("starting: reading the node");
  return poller_->Ready();
}

}  // namespace spotguard::agent
