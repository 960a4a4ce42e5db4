// The machine's real node (scripts/realnode.sh) for e2e tests: kubelet, containerd and runc
// registered to the harness control plane beside its kwok nodes, running real containers from
// OCI archives. One per machine; the control plane's `down` (and so its owner watchdog, when
// the test process dies) tears it down with the control plane.
//
// Example:
//   HostState before = CaptureHostState();
//   auto node = RealNode::Start(cp().dir());   // the Node is Ready when it returns
//   // ... pods with spec.nodeName = node->name, image node->busybox_image ...
//   ASSERT_TRUE(RealNode::Stop(cp().dir()).ok());
//   EXPECT_THAT(Leftovers(*node, before), IsEmpty());
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "test/e2e/controlplane.h"

namespace spotguard::e2e {

struct RealNode {
  std::string name;                     // the Node's name: this machine's hostname
  std::string pause_image;              // the sandbox image
  std::string busybox_image;            // a static busybox: sh and its applets in /bin, PATH=/bin
  std::vector<std::string> state_dirs;  // host directories only the node uses
  std::string cgroup;                   // its cgroup below the root of every hierarchy
  std::string bridge;                   // its CNI bridge

  // `realnode.sh up` for the control plane in `dir`, importing `archives` (OCI) too.
  static absl::StatusOr<RealNode> Start(const std::string& dir, const std::vector<std::string>& archives = {});
  // `realnode.sh down`: fails with the script's list of what it could not remove.
  static absl::Status Stop(const std::string& dir);
};

// What a node changes on the host outside its own directories: CNI's and kubelet's iptables
// chains (CNI-*, KUBE-*, both families), the sysctls kubelet and CNI's bridge set, and the
// fixed paths kubelet, containerd, CNI and buildah create (/run/containerd, /var/lib/cni, ...).
struct HostState {
  std::set<std::string> iptables_chains;  // "iptables nat CNI-1a2b..."
  std::map<std::string, std::string> sysctls;
  std::set<std::string> paths;            // those of the fixed paths that exist
};
HostState CaptureHostState();

// What `node` left on the host compared with `before`, one line each, read from /proc,
// /sys and iptables independently of realnode.sh: kubelet, containerd, shim and runc
// processes and any in its cgroups, mounts below its directories, its cgroups, its bridge,
// new iptables chains, changed sysctls, new fixed paths, CNI results naming its network
// namespaces, its directories.
std::vector<std::string> Leftovers(const RealNode& node, const HostState& before);

}  // namespace spotguard::e2e
