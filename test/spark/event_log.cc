#include "test/spark/event_log.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace spotguard::spark {
namespace {

using Json = nlohmann::json;

// Spark's own event-log codecs (spark.eventLog.compression.codec); zlib reads none of them.
constexpr absl::string_view kSparkCodecs[] = {".zstd", ".lz4", ".lzf", ".snappy"};

absl::Status RefuseSparkCodec(const std::string& path) {
  absl::string_view p = absl::StripSuffix(path, ".inprogress");
  for (absl::string_view codec : kSparkCodecs) {
    if (absl::EndsWith(p, codec)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": compressed with Spark's ", codec.substr(1),
          " codec, which this reader does not decode; run the application with "
          "spark.eventLog.compress=false (gzip the file afterwards if it is large)"));
    }
  }
  return absl::OkStatus();
}

// Gunzips `gz` (one or more gzip members). Input that ends mid-stream — a gzipped log copied
// while it was being written — yields what was decoded up to there.
absl::StatusOr<std::string> Gunzip(const std::string& gz, const std::string& path) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return absl::InternalError("inflateInit2 failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[1 << 16];
  int rc = Z_OK;
  while (z.avail_in > 0) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    if (rc == Z_STREAM_END) {
      inflateReset(&z);  // another member may follow
    } else if (rc == Z_BUF_ERROR) {
      break;  // cut short
    } else if (rc != Z_OK) {
      std::string msg = z.msg != nullptr ? z.msg : "corrupt gzip data";
      inflateEnd(&z);
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", msg));
    }
  }
  inflateEnd(&z);
  return out;
}

// Reads a whole file, gunzipping it if it is gzipped.
absl::StatusOr<std::string> ReadMaybeGzipped(const std::string& path) {
  if (absl::Status s = RefuseSparkCodec(path); !s.ok()) return s;
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::UnavailableError(absl::StrCat(path, ": cannot open"));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::UnavailableError(absl::StrCat(path, ": read error"));
  if (bytes.size() >= 2 && bytes[0] == '\x1f' && bytes[1] == '\x8b') return Gunzip(bytes, path);
  return bytes;
}

// A rolling log directory's parts ("events_<n>_<app>[.codec]") in order of <n>.
absl::StatusOr<std::vector<std::string>> RollingParts(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> parts;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!absl::StartsWith(name, "events_")) continue;
    std::vector<absl::string_view> fields = absl::StrSplit(name, absl::MaxSplits('_', 2));
    int64_t index;
    if (fields.size() < 3 || !absl::SimpleAtoi(fields[1], &index)) continue;
    parts.emplace_back(index, entry.path().string());
  }
  if (ec) return absl::UnavailableError(absl::StrCat(dir, ": cannot list: ", ec.message()));
  if (parts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": a directory without events_<n>_<app> files"));
  }
  std::sort(parts.begin(), parts.end());
  std::vector<std::string> paths;
  for (auto& [index, path] : parts) paths.push_back(std::move(path));
  return paths;
}

absl::Time FromMillis(const Json& v) { return absl::FromUnixMillis(v.get<int64_t>()); }

int64_t IntOr(const Json& obj, const char* key, int64_t fallback) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

