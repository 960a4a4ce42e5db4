#include "common/kube/patch.h"

#include "gtest/gtest.h"

namespace spotguard::kube {
namespace {

Json Node(Json taints) {
  Json n = {{"metadata", {{"name", "n1"}, {"resourceVersion", "42"}}}, {"spec", Json::object()}};
  if (!taints.is_null()) n["spec"]["taints"] = taints;
  return n;
}

const Taint kNotice{"spotguard.io/eviction-notice", "Preempt", "NoSchedule"};

// Verifies adding a taint to a node without taints creates the list.
TEST(PatchTest, AddTaintCreatesList) {
  auto ops = AddTaintOps(Node(nullptr), kNotice);
  ASSERT_TRUE(ops.has_value());
  EXPECT_EQ(*ops, Json::parse(R"([{"op":"add","path":"/spec/taints","value":[
      {"key":"spotguard.io/eviction-notice","value":"Preempt","effect":"NoSchedule"}]}])"));
}

// Verifies adding appends, replaces a different value in place, and is a no-op when present.
TEST(PatchTest, AddTaintAppendsReplacesOrSkips) {
  Json spot = {{"key", "kubernetes.azure.com/scalesetpriority"}, {"value", "spot"}, {"effect", "NoSchedule"}};
  EXPECT_EQ(AddTaintOps(Node({spot}), kNotice)->at(0)["path"], "/spec/taints/-");
  Json old = kNotice.ToJson();
  old["value"] = "Terminate";
  auto replace = AddTaintOps(Node({spot, old}), kNotice);
  EXPECT_EQ((*replace)[0]["op"], "replace");
  EXPECT_EQ((*replace)[0]["path"], "/spec/taints/1");
  EXPECT_FALSE(AddTaintOps(Node({spot, kNotice.ToJson()}), kNotice).has_value());
  // Same key with another effect is a different taint.
  Taint exec = kNotice;
  exec.effect = "NoExecute";
  EXPECT_EQ(AddTaintOps(Node({kNotice.ToJson()}), exec)->at(0)["path"], "/spec/taints/-");
}

// Verifies removal removes every match, highest index first, and nothing else.
TEST(PatchTest, RemoveTaintHighestIndexFirst) {
  Json other = {{"key", "other"}, {"effect", "NoSchedule"}};
  Json exec = kNotice.ToJson();
  exec["effect"] = "NoExecute";
  auto ops = RemoveTaintOps(Node({kNotice.ToJson(), other, exec}), kNotice.key);
  EXPECT_EQ(*ops, Json::parse(R"([{"op":"remove","path":"/spec/taints/2"},{"op":"remove","path":"/spec/taints/0"}])"));
  auto only_exec = RemoveTaintOps(Node({kNotice.ToJson(), other, exec}), kNotice.key, "NoExecute");
  EXPECT_EQ(only_exec->size(), 1u);
  EXPECT_FALSE(RemoveTaintOps(Node({other}), kNotice.key).has_value());
  EXPECT_FALSE(RemoveTaintOps(Node(nullptr), kNotice.key).has_value());
}

// Verifies the guard op, and label/annotation changes: one op creates an absent map, keys
// are escaped, and changes already in place are left out.
TEST(PatchTest, GuardAndMetadataOps) {
  Json n = Node(nullptr);
  Json patch = GuardedPatch(n, MetadataOps(n, "labels", {{"spotguard.io/evicting", "true"}, {"b", "1"}, {"gone", std::nullopt}}));
  EXPECT_EQ(patch, Json::parse(R"([
      {"op":"test","path":"/metadata/resourceVersion","value":"42"},
      {"op":"add","path":"/metadata/labels","value":{"spotguard.io/evicting":"true","b":"1"}}])"));
  n["metadata"]["labels"] = {{"a", "b"}, {"same", "v"}};
  EXPECT_EQ(MetadataOps(n, "labels", {{"spotguard.io/evicting", "true"}, {"same", "v"}, {"a", std::nullopt}, {"absent", std::nullopt}}),
            Json::parse(R"([{"op":"add","path":"/metadata/labels/spotguard.io~1evicting","value":"true"},
                            {"op":"remove","path":"/metadata/labels/a"}])"));
  EXPECT_TRUE(MetadataOps(n, "annotations", {{"x", std::nullopt}}).empty());
  EXPECT_EQ(EscapeJsonPointer("a~b/c"), "a~0b~1c");
}

// Verifies HasTaint matches key and effect, not value.
TEST(PatchTest, HasTaint) {
  Json n = Node({kNotice.ToJson()});
  EXPECT_TRUE(HasTaint(n, kNotice.key, "NoSchedule"));
  EXPECT_FALSE(HasTaint(n, kNotice.key, "NoExecute"));
  EXPECT_FALSE(HasTaint(Node(nullptr), kNotice.key, "NoSchedule"));
}

}  // namespace
}  // namespace spotguard::kube
