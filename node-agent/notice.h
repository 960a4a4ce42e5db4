// The agent's short names for the shared notice contract (common/notice: keys, Notice,
// codecs, per-kind table), so agent code says Notice and Action::kCordon.
#pragma once

#include "common/notice/kinds.h"
#include "common/notice/notice.h"

namespace spotguard::agent {

namespace v1 = ::spotguard::v1;
using Json = nlohmann::json;

using notice::Action;
using notice::ActionName;
using notice::CloudName;
using notice::DeadlineOf;
using notice::KindName;
using notice::Notice;
using notice::ParseAction;
using notice::ToJson;
using notice::ToProto;

using notice::kAgentAnnotation;
using notice::kDecommissionedAnnotation;
using notice::kEvictingLabel;
using notice::kMaintenanceLabel;
using notice::kNoticeAnnotation;
using notice::kRebalanceLabel;
using notice::kTaintKey;

}  // namespace spotguard::agent
