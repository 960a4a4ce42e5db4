// The Kubernetes client against a real kube-apiserver (scripts/controlplane.sh).
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/http_client.h"
#include "common/kube/resources.h"
#include "common/kube/status.h"
#include "common/kube/watch.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/e2e/controlplane.h"

namespace spotguard::e2e {
namespace {

using ::testing::HasSubstr;

class KubeClientE2E : public E2ETest {};

kube::KubeClient& Admin() { return ControlPlaneEnvironment::Get().admin(); }

std::string NewNamespace() {
  std::string ns = UniqueName("client-e2e");
  EXPECT_TRUE(CreateNamespace(Admin(), ns).ok());
  return ns;
}

// Verifies the harness runs the pinned Kubernetes release.
TEST_F(KubeClientE2E, ApiServerReportsPinnedVersion) {
  auto version = Admin().Get("/version");
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ((*version)["gitVersion"], ControlPlaneEnvironment::Get().Env("KUBERNETES_VERSION"));
}

// Verifies two writers adding different taints to one node at once lose neither taint.
TEST_F(KubeClientE2E, ConcurrentTaintWritersLoseNothing) {
  std::string node = UniqueName("taints");
  ASSERT_TRUE(CreateNode(Admin(), {.name = node}).ok());
  constexpr int kPerWriter = 6;
  std::vector<std::thread> writers;
  std::vector<absl::Status> results(2 * kPerWriter);
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        results[w * kPerWriter + i] =
            kube::AddTaint(Admin(), node, {absl::StrCat("example.com/writer-", w, "-", i), "x", "NoSchedule"}).status();
      }
    });
  }
  for (auto& t : writers) t.join();
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s;
  auto got = kube::GetNode(Admin(), node);
  ASSERT_TRUE(got.ok());
  for (int w = 0; w < 2; ++w) {
    for (int i = 0; i < kPerWriter; ++i) {
      EXPECT_TRUE(kube::HasTaint(*got, absl::StrCat("example.com/writer-", w, "-", i), "NoSchedule"))
          << "lost taint writer-" << w << "-" << i;
    }
  }
  // The AKS spot taint the node started with is still there, and removal is exact.
  EXPECT_TRUE(kube::HasTaint(*got, "kubernetes.azure.com/scalesetpriority", "NoSchedule"));
  auto removed = kube::RemoveTaint(Admin(), node, "example.com/writer-0-0");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_FALSE(kube::HasTaint(*removed, "example.com/writer-0-0", "NoSchedule"));
  EXPECT_TRUE(kube::HasTaint(*removed, "example.com/writer-1-0", "NoSchedule"));
}

// The current etcd revision, read through etcd's JSON gateway.
absl::StatusOr<int64_t> EtcdRevision(HttpClient& etcd) {
  auto res = etcd.Send({.method = "POST", .path = "/v3/kv/range", .body = R"({"key":"L3JlZ2lzdHJ5","limit":1})",
                        .content_type = "application/json"});
  if (!res.ok()) return res.status();
  auto j = kube::Json::parse(res->body);
  return std::stoll(j["header"]["revision"].get<std::string>());
}

