// RFC 3339 times as the Kubernetes API and spotguard's annotations write them.
//
// Example:
//   FormatApiTime(absl::FromUnixSeconds(0));        // "1970-01-01T00:00:00Z"
//   ParseApiTime("2026-11-22T07:45:00.5+01:00");    // ok: fractions and offsets are read
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace spotguard {

// Whole seconds, UTC ("2026-11-22T07:45:00Z"): metav1.Time.
std::string FormatApiTime(absl::Time t);
// Microseconds, UTC: metav1.MicroTime.
std::string FormatApiMicroTime(absl::Time t);
// Any RFC 3339 time; kInvalidArgument naming the text otherwise.
absl::StatusOr<absl::Time> ParseApiTime(absl::string_view s);

}  // namespace spotguard