std::string StringOr(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The wall time a task attempt held its executor slot, in seconds (0 if unknown).
double AttemptSeconds(const Json& task_info) {
  int64_t launch = IntOr(task_info, "Launch Time", 0);
  int64_t finish = IntOr(task_info, "Finish Time", 0);
  return launch > 0 && finish > launch ? static_cast<double>(finish - launch) / 1000.0 : 0.0;
}

// Folds events into a SparkOutcome.
class Analysis {
 public:
  // Applies one event; throws nlohmann::json::exception on a field of the wrong type.
  void Apply(const Json& e, const std::string& event) {
    if (event == "SparkListenerLogStart") {
      out_.spark_version = StringOr(e, "Spark Version");
    } else if (event == "SparkListenerApplicationStart") {
      out_.app_id = StringOr(e, "App ID");
      out_.app_name = StringOr(e, "App Name");
      app_start_ = FromMillis(e.at("Timestamp"));
    } else if (event == "SparkListenerApplicationEnd") {
      out_.complete = true;
      app_end_ = FromMillis(e.at("Timestamp"));
    } else if (event == "SparkListenerJobStart") {
      SparkJob job;
      job.id = e.at("Job ID").get<int64_t>();
      job.submitted = FromMillis(e.at("Submission Time"));
      out_.jobs.push_back(job);
    } else if (event == "SparkListenerJobEnd") {
      int64_t id = e.at("Job ID").get<int64_t>();
      for (SparkJob& job : out_.jobs) {
        if (job.id != id) continue;
        job.completed = FromMillis(e.at("Completion Time"));
        job.result = StringOr(e.at("Job Result"), "Result");
      }
    } else if (event == "SparkListenerStageSubmitted") {
      const Json& info = e.at("Stage Info");
      int64_t stage = info.at("Stage ID").get<int64_t>();
      int64_t attempt = info.at("Stage Attempt ID").get<int64_t>();
      if (!stage_attempts_.insert({stage, attempt}).second) return;
      auto [it, first] = first_attempt_.try_emplace(stage, attempt, info.at("Number of Tasks").get<int64_t>());
      if (!first && attempt < it->second.first) {
        it->second = {attempt, info.at("Number of Tasks").get<int64_t>()};
      }
    } else if (event == "SparkListenerStageCompleted") {
      const Json& info = e.at("Stage Info");
      if (info.contains("Failure Reason")) {
        ++out_.failed_stage_attempts;
      } else {
        out_.stages_completed.insert(info.at("Stage ID").get<int64_t>());
      }
    } else if (event == "SparkListenerTaskStart") {
      ++out_.tasks_launched;
    } else if (event == "SparkListenerTaskEnd") {
      TaskEnd(e);
    } else if (event == "SparkListenerExecutorAdded") {
      ++out_.executors_added;
    } else if (event == "SparkListenerExecutorRemoved") {
      ExecutorRemoval r;
      r.executor_id = e.at("Executor ID").get<std::string>();
      r.reason = StringOr(e, "Removed Reason");
      // ExecutorDecommission's message (core/.../scheduler/ExecutorLossReason.scala).
      r.decommissioned = absl::StartsWith(r.reason, "Executor decommission");
      removed_.insert(r.executor_id);
      if (r.decommissioned) decommissioned_.insert(r.executor_id);
      out_.removals.push_back(std::move(r));
    }
  }

  SparkOutcome Finish() && {
    for (const auto& [stage, first] : first_attempt_) out_.min_tasks += first.second;
    out_.stages = static_cast<int64_t>(first_attempt_.size());
    out_.stage_attempts = static_cast<int64_t>(stage_attempts_.size());
    out_.stage_retries = out_.stage_attempts - out_.stages;
    out_.executors_removed = static_cast<int64_t>(removed_.size());
    out_.executors_decommissioned = static_cast<int64_t>(decommissioned_.size());
    if (app_start_ != absl::InfinitePast() && app_end_ != absl::InfinitePast()) {
      out_.app_duration = app_end_ - app_start_;
    }
    absl::Time first = absl::InfiniteFuture(), last = absl::InfinitePast();
    for (const SparkJob& job : out_.jobs) {
      first = std::min(first, job.submitted);
      last = std::max(last, job.completed);
    }
    if (last != absl::InfinitePast() && first != absl::InfiniteFuture()) out_.job_duration = last - first;
    return std::move(out_);
  }

 private:
  void TaskEnd(const Json& e) {
    const Json& info = e.at("Task Info");
    std::string reason = e.at("Task End Reason").at("Reason").get<std::string>();
    double seconds = AttemptSeconds(info);
    if (reason == "Resubmitted") {
      ++out_.tasks_resubmitted;
      return;
    }
    if (reason != "Success") {
      ++out_.failed_tasks;
      ++out_.failed_by_reason[reason];
      out_.executor_seconds_lost += seconds;
      return;
    }
    ++out_.tasks_succeeded;
    if (StringOr(e, "Task Type") != "ShuffleMapTask") return;
    // "Partition ID" (Spark 3.3+) names the partition; "Index" is the position in the stage
    // attempt's task set, which is the partition only in a first attempt.
    int64_t partition = IntOr(info, "Partition ID", -1);
    if (partition < 0) partition = info.at("Index").get<int64_t>();
    auto key = std::make_pair(e.at("Stage ID").get<int64_t>(), partition);
    auto [it, first] = map_success_seconds_.try_emplace(key, seconds);
    if (!first) {
      ++out_.map_outputs_recomputed;
      out_.executor_seconds_lost += it->second;  // the superseded success's work
      it->second = seconds;
    }
  }

  SparkOutcome out_;
  absl::Time app_start_ = absl::InfinitePast();
  absl::Time app_end_ = absl::InfinitePast();
  std::set<std::pair<int64_t, int64_t>> stage_attempts_;
  // Stage ID → (lowest attempt submitted, its Number of Tasks).
  std::map<int64_t, std::pair<int64_t, int64_t>> first_attempt_;
  // (stage ID, partition) of a successful shuffle-map attempt → that attempt's seconds.
  std::map<std::pair<int64_t, int64_t>, double> map_success_seconds_;
  std::set<std::string> removed_;
  std::set<std::string> decommissioned_;
};

}  // namespace