// Verifies the Reflector delivers every change, and that when its resourceVersion is
// compacted away (410 Gone) it relists and still ends with the true state. The harness runs
// configmaps without the API server's watch cache, so compaction reaches the watch.
TEST_F(KubeClientE2E, WatchSeesEveryChangeAndSurvivesForcedRelist) {
  std::string ns = NewNamespace(), other = NewNamespace();
  auto cm = [](const std::string& ns, const std::string& name, const std::string& v) {
    return kube::Json{{"metadata", {{"name", name}, {"namespace", ns}}}, {"data", {{"v", v}}}};
  };
  ASSERT_TRUE(kube::CreateConfigMap(Admin(), cm(ns, "before", "0")).ok());

  absl::Mutex mu;
  std::map<std::string, std::string> state;  // name -> data.v
  int replaces = 0;
  kube::Reflector reflector(
      Admin(), {.path = absl::StrCat("/api/v1/namespaces/", ns, "/configmaps"), .watch_timeout = absl::Seconds(2)},
      {.replace =
           [&](std::vector<kube::Json> items) {
             absl::MutexLock l(&mu);
             state.clear();
             for (const auto& i : items) {
               // kube-controller-manager publishes its CA into every namespace.
               if (i["metadata"]["name"] == "kube-root-ca.crt") continue;
               state[i["metadata"]["name"]] = i["data"].value("v", "");
             }
             ++replaces;
           },
       .apply =
           [&](kube::WatchEvent::Type t, const kube::Json& o) {
             absl::MutexLock l(&mu);
             std::string name = o["metadata"]["name"];
             if (name == "kube-root-ca.crt") return;
             if (t == kube::WatchEvent::Type::kDeleted) {
               state.erase(name);
             } else {
               state[name] = o["data"].value("v", "");
             }
           }});
  StopSignal stop;
  std::thread run([&] { reflector.Run(stop); });
  auto wait_state = [&](const std::map<std::string, std::string>& want) {
    absl::MutexLock l(&mu);
    auto matches = [&] { return state == want; };
    return mu.AwaitWithTimeout(absl::Condition(&matches), absl::Seconds(30));
  };
  ASSERT_TRUE(wait_state({{"before", "0"}}));

  // Every change arrives through the watch.
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(kube::CreateConfigMap(Admin(), cm(ns, absl::StrCat("c", i), "1")).ok());
  auto got = kube::GetConfigMap(Admin(), ns, "c1");
  ASSERT_TRUE(got.ok());
  (*got)["data"]["v"] = "2";
  ASSERT_TRUE(kube::UpdateConfigMap(Admin(), *got).ok());
  ASSERT_TRUE(Admin().Delete(absl::StrCat("/api/v1/namespaces/", ns, "/configmaps/c2")).ok());
  ASSERT_TRUE(wait_state({{"before", "0"}, {"c1", "2"}, {"c3", "1"}, {"c4", "1"}, {"c5", "1"}}));
  EXPECT_EQ(reflector.lists(), 1);

  // Move etcd past the reflector's version with writes it does not watch, and compact: when
  // its current watch ends, re-watching from its version is refused (410) and it relists.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(kube::CreateConfigMap(Admin(), cm(other, absl::StrCat("o", i), "x")).ok());
  auto etcd = NewHttpClient({.base_url = ControlPlaneEnvironment::Get().Env("ETCD_URL")});
  ASSERT_TRUE(etcd.ok());
  auto rev = EtcdRevision(**etcd);
  ASSERT_TRUE(rev.ok()) << rev.status();
  auto compacted = (*etcd)->Send({.method = "POST", .path = "/v3/kv/compaction",
                                  .body = absl::StrCat(R"({"revision":")", *rev, R"(","physical":true})"),
                                  .content_type = "application/json"});
  ASSERT_TRUE(compacted.ok() && compacted->status == 200) << (compacted.ok() ? compacted->body : "");
  {
    absl::MutexLock l(&mu);
    auto relisted = [&] { return replaces >= 2; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&relisted), absl::Seconds(30)));
  }
  EXPECT_EQ(reflector.lists(), 2);
  // After the relist the state is still the truth, and the watch carries on.
  ASSERT_TRUE(wait_state({{"before", "0"}, {"c1", "2"}, {"c3", "1"}, {"c4", "1"}, {"c5", "1"}}));
  ASSERT_TRUE(Admin().Delete(absl::StrCat("/api/v1/namespaces/", ns, "/configmaps/c3")).ok());
  EXPECT_TRUE(wait_state({{"before", "0"}, {"c1", "2"}, {"c4", "1"}, {"c5", "1"}}));
  stop.Stop();
  run.join();
}

