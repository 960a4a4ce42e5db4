#include "common/log.h"

#include <atomic>
#include <cstdio>

#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"

namespace spotguard::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

struct Output {
  absl::Mutex mu;
  std::string component = "spotguard";
  std::function<void(absl::string_view)> sink;
};

Output& output() {
  static Output* o = new Output();
  return *o;
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

}  // namespace

void SetLevel(Level level) { g_level = static_cast<int>(level); }

absl::Status SetLevel(absl::string_view name) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (name == LevelName(l)) {
      SetLevel(l);
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(
      std::string("log level must be debug, info, warn or error, not '") + std::string(name) + "'");
}

void SetComponent(std::string component) {
  absl::MutexLock lock(&output().mu);
  output().component = std::move(component);
}

void SetSink(std::function<void(absl::string_view)> sink) {
  absl::MutexLock lock(&output().mu);
  output().sink = std::move(sink);
}

bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

std::string Format(Level level, absl::string_view msg, Fields fields, absl::Time now) {
  nlohmann::ordered_json j;
  j["ts"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone());
  j["level"] = LevelName(level);
  {
    absl::MutexLock lock(&output().mu);
    j["component"] = output().component;
  }
  j["msg"] = msg;
  for (const Field& f : fields) {
    std::visit([&](const auto& v) { j[std::string(f.key)] = v; }, f.value.get());
  }
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void Write(Level level, absl::string_view msg, Fields fields) {
  if (!Enabled(level)) return;
  std::string line = Format(level, msg, fields, absl::Now());
  absl::MutexLock lock(&output().mu);
  if (output().sink) {
    output().sink(line);
  } else {
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  }
}

}  // namespace spotguard::log
