// Helpers the sources share for reading metadata payloads defensively: typed field access
// that never throws, the clouds' date formats, and the HTTP GET every source does.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/http_client.h"
#include "nlohmann/json.hpp"

namespace spotguard::agent::sources {

using Json = nlohmann::json;

// Bodies bigger than this are refused unread (a metadata document is a few KiB).
inline constexpr size_t kMaxPayloadBytes = 1 << 20;

// Parses a JSON document; PollError("malformed") naming `what` if it is not JSON.
absl::StatusOr<Json> ParseJson(absl::string_view body, absl::string_view what);

// The string at `key` of an object, or nullopt if absent or not a string.
std::optional<std::string> StringField(const Json& obj, const char* key);

// Azure: RFC 1123 "Mon, 19 Sep 2016 18:29:47 GMT".
absl::StatusOr<absl::Time> ParseRfc1123(absl::string_view s);
// AWS scheduled events: "21 Jan 2019 09:00:43 GMT" (day without a leading zero too).
absl::StatusOr<absl::Time> ParseAwsEventTime(absl::string_view s);
// AWS spot instance-action: RFC 3339 "2017-09-18T08:22:00Z".
absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view s);

}  // namespace spotguard::agent::sources
