#include "test/e2e/realnode.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace spotguard::e2e {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::map<std::string, std::string> ReadEnv(const std::string& path) {
  std::map<std::string, std::string> env;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    env[kv.first] = kv.second;
  }
  return env;
}

// The sysctls kubelet's container manager sets at start, and CNI's bridge (ip_forward).
constexpr const char* kSysctls[] = {"vm/overcommit_memory", "vm/panic_on_oom",          "kernel/panic",
                                    "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
                                    "net/ipv4/ip_forward"};

// Paths outside the node's own directories that kubelet, containerd, CNI plugins and buildah
// create when missing.
constexpr const char* kFixedPaths[] = {"/run/containerd",     "/var/lib/cni", "/var/log/containers",
                                       "/var/log/pods",       "/etc/cni",     "/opt/containerd",
                                       "/run/netns",          "/var/lib/containers", "/etc/containerd"};

// Mount points of every cgroup hierarchy (v1 and v2).
std::vector<std::string> CgroupHierarchies() {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(ReadFile("/proc/mounts"), '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() > 2 && (f[2] == "cgroup" || f[2] == "cgroup2")) out.push_back(f[1]);
  }
  return out;
}

}  // namespace

absl::StatusOr<RealNode> RealNode::Start(const std::string& dir, const std::vector<std::string>& archives) {
  std::string cmd = absl::StrCat(SourceDir(), "/scripts/realnode.sh up ", dir);
  for (const auto& a : archives) absl::StrAppend(&cmd, " --import ", a);
  auto out = Run(cmd);
  if (!out.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("the real node did not come up:\n", out.status().message()));
  }
  auto env = ReadEnv(dir + "/realnode.env");
  RealNode node{.name = env["REALNODE_NAME"],
                .pause_image = env["REALNODE_PAUSE_IMAGE"],
                .busybox_image = env["REALNODE_BUSYBOX_IMAGE"],
                .state_dirs = absl::StrSplit(env["REALNODE_STATE_DIRS"], ' ', absl::SkipEmpty()),
                .cgroup = env["REALNODE_CGROUP"],
                .bridge = env["REALNODE_BRIDGE"]};
  if (node.name.empty() || node.cgroup.empty() || node.bridge.empty() || node.state_dirs.empty()) {
    return absl::InternalError(absl::StrCat(dir, "/realnode.env lacks REALNODE_* values:\n", *out));
  }
  return node;
}

absl::Status RealNode::Stop(const std::string& dir) {
  return Run(absl::StrCat(SourceDir(), "/scripts/realnode.sh down ", dir)).status();
}

HostState CaptureHostState() {
  HostState s;
  for (const char* family : {"iptables", "ip6tables"}) {
    auto saved = Run(absl::StrCat(family, "-save"));
    std::string table;
    for (absl::string_view line : absl::StrSplit(saved.ok() ? *saved : "", '\n')) {
      if (absl::ConsumePrefix(&line, "*")) table = std::string(line);
      if (!absl::ConsumePrefix(&line, ":")) continue;
      std::string chain(line.substr(0, line.find(' ')));
      if (absl::StartsWith(chain, "CNI-") || absl::StartsWith(chain, "KUBE-")) {
        s.iptables_chains.insert(absl::StrCat(family, " ", table, " ", chain));
      }
    }
  }
  std::error_code ec;
  for (const char* p : kFixedPaths) {
    if (fs::exists(p, ec)) s.paths.insert(p);
  }
  for (const char* name : kSysctls) {
    s.sysctls[name] = std::string(absl::StripAsciiWhitespace(ReadFile(fs::path("/proc/sys") / name)));
  }
  return s;
}

std::vector<std::string> Leftovers(const RealNode& node, const HostState& before) {
  std::vector<std::string> left;
  std::error_code ec;
  // Processes: the node's daemons by name, and anything in its cgroups.
  std::set<std::string> in_cgroups;
  for (const auto& h : CgroupHierarchies()) {
    fs::path root = fs::path(h) / node.cgroup;
    if (!fs::exists(root, ec)) continue;
    left.push_back("cgroup " + root.string());
    for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->path().filename() != "cgroup.procs") continue;
      for (absl::string_view pid : absl::StrSplit(ReadFile(it->path()), '\n', absl::SkipEmpty())) in_cgroups.insert(std::string(pid));
    }
  }
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string comm(absl::StripAsciiWhitespace(ReadFile(e.path() / "comm")));
    // comm is cut at 15 characters: containerd-shim-runc-v2 shows as containerd-shim.
    if (comm == "kubelet" || comm == "containerd" || comm == "containerd-shim" || comm == "runc" ||
        in_cgroups.count(pid) > 0) {
      std::string cmdline = ReadFile(e.path() / "cmdline");
      std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
      left.push_back(absl::StrCat("process ", pid, " ", cmdline.substr(0, 120)));
    }
  }
  for (absl::string_view line : absl::StrSplit(ReadFile("/proc/mounts"), '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    for (const auto& d : node.state_dirs) {
      if (f.size() > 1 && (f[1] == d || absl::StartsWith(f[1], d + "/"))) left.push_back("mount " + f[1]);
    }
  }
  if (fs::exists("/sys/class/net/" + node.bridge, ec)) left.push_back("bridge " + node.bridge);
  HostState now = CaptureHostState();
  for (const auto& c : now.iptables_chains) {
    if (before.iptables_chains.count(c) == 0) left.push_back("iptables chain " + c);
  }
  for (const auto& [name, value] : now.sysctls) {
    if (before.sysctls.at(name) != value) {
      left.push_back(absl::StrCat("sysctl ", name, " = ", value, " (was ", before.sysctls.at(name), ")"));
    }
  }
  for (const auto& p : now.paths) {
    if (before.paths.count(p) == 0) left.push_back("path " + p + " (not there before)");
  }
  for (const auto& e : fs::directory_iterator("/var/lib/cni/results", ec)) {
    std::string cached = ReadFile(e.path());
    for (const auto& d : node.state_dirs) {
      if (absl::StrContains(cached, d + "/")) left.push_back("CNI result " + e.path().string());
    }
  }
  for (const auto& d : node.state_dirs) {
    if (fs::exists(d, ec)) left.push_back("directory " + d);
  }
  return left;
}

}  // namespace spotguard::e2e
