#include "common/notice/notice.h"

#include <initializer_list>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/time_format.h"
#include "google/protobuf/util/time_util.h"

namespace spotguard::notice {
namespace {

constexpr char kReasonUrl[] = "type.spotguard.io/notice-rejected";

absl::Status Reject(absl::string_view reason, absl::string_view message) {
  absl::Status s = absl::InvalidArgumentError(message);
  s.SetPayload(kReasonUrl, absl::Cord(reason));
  return s;
}

template <typename Enum>
absl::StatusOr<Enum> ParseName(absl::string_view name, std::initializer_list<Enum> all,
                               absl::string_view (*to_name)(Enum), absl::string_view what) {
  for (Enum e : all) {
    if (name == to_name(e)) return e;
  }
  return Reject(what, absl::StrCat("unknown ", what, " '", name.substr(0, 64), "'"));
}

std::string TimeOrEmpty(absl::Time t) { return t == absl::InfinitePast() ? "" : FormatApiTime(t); }

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(t));
}

}  // namespace

absl::string_view CloudName(v1::Cloud cloud) {
  switch (cloud) {
    case v1::CLOUD_AZURE: return "azure";
    case v1::CLOUD_AWS: return "aws";
    case v1::CLOUD_GCP: return "gcp";
    default: return "unknown";
  }
}

absl::string_view KindName(v1::NoticeKind kind) {
  switch (kind) {
    case v1::NOTICE_KIND_EVICTION: return "eviction";
    case v1::NOTICE_KIND_MAINTENANCE: return "maintenance";
    case v1::NOTICE_KIND_REBALANCE: return "rebalance";
    default: return "unknown";
  }
}

absl::string_view ActionName(Action action) {
  switch (action) {
    case Action::kCordon: return "cordon";
    case Action::kLabel: return "label";
    case Action::kReport: return "report";
  }
  return "report";
}

absl::StatusOr<v1::Cloud> ParseCloud(absl::string_view name) {
  return ParseName<v1::Cloud>(name, {v1::CLOUD_AZURE, v1::CLOUD_AWS, v1::CLOUD_GCP}, CloudName, "cloud");
}

absl::StatusOr<v1::NoticeKind> ParseKind(absl::string_view name) {
  return ParseName<v1::NoticeKind>(
      name, {v1::NOTICE_KIND_EVICTION, v1::NOTICE_KIND_MAINTENANCE, v1::NOTICE_KIND_REBALANCE}, KindName, "kind");
}

absl::StatusOr<Action> ParseAction(absl::string_view name) {
  for (Action a : {Action::kCordon, Action::kLabel, Action::kReport}) {
    if (name == ActionName(a)) return a;
  }
  return Reject("action", absl::StrCat("action must be cordon, label or report, not '", name.substr(0, 64), "'"));
}

absl::Time DeadlineOf(const Notice& n, absl::Duration window) {
  if (n.not_before != absl::InfinitePast()) return n.not_before;
  return n.detected_at + window;
}

absl::Status Validate(const Notice& n) {
  if (n.id.empty()) return Reject("id", "notice has no id");
  if (n.id.size() > kMaxIdLength) return Reject("id", absl::StrCat("notice id is longer than ", kMaxIdLength, " bytes"));
  for (char c : n.id) {
    if (absl::ascii_iscntrl(c)) return Reject("id", "notice id holds a control character");
  }
  if (CloudName(n.cloud) == "unknown") return Reject("cloud", "notice cloud must be azure, aws or gcp");
  if (KindName(n.kind) == "unknown") return Reject("kind", "notice kind must be eviction, maintenance or rebalance");
  return absl::OkStatus();
}

std::string RejectReason(const absl::Status& s) {
  auto p = s.GetPayload(kReasonUrl);
  return p.has_value() ? std::string(*p) : "other";
}

Json ToJson(const Notice& n) {
  return {{"id", n.id},
          {"cloud", CloudName(n.cloud)},
          {"kind", KindName(n.kind)},
          {"rawAction", n.raw_action},
          {"notBefore", TimeOrEmpty(n.not_before)},
          {"detectedAt", TimeOrEmpty(n.detected_at)},
          {"source", n.source},
          {"description", n.description},
          {"action", ActionName(n.action)},
          {"acknowledgeable", n.acknowledgeable}};
}

absl::StatusOr<Notice> FromJson(const Json& j, Action default_action) {
  if (!j.is_object()) return Reject("not_object", "notice is not a JSON object");
  Notice n;
  n.id = Str(j, "id");
  auto cloud = ParseCloud(Str(j, "cloud"));
  if (!cloud.ok()) return cloud.status();
  n.cloud = *cloud;
  auto kind = ParseKind(Str(j, "kind"));
  if (!kind.ok()) return kind.status();
  n.kind = *kind;
  n.raw_action = Str(j, "rawAction");
  for (auto [key, field] : {std::pair{"notBefore", &n.not_before}, std::pair{"detectedAt", &n.detected_at}}) {
    std::string v = Str(j, key);
    if (v.empty()) continue;
    auto t = ParseApiTime(v);
    if (!t.ok()) return Reject("time", absl::StrCat(key, ": ", t.status().message()));
    *field = *t;
  }
  n.source = Str(j, "source");
  n.description = Str(j, "description");
  const std::string action = Str(j, "action");
  if (action.empty()) {
    n.action = default_action;
  } else {
    auto a = ParseAction(action);
    if (!a.ok()) return a.status();
    n.action = *a;
  }
  auto ack = j.find("acknowledgeable");
  n.acknowledgeable = ack != j.end() && ack->is_boolean() && ack->get<bool>();
  if (absl::Status s = Validate(n); !s.ok()) return s;
  return n;
}

v1::Notice ToProto(const Notice& n) {
  v1::Notice p;
  p.set_id(n.id);
  p.set_cloud(n.cloud);
  p.set_kind(n.kind);
  p.set_raw_action(n.raw_action);
  if (n.not_before != absl::InfinitePast()) *p.mutable_not_before() = ToTimestamp(n.not_before);
  if (n.detected_at != absl::InfinitePast()) *p.mutable_detected_at() = ToTimestamp(n.detected_at);
  p.set_description(n.description);
  p.set_source(n.source);
  p.set_action(std::string(ActionName(n.action)));
  return p;
}

absl::StatusOr<Notice> FromProto(const v1::Notice& p) {
  Notice n;
  n.id = p.id();
  n.cloud = p.cloud();
  n.kind = p.kind();
  n.raw_action = p.raw_action();
  if (p.has_not_before()) n.not_before = FromTimestamp(p.not_before());
  if (p.has_detected_at()) n.detected_at = FromTimestamp(p.detected_at());
  n.description = p.description();
  n.source = p.source();
  if (p.action().empty()) {
    n.action = Action::kCordon;
  } else {
    auto a = ParseAction(p.action());
    if (!a.ok()) return a.status();
    n.action = *a;
  }
  if (absl::Status s = Validate(n); !s.ok()) return s;
  return n;
}

}  // namespace spotguard::notice
