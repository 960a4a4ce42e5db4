// The real-node tier: kubelet, containerd and runc (scripts/realnode.sh) as one node of the
// harness control plane. Pods on it run real containers: the preStop hook runs before SIGTERM
// on graceful deletion and on eviction, logs come through the kubelet, one node per machine,
// and `down` — by hand or when the control plane's owner dies — leaves the host as it was.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/kube/resources.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/e2e/controlplane.h"
#include "test/e2e/process.h"
#include "test/e2e/realnode.h"

namespace spotguard::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr absl::Duration kPodTimeout = absl::Seconds(90);
constexpr int64_t kGraceSeconds = 30;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The node is brought up by the first test that needs it; `before_` is the host before that.
class RealNodeTest : public E2ETest {
 protected:
  void SetUp() override {
    E2ETest::SetUp();
    if (HasFatalFailure()) return;
    if (!node_) {
      before_ = CaptureHostState();
      const absl::Time start = absl::Now();
      auto node = RealNode::Start(cp().dir());
      ASSERT_TRUE(node.ok()) << node.status().message();
      std::fprintf(stderr, "realnode: %s Ready %s after up\n", node->name.c_str(),
                   absl::FormatDuration(absl::Now() - start).c_str());
      node_ = *node;
    }
    ns_ = UniqueName("realnode");
    ASSERT_TRUE(CreateNamespace(admin(), ns_).ok());
  }

  // A busybox pod on the node that says "started", and on SIGTERM appends "term" to
  // `events()` and exits 0; its preStop hook appends "prestop" to the same file first.
  Json HookPod(const std::string& name) {
    std::string dir = absl::StrCat(cp().dir(), "/realnode-e2e/", ns_, "-", name);
    std::filesystem::create_directories(dir);
    Json container = {
        {"name", "main"},
        {"image", node_->busybox_image},
        {"imagePullPolicy", "Never"},
        {"command", Json::array({"sh", "-c",
                                 "echo started; trap 'echo term >> /events/log; exit 0' TERM; "
                                 "while :; do sleep 0.1; done"})},
        {"lifecycle", {{"preStop", {{"exec", {{"command", Json::array({"sh", "-c", "echo prestop >> /events/log"})}}}}}}},
        {"volumeMounts", Json::array({{{"name", "events"}, {"mountPath", "/events"}}})}};
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", ns_}}},
            {"spec",
             {{"nodeName", node_->name},
              {"terminationGracePeriodSeconds", kGraceSeconds},
              {"restartPolicy", "Never"},
              {"containers", Json::array({container})},
              {"volumes", Json::array({{{"name", "events"}, {"hostPath", {{"path", dir}, {"type", "Directory"}}}}})}}}};
  }
  std::string EventsOf(const std::string& name) {
    return ReadFile(absl::StrCat(cp().dir(), "/realnode-e2e/", ns_, "-", name, "/log"));
  }
  std::string Pods() const { return absl::StrCat("/api/v1/namespaces/", ns_, "/pods"); }

  // Creates the pod and waits until its container is running and ready.
  void RunPod(const Json& pod) {
    ASSERT_TRUE(CreatePod(admin(), pod).ok());
    auto running = WaitForObject(admin(), Pods(), pod["metadata"]["name"], [](const Json& p) {
      return !p.is_null() && kube::StringAt(p, {"status", "phase"}) == "Running" &&
             p["status"].contains("containerStatuses") && p["status"]["containerStatuses"][0].value("ready", false);
    }, kPodTimeout);
    ASSERT_TRUE(running.ok()) << running.status();
  }

  // Waits until the pod is gone; returns it as last seen before that.
  Json WaitGone(const std::string& name) {
    Json last;
    auto gone = WaitForObject(admin(), Pods(), name, [&](const Json& p) {
      if (!p.is_null()) last = p;
      return p.is_null();
    }, kPodTimeout);
    EXPECT_TRUE(gone.ok()) << gone.status();
    return last;
  }

  inline static std::optional<RealNode> node_;
  inline static HostState before_;
  std::string ns_;
};

