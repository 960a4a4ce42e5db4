// The records the extender keeps of API objects: a notice on a node (the shared contract's
// Notice with where it was heard) and a Spark pod, with the readers that make them from
// Node and Pod objects.
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/notice/notice.h"
#include "nlohmann/json.hpp"

namespace spotguard::extender {

using Json = nlohmann::json;
namespace v1 = ::spotguard::v1;

// A notice as the extender knows it: the shared contract's Notice, on a node, heard first on
// a channel.
struct NoticeRecord : notice::Notice {
  std::string node;
  std::string channel;  // where it was first heard: grpc | watch

  // Notice ids are unique per node only (every AWS node's interruption is "aws-spot-terminate"):
  // the extender keys notices by node and id.
  std::string Key() const { return node + "/" + id; }
};

// A problem with a notice written on a node: why it was refused (RejectReason) and the message.
struct NoticeProblem {
  std::string reason, message;
};

// The notices the agent recorded on the node: every active one from its spotguard.io/agent
// record, or (written by other tools) the single spotguard.io/notice. Invalid entries are
// refused into `problems`, each with its reason.
std::vector<NoticeRecord> NoticesFromNode(const Json& node, std::vector<NoticeProblem>* problems);

// A Spark pod as the decommissioner needs it.
struct PodRef {
  std::string namespace_, name, uid, node, resource_version;
  absl::flat_hash_map<std::string, std::string> labels, annotations;
  bool terminating = false;  // deletionTimestamp set
  bool finished = false;     // phase Succeeded or Failed
};

// Reads the fields above from a Pod object.
PodRef PodFrom(const Json& pod);

}  // namespace spotguard::extender
