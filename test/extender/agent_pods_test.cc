#include "extender/agent_pods.h"

#include "gtest/gtest.h"
#include "test/fakes/fake_api_server.h"
#include "test/fakes/fake_clock.h"

namespace spotguard::extender {
namespace {

using Json = nlohmann::json;

Json Pod(const std::string& name, const std::string& uid, const std::string& node) {
  return {{"metadata", {{"name", name}, {"namespace", "spotguard-system"}, {"uid", uid}}},
          {"spec", {{"nodeName", node}, {"serviceAccountName", "spotguard-agent"}}}};
}

// Verifies the store follows the list and the watch's changes, deletions included, and knows
// nothing before the first list.
TEST(AgentPodsTest, FollowsListAndWatch) {
  testing::FakeClock clock;
  testing::FakeApiServer api;
  auto kube = api.Client(clock);
  AgentPods pods(*kube, {.path = "/api/v1/namespaces/spotguard-system/pods"});
  EXPECT_FALSE(pods.synced());
  pods.Replace({Pod("agent-a", "u1", "n1"), Pod("agent-b", "u2", "n2")});
  EXPECT_TRUE(pods.synced());
  EXPECT_EQ(pods.size(), 2u);
  auto a = pods.Find("spotguard-system", "agent-a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->uid, "u1");
  EXPECT_EQ(a->node, "n1");
  EXPECT_EQ(a->service_account, "spotguard-agent");
  EXPECT_EQ(a->deletion, absl::InfiniteFuture());
  EXPECT_FALSE(pods.Find("default", "agent-a").has_value());
  pods.Apply(/*deleted=*/false, Pod("agent-a", "u3", "n3"));  // recreated under the same name
  EXPECT_EQ(pods.Find("spotguard-system", "agent-a")->uid, "u3");
  pods.Apply(/*deleted=*/true, Pod("agent-b", "u2", "n2"));
  EXPECT_FALSE(pods.Find("spotguard-system", "agent-b").has_value());
  pods.Replace({});
  EXPECT_EQ(pods.size(), 0u);
}

// Verifies deletionTimestamp is read; an unreadable one counts as deleted.
TEST(AgentPodsTest, DeletionTimestamp) {
  Json p = Pod("agent-a", "u1", "n1");
  p["metadata"]["deletionTimestamp"] = "2027-01-15T08:00:30Z";
  EXPECT_EQ(AgentPods::FromJson(p).deletion, absl::FromUnixSeconds(1'800'000'030));
  p["metadata"]["deletionTimestamp"] = "soon";
  EXPECT_EQ(AgentPods::FromJson(p).deletion, absl::InfinitePast());
}

}  // namespace
}  // namespace spotguard::extender
