// A child process for e2e tests — a spotguard daemon, ec2-metadata-mock — with its output
// captured line by line (and copied to a log file), so tests wait on what it says instead of
// sleeping. The child is killed if the test process dies (PR_SET_PDEATHSIG).
//
// Example:
//   auto agent = Process::Start("agent", {bin, "--node_name=n1", ...}, log_dir);
//   auto line = (*agent)->WaitForLine([](absl::string_view l) { return absl::StrContains(l, "serving"); });
//   (*agent)->Signal(SIGTERM);
//   EXPECT_EQ((*agent)->Wait(absl::Seconds(10)), 0);
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace spotguard::e2e {

// The argv prefix that runs a command (appended after it) in a private mount namespace where
// `dir` is seen at /var/run/secrets/kubernetes.io/serviceaccount, the path in-cluster clients
// (client-go's rest.InClusterConfig, fabric8's and Spark's defaults) read a pod's
// ServiceAccount token and CA from: unshare(1) (unprivileged via a user namespace when not
// root) mounts a tmpfs over /var/run's target and binds `dir` there. Fails naming what is
// missing when unshare(1) is not on PATH.
absl::StatusOr<std::vector<std::string>> InPodServiceAccountArgv(const std::string& dir);

class Process {
 public:
  // Starts argv[0] with argv; `env` entries ("K=V") are added to this process's environment.
  static absl::StatusOr<std::unique_ptr<Process>> Start(const std::string& name, std::vector<std::string> argv,
                                                        const std::string& log_dir,
                                                        std::vector<std::string> env = {});
  ~Process();  // SIGKILL if still running

  // The first output line (stdout or stderr) for which `pred` holds, waiting up to `timeout`.
  absl::StatusOr<std::string> WaitForLine(const std::function<bool(absl::string_view)>& pred,
                                          absl::Duration timeout = absl::Seconds(30));
  // Every line so far.
  std::vector<std::string> lines() const;
  // How many lines so far satisfy `pred`.
  int Count(const std::function<bool(absl::string_view)>& pred) const;

  void Signal(int sig);
  // Waits for the exit; the exit code, or -signal if killed, or nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout);
  bool running() const;
  pid_t pid() const { return pid_; }

 private:
  Process() = default;
  void ReadOutput(int fd, std::string log_path);

  std::string name_;
  pid_t pid_ = -1;
  std::thread reader_;
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  bool eof_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<int> exit_code_ ABSL_GUARDED_BY(mu_);
};

// A free TCP port on 127.0.0.1 (bound and released; for tools that cannot take port 0).
int FreePort();

}  // namespace spotguard::e2e