absl::StatusOr<SparkOutcome> AnalyzeEventLogText(absl::string_view text, absl::string_view name) {
  Analysis analysis;
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  // The index of the last non-blank line: the only one allowed to be cut short.
  size_t last = lines.size();
  for (size_t i = lines.size(); i-- > 0;) {
    if (!absl::StripAsciiWhitespace(lines[i]).empty()) {
      last = i;
      break;
    }
  }
  int64_t events = 0;
  bool truncated = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::string_view line = absl::StripAsciiWhitespace(lines[i]);
    if (line.empty()) continue;
    Json e = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (e.is_discarded()) {
      if (i == last && events > 0) {
        truncated = true;
        break;
      }
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": line ", i + 1, " is not JSON (not a Spark event log?)"));
    }
    auto event = e.is_object() ? e.find("Event") : e.end();
    if (!e.is_object() || event == e.end() || !event->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": line ", i + 1, " is not a Spark event (no string \"Event\" field)"));
    }
    try {
      analysis.Apply(e, event->get<std::string>());
    } catch (const Json::exception& ex) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": line ", i + 1, " (", event->get<std::string>(), "): ", ex.what()));
    }
    ++events;
  }
  if (events == 0) return absl::InvalidArgumentError(absl::StrCat(name, ": no Spark events"));
  SparkOutcome out = std::move(analysis).Finish();
  out.truncated = truncated;
  return out;
}

absl::StatusOr<SparkOutcome> AnalyzeEventLog(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  if (!std::filesystem::is_directory(path, ec)) {
    absl::StatusOr<std::string> text = ReadMaybeGzipped(path);
    if (!text.ok()) return text.status();
    return AnalyzeEventLogText(*text, path);
  }
  absl::StatusOr<std::vector<std::string>> parts = RollingParts(path);
  if (!parts.ok()) return parts.status();
  std::string text;
  for (const std::string& part : *parts) {
    absl::StatusOr<std::string> t = ReadMaybeGzipped(part);
    if (!t.ok()) return t.status();
    text += *t;
    if (!text.empty() && text.back() != '\n') text += '\n';
  }
  return AnalyzeEventLogText(text, path);
}

std::string Summary(const SparkOutcome& o) {
  std::string failed = absl::StrCat(o.failed_tasks, " failed");
  if (!o.failed_by_reason.empty()) {
    // Most frequent reason first; ties by name.
    std::vector<std::pair<std::string, int64_t>> reasons(o.failed_by_reason.begin(), o.failed_by_reason.end());
    std::stable_sort(reasons.begin(), reasons.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    absl::StrAppend(&failed, " (",
                    absl::StrJoin(reasons, ", ",
                                  [](std::string* s, const auto& r) { absl::StrAppend(s, r.second, " ", r.first); }),
                    ")");
  }
  std::string s = absl::StrFormat(
      "%d tasks (min %d), %s, %d map outputs recomputed, %d stage retries, %.1f executor-s lost, job %.1f s",
      o.tasks_launched, o.min_tasks, failed, o.map_outputs_recomputed, o.stage_retries, o.executor_seconds_lost,
      absl::ToDoubleSeconds(o.job_duration));
  if (o.executors_removed > 0) {
    absl::StrAppend(&s, ", executors ", o.executors_removed, " removed (", o.executors_decommissioned,
                    " decommissioned)");
  }
  if (!o.complete) absl::StrAppend(&s, ", incomplete");
  return s;
}

}  // namespace spotguard::spark
