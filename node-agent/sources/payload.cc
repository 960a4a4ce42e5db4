#include "node-agent/sources/payload.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "node-agent/source.h"

namespace spotguard::agent::sources {

absl::StatusOr<Json> ParseJson(absl::string_view body, absl::string_view what) {
  Json j = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return PollError("malformed", absl::StrCat(what, ": body is not JSON: '", body.substr(0, 80), "'"));
  }
  return j;
}

std::optional<std::string> StringField(const Json& obj, const char* key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

namespace {
absl::StatusOr<absl::Time> Parse(absl::string_view s, const char* format, absl::string_view name) {
  absl::Time t;
  std::string err;
  std::string in(absl::StripAsciiWhitespace(s));
  if (!absl::ParseTime(format, in, absl::UTCTimeZone(), &t, &err)) {
    return absl::InvalidArgumentError(absl::StrCat("'", s, "' is not a ", name, " time"));
  }
  return t;
}
}  // namespace

absl::StatusOr<absl::Time> ParseRfc1123(absl::string_view s) {
  return Parse(s, "%a, %d %b %Y %H:%M:%S GMT", "RFC 1123");
}

absl::StatusOr<absl::Time> ParseAwsEventTime(absl::string_view s) {
  return Parse(s, "%d %b %Y %H:%M:%S GMT", "AWS event");
}

absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view s) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(absl::StripAsciiWhitespace(s)), &t, &err)) {
    return absl::InvalidArgumentError(absl::StrCat("'", s, "' is not an RFC 3339 time"));
  }
  return t;
}

}  // namespace spotguard::agent::sources
