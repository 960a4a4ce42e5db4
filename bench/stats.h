// Summaries for benchmark samples: percentiles over a sample set, and process resource use
// read from /proc. Header-only; used by every benchmark driver in bench/.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/flags.h"
#include "nlohmann/json.hpp"

namespace spotguard::bench {

// Parses a benchmark's flags: nullopt to go on, else the exit code (0 after --help or
// --version, 2 for a bad flag, said on stderr).
inline std::optional<int> ParseFlags(FlagSet& flags, int argc, char** argv) {
  auto parsed = flags.Parse(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  if (*parsed == FlagSet::Outcome::kExit) return 0;
  return std::nullopt;
}

// Says `s` on stderr; the exit code of a failed benchmark.
inline int Fail(const absl::Status& s) {
  std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
  return 1;
}

struct Summary {
  size_t n = 0;
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
  nlohmann::json ToJson() const { return {{"n", n}, {"mean", mean}, {"p50", p50}, {"p90", p90}, {"p99", p99}, {"max", max}}; }
};

// Nearest-rank percentiles.
inline Summary Summarize(std::vector<double> v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))]; };
  s.n = v.size();
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / v.size();
  s.p50 = pct(0.50);
  s.p90 = pct(0.90);
  s.p99 = pct(0.99);
  s.max = v.back();
  return s;
}

// A field of /proc/<pid>/status in KiB (VmRSS, VmHWM), or -1.
inline int64_t ProcStatusKib(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    int64_t kib = -1;
    if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kib)) return kib;
  }
  return -1;
}

// CPU time a process's live threads have used so far, in microseconds, from the scheduler's
// nanosecond counters (/proc/<pid>/task/*/schedstat) rather than 10 ms clock ticks.
inline int64_t ProcCpuMicros(int pid) {
  int64_t ns = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "schedstat");
    int64_t run = 0;
    if (in >> run) ns += run;
  }
  return ns / 1000;
}

}  // namespace spotguard::bench