// Verifies an eviction without a PodDisruptionBudget is accepted with our grace period.
TEST_F(KubeClientE2E, EvictionAcceptedWithGrace) {
  std::string ns = NewNamespace(), node = UniqueName("evict");
  ASSERT_TRUE(CreateNode(Admin(), {.name = node}).ok());
  ASSERT_TRUE(CreatePod(Admin(), MakeSparkPod({.namespace_ = ns, .name = "exec-1", .node = node})).ok());
  ASSERT_TRUE(kube::EvictPod(Admin(), ns, "exec-1", 7).ok());
  auto pod = WaitForObject(Admin(), absl::StrCat("/api/v1/namespaces/", ns, "/pods"), "exec-1",
                           [](const kube::Json& p) { return p.is_null() || p["metadata"].contains("deletionTimestamp"); });
  ASSERT_TRUE(pod.ok()) << pod.status();
  ASSERT_FALSE(pod->is_null());
  EXPECT_EQ((*pod)["metadata"]["deletionGracePeriodSeconds"], 7);
  // Evicting a pod that is gone is not an error.
  EXPECT_TRUE(kube::EvictPod(Admin(), ns, "no-such-pod", 7).ok());
}

// Verifies a PodDisruptionBudget that allows no disruption surfaces as a clear 429.
TEST_F(KubeClientE2E, EvictionBlockedByPodDisruptionBudget) {
  std::string ns = NewNamespace(), node = UniqueName("pdb");
  ASSERT_TRUE(CreateNode(Admin(), {.name = node}).ok());
  ASSERT_TRUE(CreatePod(Admin(), MakeSparkPod({.namespace_ = ns, .name = "exec-1", .node = node})).ok());
  std::string pdbs = absl::StrCat("/apis/policy/v1/namespaces/", ns, "/poddisruptionbudgets");
  auto pdb = Admin().Post(pdbs, {{"apiVersion", "policy/v1"},
                                 {"kind", "PodDisruptionBudget"},
                                 {"metadata", {{"name", "executors"}, {"namespace", ns}}},
                                 {"spec", {{"minAvailable", 1}, {"selector", {{"matchLabels", {{"spark-role", "executor"}}}}}}}});
  ASSERT_TRUE(pdb.ok()) << pdb.status();
  // kube-controller-manager's disruption controller works out that the budget allows nothing. The
  // pod must count as healthy (kwok has made it Running and Ready): the Eviction API ignores budgets
  // for Pending pods, so before kwok gets to it the eviction would simply be accepted.
  ASSERT_TRUE(WaitForObject(Admin(), pdbs, "executors", [](const Json& p) {
                return !p.is_null() && p.contains("status") &&
                       p["status"].value("observedGeneration", int64_t{-1}) == p["metadata"].value("generation", int64_t{0}) &&
                       p["status"].value("expectedPods", 0) == 1 && p["status"].value("currentHealthy", 0) == 1 &&
                       p["status"].value("disruptionsAllowed", -1) == 0;
              }).ok());

  absl::Status s = kube::EvictPod(Admin(), ns, "exec-1", 7);
  EXPECT_TRUE(kube::IsTooManyRequests(s)) << s;
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("disruption budget"));
  // Deleting still works, with the grace we ask for: the decommissioner's fallback.
  ASSERT_TRUE(kube::DeletePod(Admin(), ns, "exec-1", 5).ok());
  auto pod = Admin().Get(absl::StrCat("/api/v1/namespaces/", ns, "/pods/exec-1"));
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ((*pod)["metadata"]["deletionGracePeriodSeconds"], 5);
}

// Verifies Events are created against the node and readable like kubectl's.
TEST_F(KubeClientE2E, CreatesEvents) {
  std::string node = UniqueName("events");
  auto created = CreateNode(Admin(), {.name = node});
  ASSERT_TRUE(created.ok());
  absl::Status s = kube::CreateEvent(Admin(),
                                     {.object = {.kind = "Node", .name = node, .uid = (*created)["metadata"]["uid"]},
                                      .type = "Warning",
                                      .reason = "SpotEvictionNotice",
                                      .message = "spot instance-action terminate",
                                      .component = "spotguard-agent",
                                      .host = node},
                                     absl::Now());
  ASSERT_TRUE(s.ok()) << s;
  auto events = Admin().Get("/api/v1/namespaces/default/events?fieldSelector=" +
                            UrlEncode("involvedObject.name=" + node));
  ASSERT_TRUE(events.ok());
  ASSERT_EQ((*events)["items"].size(), 1u);
  EXPECT_EQ((*events)["items"][0]["reason"], "SpotEvictionNotice");
  EXPECT_EQ((*events)["items"][0]["type"], "Warning");
}

