#include "extender/risk/snapshot.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace spotguard::extender::risk {
namespace {

std::shared_ptr<const NodeInfo> Named(std::string name, int pool = 0) {
  auto n = std::make_shared<NodeInfo>();
  n->name = std::move(name);
  n->pool_id = pool;
  return n;
}

// Verifies every node is found by its name, in a table big enough to have probe chains, and
// that names that are absent (or prefixes and extensions of present ones) are not.
TEST(NodeTableTest, FindsEveryNodeAndNothingElse) {
  std::vector<std::shared_ptr<const NodeInfo>> nodes;
  for (int i = 0; i < 5000; ++i) nodes.push_back(Named(absl::StrCat("aks-spot", i % 4, "-vmss", i)));
  NodeTable table(nodes);
  ASSERT_EQ(table.size(), 5000u);
  for (int i = 0; i < 5000; ++i) {
    const std::string name = absl::StrCat("aks-spot", i % 4, "-vmss", i);
    const NodeInfo* n = table.Find(name);
    ASSERT_NE(n, nullptr) << name;
    EXPECT_EQ(n->name, name);
    EXPECT_EQ(n, nodes[i].get());
  }
  EXPECT_EQ(table.Find("aks-spot0-vmss"), nullptr);
  EXPECT_EQ(table.Find("aks-spot0-vmss00"), nullptr);
  EXPECT_EQ(table.Find("aks-spot0-vmss0x"), nullptr);
  EXPECT_EQ(table.Find(""), nullptr);
  EXPECT_EQ(table.nodes().front()->name, "aks-spot0-vmss0");
}

// Verifies an empty table finds nothing, and a repeated name keeps its first node.
TEST(NodeTableTest, EmptyAndDuplicates) {
  EXPECT_EQ(NodeTable().Find("a"), nullptr);
  EXPECT_EQ(NodeTable(std::vector<std::shared_ptr<const NodeInfo>>{}).Find("a"), nullptr);
  NodeTable table({Named("a", 1), Named("b", 2), Named("a", 3)});
  EXPECT_EQ(table.size(), 2u);
  ASSERT_NE(table.Find("a"), nullptr);
  EXPECT_EQ(table.Find("a")->pool_id, 1);
  EXPECT_EQ(table.Find("b")->pool_id, 2);
}

}  // namespace
}  // namespace spotguard::extender::risk
