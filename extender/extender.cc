#include "extender/extender.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace spotguard::extender {

risk::PolicyConfig PolicyFrom(const Config& c) {
  risk::PolicyConfig p;
  p.driver_selector = *risk::LabelSelector::Parse(c.driver_selector);
  p.executor_selector = *risk::LabelSelector::Parse(c.executor_selector);
  p.app_label = c.app_label;
  p.risk_cap = c.risk_cap;
  p.on_demand_score = c.on_demand_score;
  p.spread_weight = c.spread_weight;
  p.score_all_pods = c.score_all_pods;
  return p;
}

namespace {
risk::RiskParams RiskFrom(const Config& c) {
  return {.half_life = c.risk_half_life,
          .horizon = c.risk_horizon,
          .prior_evictions = c.risk_prior_evictions,
          .prior_hours = c.risk_prior_hours,
          .rebalance_risk = c.rebalance_risk};
}
// The agents' pods: in their ServiceAccounts' namespace when they share one, else anywhere.
kube::ListWatchSpec AgentPodsFrom(const Config& c) {
  absl::flat_hash_set<std::string> namespaces;
  for (const std::string& sa : c.agent_service_accounts) namespaces.insert(sa.substr(0, sa.find('/')));
  return {.path = namespaces.size() == 1 ? absl::StrCat("/api/v1/namespaces/", *namespaces.begin(), "/pods")
                                         : "/api/v1/pods",
          .label_selector = c.agent_pod_selector};
}
}  // namespace