// Verifies a pod-bound ServiceAccount token passes TokenReview with its pod and node, and
// that RBAC denials come back as PermissionDenied carrying the API's message.
TEST_F(KubeClientE2E, TokenReviewAndRbacDenial) {
  std::string ns = NewNamespace(), node = UniqueName("token");
  ASSERT_TRUE(CreateNode(Admin(), {.name = node}).ok());
  ASSERT_TRUE(Admin().Post(absl::StrCat("/api/v1/namespaces/", ns, "/serviceaccounts"),
                           {{"metadata", {{"name", "agent"}}}}).ok());
  kube::Json pod = MakeSparkPod({.namespace_ = ns, .name = "agent-pod", .node = node});
  pod["spec"]["serviceAccountName"] = "agent";
  auto created = CreatePod(Admin(), pod);
  ASSERT_TRUE(created.ok()) << created.status();
  auto token = kube::RequestToken(Admin(), {.namespace_ = ns, .service_account = "agent", .audiences = {"spotguard"},
                                            .expiration = absl::Minutes(10), .bound_pod_name = "agent-pod",
                                            .bound_pod_uid = (*created)["metadata"]["uid"]});
  ASSERT_TRUE(token.ok()) << token.status();

  auto review = kube::ReviewToken(Admin(), token->first, {"spotguard"});
  ASSERT_TRUE(review.ok()) << review.status();
  EXPECT_TRUE(review->authenticated) << review->error;
  EXPECT_EQ(review->username, absl::StrCat("system:serviceaccount:", ns, ":agent"));
  EXPECT_EQ(review->extra["authentication.kubernetes.io/pod-name"], std::vector<std::string>{"agent-pod"});
  EXPECT_EQ(review->extra["authentication.kubernetes.io/node-name"], std::vector<std::string>{node});
  // The same token for another audience is not valid.
  auto wrong = kube::ReviewToken(Admin(), token->first, {"someone-else"});
  ASSERT_TRUE(wrong.ok());
  EXPECT_FALSE(wrong->authenticated);

  auto as_agent = ControlPlaneEnvironment::Get().ClientWithToken(
      kube::RequestToken(Admin(), {.namespace_ = ns, .service_account = "agent"})->first);
  ASSERT_TRUE(as_agent.ok());
  auto denied = (*as_agent)->Get("/api/v1/nodes");
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(denied.status().message()),
              HasSubstr(absl::StrCat("User \"system:serviceaccount:", ns, ":agent\" cannot list resource \"nodes\"")));
}

// Verifies ConfigMap updates are optimistic: a stale resourceVersion is a conflict.
TEST_F(KubeClientE2E, ConfigMapOptimisticConcurrency) {
  std::string ns = NewNamespace();
  ASSERT_TRUE(kube::CreateConfigMap(Admin(), {{"metadata", {{"name", "risk"}, {"namespace", ns}}}}).ok());
  auto dup = kube::CreateConfigMap(Admin(), {{"metadata", {{"name", "risk"}, {"namespace", ns}}}});
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
  auto a = kube::GetConfigMap(Admin(), ns, "risk");
  ASSERT_TRUE(a.ok());
  kube::Json b = *a;
  (*a)["data"] = {{"writer", "a"}};
  (b)["data"] = {{"writer", "b"}};
  ASSERT_TRUE(kube::UpdateConfigMap(Admin(), *a).ok());
  auto lost = kube::UpdateConfigMap(Admin(), b);
  EXPECT_TRUE(kube::IsConflict(lost.status())) << lost.status();
  auto now = kube::GetConfigMap(Admin(), ns, "risk");
  EXPECT_EQ((*now)["data"]["writer"], "a");
}

}  // namespace
}  // namespace spotguard::e2e
