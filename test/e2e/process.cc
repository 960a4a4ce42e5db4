#include "test/e2e/process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace spotguard::e2e {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

absl::StatusOr<std::vector<std::string>> InPodServiceAccountArgv(const std::string& dir) {
  // Mounts a tmpfs over /var/run's target in the new mount namespace, binds $1 at the
  // ServiceAccount path under it and runs the rest of the arguments.
  static constexpr char kScript[] =
      "set -e; run=$(readlink -f /var/run); mount -t tmpfs tmpfs \"$run\"; "
      "mkdir -p \"$run/secrets/kubernetes.io/serviceaccount\"; "
      "mount --bind \"$1\" \"$run/secrets/kubernetes.io/serviceaccount\"; shift; exec \"$@\"";
  std::string unshare;
  for (absl::string_view d : absl::StrSplit(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin", ':')) {
    if (std::string p = absl::StrCat(d, "/unshare"); access(p.c_str(), X_OK) == 0) {
      unshare = p;
      break;
    }
  }
  if (unshare.empty()) {
    return absl::FailedPreconditionError("unshare(1) (util-linux) is not on PATH: needed to show a process its in-pod ServiceAccount path");
  }
  std::vector<std::string> argv = {unshare, "--mount"};
  if (geteuid() != 0) argv.push_back("--map-root-user");
  argv.insert(argv.end(), {"/bin/sh", "-c", kScript, "sh", dir});
  return argv;
}

absl::StatusOr<std::unique_ptr<Process>> Process::Start(const std::string& name, std::vector<std::string> argv,
                                                         const std::string& log_dir, std::vector<std::string> env) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  for (char** e = environ; *e != nullptr; ++e) env.insert(env.begin(), *e);
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    // Unblock signals the test process may have blocked.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(cargv[0], cargv.data(), cenv.data());
    std::fprintf(stderr, "exec %s failed: %s\n", cargv[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  std::unique_ptr<Process> p(new Process());
  p->name_ = name;
  p->pid_ = pid;
  p->reader_ = std::thread([proc = p.get(), fd = fds[0], path = absl::StrCat(log_dir, "/", name, ".log")] {
    proc->ReadOutput(fd, path);
  });
  return p;
}

void Process::ReadOutput(int fd, std::string log_path) {
  std::ofstream log(log_path, std::ios::app);
  std::string pending;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
    pending.append(buf, n);
    log.write(buf, n);
    log.flush();
    size_t start = 0, nl;
    std::vector<std::string> complete;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      complete.push_back(pending.substr(start, nl - start));
      start = nl + 1;
    }
    pending.erase(0, start);
    absl::MutexLock lock(&mu_);
    for (auto& l : complete) lines_.push_back(std::move(l));
  }
  close(fd);
  absl::MutexLock lock(&mu_);
  if (!pending.empty()) lines_.push_back(pending);
  eof_ = true;
}

Process::~Process() {
  if (running()) {
    kill(pid_, SIGKILL);
    Wait(absl::Seconds(10));
  }
  if (reader_.joinable()) reader_.join();
}

absl::StatusOr<std::string> Process::WaitForLine(const std::function<bool(absl::string_view)>& pred,
                                                 absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  size_t checked = 0;
  std::optional<std::string> found;
  // absl::Mutex may evaluate the condition more than once: each line goes to `pred` once
  // (callers count matches), and a match stays found.
  auto match = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (found.has_value()) return true;
    for (; checked < lines_.size(); ++checked) {
      if (pred(lines_[checked])) {
        found = lines_[checked++];
        return true;
      }
    }
    return eof_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&match), timeout);
  if (found.has_value()) return *found;
  std::string tail;
  for (size_t i = lines_.size() > 20 ? lines_.size() - 20 : 0; i < lines_.size(); ++i) absl::StrAppend(&tail, lines_[i], "\n");
  return absl::DeadlineExceededError(absl::StrCat(name_, eof_ ? " exited" : " said nothing matching",
                                                  " within ", absl::FormatDuration(timeout), "; last lines:\n", tail));
}

std::vector<std::string> Process::lines() const {
  absl::MutexLock lock(&mu_);
  return lines_;
}

int Process::Count(const std::function<bool(absl::string_view)>& pred) const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const auto& l : lines_) n += pred(l);
  return n;
}

void Process::Signal(int sig) {
  if (running()) kill(pid_, sig);
}

bool Process::running() const {
  absl::MutexLock lock(&mu_);
  return !exit_code_.has_value() && pid_ > 0;
}

std::optional<int> Process::Wait(absl::Duration timeout) {
  {
    absl::MutexLock lock(&mu_);
    if (exit_code_.has_value()) return exit_code_;
  }
  // The child's output closes when it exits; wait for that, then reap it.
  {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&eof_), timeout);
    if (!eof_) return std::nullopt;
  }
  int status = 0;
  if (waitpid(pid_, &status, 0) != pid_) return std::nullopt;
  absl::MutexLock lock(&mu_);
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return exit_code_;
}

}  // namespace spotguard::e2e
