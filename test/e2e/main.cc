// main() of every e2e test binary: one real control plane for all its tests.
#include "gtest/gtest.h"
#include "test/e2e/controlplane.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new spotguard::e2e::ControlPlaneEnvironment());
  return RUN_ALL_TESTS();
}
