// The kube-scheduler extender wire contract (k8s.io/kube-scheduler/extender/v1): field names
// are the Go names, capitalised, because the Go types have no json tags.
//
//   request  ExtenderArgs          {"Pod": {...v1.Pod}, "Nodes": {"items": [...]} | null,
//                                   "NodeNames": ["n1", ...] | null}
//   /filter  ExtenderFilterResult  {"Nodes": ..., "NodeNames": [...], "FailedNodes": {"n": "why"},
//                                   "FailedAndUnresolvableNodes": {...}, "Error": ""}
//   /prioritize HostPriorityList   [{"Host": "n1", "Score": 7}, ...]
//
// With nodeCacheCapable: true kube-scheduler sends only NodeNames; otherwise it sends full
// Nodes and reads the Nodes of the answer. We always answer NodeNames, and echo the passing
// Node objects when the request carried them.
//
// Parsing uses simdjson: a 5000-node NodeNames request parses in tens of microseconds; the
// Node objects a full-Nodes filter answer echoes are copied from the request's own text.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "extender/risk/policy.h"
#include "simdjson.h"

namespace spotguard::extender {

struct ExtenderArgs {
  risk::PodInfo pod;
  // The candidates, from NodeNames or from the names of Nodes.items. Views into the parser
  // that produced them: valid until its next Parse.
  std::vector<absl::string_view> node_names;
  bool full_nodes = false;  // the request carried Nodes
  // With ParseOptions::node_json: each Node object's JSON text exactly as the request carried
  // it, by name — what a filter answer echoes, copied rather than re-serialised.
  absl::flat_hash_map<absl::string_view, absl::string_view> node_json;
};

// Parses ExtenderArgs. One per thread: it owns the buffers the parsed views point into.
class ArgsParser {
 public:
  // kInvalidArgument with a message naming the field when the request is not ExtenderArgs.
  // `node_json`: fill ExtenderArgs::node_json when the request carries full Nodes.
  absl::Status Parse(absl::string_view body, ExtenderArgs* out, bool node_json = false);

 private:
  absl::Status FindNodeJson(ExtenderArgs* out);

  simdjson::dom::parser parser_;
  simdjson::ondemand::parser raw_parser_;  // finds the Node objects' text
  std::unique_ptr<char[]> buffer_;        // the request, padded as simdjson reads it
  size_t capacity_ = 0;
  size_t size_ = 0;
};

std::string FilterResultJson(const risk::FilterResult& result, const ExtenderArgs& args);
std::string HostPriorityListJson(const risk::PrioritizeResult& result);
// {"Error": "..."}: the body of every 4xx/5xx answer (and a valid ExtenderFilterResult).
std::string ErrorJson(absl::string_view message);

// Appends `s` as a JSON string literal (quotes included).
void AppendJsonString(std::string& out, absl::string_view s);

}  // namespace spotguard::extender
