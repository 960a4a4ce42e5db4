// Reading the small files spotguard is configured with (kubeconfigs, tokens, certificates).
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace spotguard {

// Reads a whole (small) file; kNotFound / kPermissionDenied / kUnavailable with the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace spotguard