Extender::Extender(const Config& c, Clock& clock, kube::KubeClient& kube, kube::KubeClient& auth_kube)
    : config_(c),
      clock_(clock),
      metrics_(registry_),
      state_({.risk = RiskFrom(c),
              .policy = PolicyFrom(c),
              .configmap_namespace = c.namespace_,
              .configmap_name = c.risk_configmap,
              .persist_every = c.persist_interval},
             clock, kube, metrics_),
      decommissioner_({.margin = c.margin,
                       .min_grace = c.min_grace,
                       .max_grace = c.max_grace,
                       .delete_fallback = c.delete_fallback,
                       .executor_selector = PolicyFrom(c).executor_selector,
                       .lead = c.decommission_lead,
                       .drain_all = c.drain,
                       .dry_run = c.dry_run,
                       .workers = c.decommission_workers,
                       .parallelism = c.eviction_parallelism,
                       .identity = c.identity.empty() ? "spotguard-extender" : c.identity},
                      clock, kube, state_, metrics_),
      verifier_({.audiences = {c.token_audience}, .refresh = c.token_keys_refresh}, auth_kube, clock),
      agent_pods_(kube, AgentPodsFrom(c)),
      auth_({.audiences = {c.token_audience},
             .allowed_service_accounts = c.agent_service_accounts,
             .failure_ttl = c.auth_failure_ttl,
             .peer_failure_qps = c.auth_peer_failure_qps,
             .peer_failure_burst = c.auth_peer_failure_burst},
            auth_kube, c.local_token_verification ? &verifier_ : nullptr,
            c.local_token_verification ? &agent_pods_ : nullptr, clock, metrics_),
      service_(auth_, state_, metrics_),
      api_({.policy = PolicyFrom(c), .capture_dir = c.capture_dir}, [this] { return state_.snapshot(); }, metrics_,
           [this, &kube](const BindingArgs& b) -> absl::Status {
             Json binding = {{"apiVersion", "v1"},
                             {"kind", "Binding"},
                             {"metadata", {{"name", b.pod_name}, {"namespace", b.pod_namespace}}},
                             {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", b.node}}}};
             if (!b.pod_uid.empty()) binding["metadata"]["uid"] = b.pod_uid;
             auto res = kube.Post(absl::StrCat("/api/v1/namespaces/", b.pod_namespace, "/pods/", b.pod_name, "/binding"),
                                  binding, {.max_attempts = 2});
             if (!res.ok()) return res.status();
             state_.AssumeBound(
                 {.namespace_ = b.pod_namespace, .name = b.pod_name, .uid = b.pod_uid, .node = b.node, .labels = b.labels});
             return absl::OkStatus();
           }),
      metrics_http_({.address = c.metrics_address, .threads = 4}) {
  state_.OnDoomed([this](const NoticeRecord& n) { decommissioner_.Start(n); });
  state_.OnWithdrawn([this](const NoticeRecord& n) { decommissioner_.Cancel(n); });
  state_.OnPodLanded([this](const NoticeRecord& n) { decommissioner_.Revisit(n); });
}

Extender::~Extender() {
  state_stop_.Stop();
  if (state_thread_.joinable()) state_thread_.join();
  for (std::thread& t : auth_threads_) t.join();
  auth_threads_.clear();
  decommissioner_.Stop();
}

std::string Extender::grpc_address() const {
  auto hp = ParseHostPort(config_.grpc_address);
  std::string host = hp.ok() && hp->host != "0.0.0.0" ? hp->host : "127.0.0.1";
  return absl::StrCat(host, ":", grpc_port_);
}

absl::Status Extender::Ready() const {
  if (!state_.Synced()) return absl::UnavailableError("waiting for the initial lists of nodes and Spark pods");
  return absl::OkStatus();
}

absl::Status Extender::Start() {
  std::shared_ptr<tls::ServerContext> scheduler_tls;
  if (config_.insecure_plaintext) {
    log::Warn("serving the scheduler API and gRPC in plaintext (--insecure_plaintext): tokens travel in the clear "
              "and anyone who reaches the port may bind pods");
  } else {
    auto ctx = tls::ServerContext::Create(
        {.cert_file = config_.tls_cert_file, .key_file = config_.tls_key_file, .ca_file = config_.scheduler_ca_file},
        clock_);
    if (!ctx.ok()) return absl::InvalidArgumentError(absl::StrCat("scheduler API TLS: ", ctx.status().message()));
    (*ctx)->OnAlert([this](absl::string_view alert) { metrics_.RecordTlsRefused("scheduler", alert); });
    scheduler_tls = std::move(*ctx);
  }
  http_ = std::make_unique<HttpServer>(HttpServerOptions{.address = config_.http_address,
                                                         .threads = config_.http_threads,
                                                         .keep_alive = config_.keep_alive,
                                                         .max_body_bytes = static_cast<size_t>(config_.max_body_bytes),
                                                         .tls = scheduler_tls});
  api_.Register(http_->routes());
  if (config_.debug_endpoints) api_.RegisterDebug(metrics_http_.routes());
  metrics_http_.ServeMetrics(registry_);
  metrics_http_.ServeProbes([] { return absl::OkStatus(); }, [this] { return Ready(); });
  if (absl::Status s = metrics_http_.Start(); !s.ok()) return s;
  if (absl::Status s = http_->Start(); !s.ok()) return s;
  GrpcServerOptions grpc_options{.address = config_.grpc_address};
  if (!config_.insecure_plaintext) {
    grpc_options.tls = {.cert_file = config_.tls_cert_file, .key_file = config_.tls_key_file,
                        .ca_file = config_.agent_ca_file};
  }
  auto grpc = StartGrpcServer(grpc_options, &service_, &grpc_port_);
  if (!grpc.ok()) return grpc.status();
  grpc_ = std::move(*grpc);
  state_thread_ = std::thread([this] { state_.Run(state_stop_); });
  if (config_.local_token_verification) {
    auth_threads_.emplace_back([this] { verifier_.Run(state_stop_); });
    auth_threads_.emplace_back([this] { agent_pods_.Run(state_stop_); });
  }
  log::Info("serving", {{"http_address", http_address()}, {"grpc_address", grpc_address()},
                        {"metrics_address", metrics_address()}, {"tls", !config_.insecure_plaintext},
                        {"agent_client_certificates", !config_.agent_ca_file.empty()},
                        {"debug_endpoints", config_.debug_endpoints}});
  return absl::OkStatus();
}

void Extender::Run(const StopSignal& stop) {
  stop.WaitUntil(absl::InfiniteFuture());
  log::Info("shutting down: servers first, then watches and decommissions");
  if (grpc_) grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (http_) http_->Stop();
  metrics_http_.Stop();
  state_stop_.Stop();
  if (state_thread_.joinable()) state_thread_.join();
  for (std::thread& t : auth_threads_) t.join();
  auth_threads_.clear();
  decommissioner_.Stop();
}

}  // namespace spotguard::extender
