// Structured logs: one JSON object per line on stderr.
//
// Example:
//   log::Info("node cordoned", {{"node", node}, {"notice_id", id}, {"took_s", 0.12}});
//   // {"ts":"2026-11-22T07:45:00.123Z","level":"info","component":"agent",
//   //  "msg":"node cordoned","node":"aks-spot-1","notice_id":"A1B2","took_s":0.12}
//
// Thread-safe: each line is written with one call to the sink.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/strings/string_view.h"

namespace spotguard::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// A field value: strings, integers, floating point, booleans; Status, Duration (as seconds)
// and Time (as RFC 3339) convert on the way in.
class Value {
 public:
  Value(const char* s) : v_(std::string(s)) {}
  Value(absl::string_view s) : v_(std::string(s)) {}
  Value(const std::string& s) : v_(s) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(int64_t{i}) {}
  Value(long i) : v_(int64_t{i}) {}
  Value(long long i) : v_(int64_t{i}) {}
  Value(unsigned i) : v_(int64_t{i}) {}
  Value(unsigned long i) : v_(static_cast<int64_t>(i)) {}
  Value(double d) : v_(d) {}
  Value(const absl::Status& s) : v_(s.ToString()) {}
  Value(absl::Duration d) : v_(absl::ToDoubleSeconds(d)) {}
  Value(absl::Time t) : v_(absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone())) {}

  const std::variant<std::string, int64_t, double, bool>& get() const { return v_; }

 private:
  std::variant<std::string, int64_t, double, bool> v_;
};

struct Field {
  absl::string_view key;
  Value value;
};
using Fields = std::initializer_list<Field>;

// Process-wide settings, set once at start-up by main().
void SetLevel(Level level);
absl::Status SetLevel(absl::string_view name);  // "debug" | "info" | "warn" | "error"
void SetComponent(std::string component);
// Replaces the output (default: stderr). Tests capture lines with it.
void SetSink(std::function<void(absl::string_view line)> sink);

bool Enabled(Level level);
void Write(Level level, absl::string_view msg, Fields fields);
// The line Write would emit, without writing it.
std::string Format(Level level, absl::string_view msg, Fields fields, absl::Time now);

inline void Debug(absl::string_view msg, Fields fields = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, msg, fields);
}
inline void Info(absl::string_view msg, Fields fields = {}) { Write(Level::kInfo, msg, fields); }
inline void Warn(absl::string_view msg, Fields fields = {}) { Write(Level::kWarn, msg, fields); }
inline void Error(absl::string_view msg, Fields fields = {}) { Write(Level::kError, msg, fields); }

}  // namespace spotguard::log
