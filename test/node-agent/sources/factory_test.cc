#include "node-agent/sources/factory.h"

#include "gtest/gtest.h"
#include "test/fakes/fake_clock.h"

namespace spotguard::agent::sources {
namespace {

std::vector<std::string> Kinds(const std::vector<std::unique_ptr<Source>>& sources) {
  std::vector<std::string> out;
  for (const auto& s : sources) out.emplace_back(s->Kind());
  return out;
}

// Verifies the cloud comes from the providerID unless --cloud says otherwise, and each
// cloud gets its sources.
TEST(FactoryTest, SourcesPerCloud) {
  testing::FakeClock clock;
  Config c;
  kube::NodeFacts aws{.name = "n", .provider_id = "aws:///us-east-1a/i-0abc", .cloud = "aws"};
  EXPECT_EQ(Kinds(*MakeSources(c, aws, clock)),
            (std::vector<std::string>{"aws-spot-itn", "aws-rebalance", "aws-scheduled-events"}));
  kube::NodeFacts azure{.name = "n", .provider_id = "azure:///x", .cloud = "azure"};
  EXPECT_EQ(Kinds(*MakeSources(c, azure, clock)), std::vector<std::string>{"azure-scheduled-events"});
  kube::NodeFacts unknown{.name = "n", .provider_id = "kind://docker/n"};
  EXPECT_EQ(MakeSources(c, unknown, clock).status().code(), absl::StatusCode::kFailedPrecondition);
  c.cloud = "gcp";
  EXPECT_EQ(Kinds(*MakeSources(c, unknown, clock)), std::vector<std::string>{"gcp-preemption"});
}

}  // namespace
}  // namespace spotguard::agent::sources