// Verifies a graceful deletion runs the preStop hook, then SIGTERM, and the pod ends when
// its container exits (exit code 0, well inside the grace period); logs come through the
// kubelet's API.
TEST_F(RealNodeTest, GracefulDeletionRunsPreStopHookThenSigterm) {
  RunPod(HookPod("graceful"));
  auto logs = cp().Kubectl(absl::StrCat("logs -n ", ns_, " graceful"));
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_EQ(*logs, "started\n");

  const absl::Time start = absl::Now();
  ASSERT_TRUE(kube::DeletePod(admin(), ns_, "graceful", kGraceSeconds).ok());
  Json last = WaitGone("graceful");
  EXPECT_LT(absl::Now() - start, absl::Seconds(kGraceSeconds / 2)) << "the pod lived out its grace period";
  EXPECT_EQ(EventsOf("graceful"), "prestop\nterm\n");
  const Json& state = last["status"]["containerStatuses"][0]["state"];
  ASSERT_TRUE(state.contains("terminated")) << last.dump();
  EXPECT_EQ(state["terminated"]["exitCode"], 0);
}

// Verifies an eviction through the Eviction API ends the pod the same way.
TEST_F(RealNodeTest, EvictionRunsPreStopHookThenSigterm) {
  RunPod(HookPod("evicted"));
  ASSERT_TRUE(kube::EvictPod(admin(), ns_, "evicted", std::nullopt).ok());
  WaitGone("evicted");
  EXPECT_EQ(EventsOf("evicted"), "prestop\nterm\n");
}

// Verifies a second node on the machine is refused, naming the control plane that has it.
TEST_F(RealNodeTest, SecondNodeOnTheMachineIsRefused) {
  std::string other = cp().dir() + "/other-controlplane";
  std::filesystem::create_directories(other);
  std::filesystem::copy_file(cp().kubeconfig(), other + "/kubeconfig");
  std::filesystem::copy_file(cp().dir() + "/controlplane.env", other + "/controlplane.env");
  auto up = e2e::Run(absl::StrCat(SourceDir(), "/scripts/realnode.sh up ", other));
  ASSERT_FALSE(up.ok());
  EXPECT_THAT(up.status().message(), HasSubstr("belongs to the control plane in " + cp().dir()));
  // The refused `up` touched nothing: the node still runs pods.
  RunPod(HookPod("after-refusal"));
}

// Verifies `down` ends the node's pods gracefully and removes the Node, every process,
// mount, cgroup, the bridge, iptables chains and state directories, and restores sysctls;
// a later `up` works.
TEST_F(RealNodeTest, DownDrainsPodsAndLeavesNothingBehind) {
  RunPod(HookPod("drained"));
  const RealNode node = *node_;
  node_.reset();
  absl::Status down = RealNode::Stop(cp().dir());
  ASSERT_TRUE(down.ok()) << down;
  EXPECT_EQ(EventsOf("drained"), "prestop\nterm\n");
  EXPECT_EQ(admin().Get("/api/v1/nodes/" + node.name).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Leftovers(node, before_), IsEmpty());

  auto again = RealNode::Start(cp().dir());
  ASSERT_TRUE(again.ok()) << again.status().message();
  node_ = *again;
}

// Verifies the node goes with its control plane when the control plane's owner is killed:
// the owner watchdog's `controlplane.sh down` takes the node down first.
TEST_F(RealNodeTest, OwnerKilledLeavesNothingBehind) {
  absl::Status down = RealNode::Stop(cp().dir());
  ASSERT_TRUE(down.ok()) << down;
  node_.reset();
  std::string dir = cp().dir() + "/owned";
  auto owner = Process::Start("owner", {"/bin/sleep", "infinity"}, cp().dir() + "/logs");
  ASSERT_TRUE(owner.ok()) << owner.status();
  auto up = e2e::Run(absl::StrCat(SourceDir(), "/scripts/controlplane.sh up ", dir, " --owner-pid ", (*owner)->pid()));
  ASSERT_TRUE(up.ok()) << up.status();
  auto node = RealNode::Start(dir);
  ASSERT_TRUE(node.ok()) << node.status().message();

  std::string watchdog = ReadFile(dir + "/pids/watchdog.pid");
  (*owner)->Signal(SIGKILL);
  ASSERT_EQ((*owner)->Wait(absl::Seconds(10)), -SIGKILL);
  // The watchdog exits once its `down` is done.
  ASSERT_TRUE(e2e::Run("tail --pid=" + std::string(absl::StripAsciiWhitespace(watchdog)) + " -f /dev/null").ok());
  EXPECT_THAT(ReadFile(dir + "/logs/watchdog.log"), HasSubstr("nothing left on the host"));
  EXPECT_THAT(Leftovers(*node, before_), IsEmpty());
}

}  // namespace
}  // namespace spotguard::e2e
