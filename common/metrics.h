// The process's Prometheus registry and its text exposition.
//
// Each daemon owns one MetricsRegistry and hands it to its domain metrics classes
// (AgentMetrics, ExtenderMetrics), which create the families; call sites never touch
// prometheus-cpp directly. HttpServer::ServeMetrics exposes it at /metrics.
//
// Labels must stay low-cardinality: never node names, pod names or event ids.
#pragma once

#include <memory>
#include <string>

#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace spotguard {

class MetricsRegistry {
 public:
  MetricsRegistry() : registry_(std::make_shared<prometheus::Registry>()) {}

  prometheus::Registry& registry() { return *registry_; }
  // Prometheus text exposition format 0.0.4.
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
};

// Bucket boundaries in seconds for request latencies (50µs .. 10s).
prometheus::Histogram::BucketBoundaries RequestLatencyBuckets();
// Bucket boundaries in seconds for operations that take up to minutes (10ms .. 5m).
prometheus::Histogram::BucketBoundaries OperationLatencyBuckets();

}  // namespace spotguard
