#include "extender/wire.h"

#include "absl/strings/str_cat.h"

namespace spotguard::extender {
namespace {

absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status Bad(absl::string_view what) { return absl::InvalidArgumentError(what); }

absl::Status ReadStringMap(simdjson::dom::element e, absl::string_view what,
                           absl::flat_hash_map<std::string, std::string>* out) {
  if (e.is_null()) return absl::OkStatus();
  simdjson::dom::object obj;
  if (e.get(obj) != simdjson::SUCCESS) return Bad(absl::StrCat(what, " must be an object of strings"));
  for (auto [k, v] : obj) {
    std::string_view s;
    if (v.get(s) != simdjson::SUCCESS) return Bad(absl::StrCat(what, "[", View(k), "] must be a string"));
    out->emplace(std::string(k), std::string(s));
  }
  return absl::OkStatus();
}

absl::Status ReadPod(simdjson::dom::element pod, risk::PodInfo* out) {
  simdjson::dom::object obj;
  if (pod.get(obj) != simdjson::SUCCESS) return Bad("ExtenderArgs.Pod must be an object");
  simdjson::dom::element meta;
  if (obj["metadata"].get(meta) != simdjson::SUCCESS || !meta.is_object()) {
    return Bad("ExtenderArgs.Pod.metadata is missing or not an object");
  }
  std::string_view s;
  if (meta["name"].get(s) == simdjson::SUCCESS) out->name = std::string(s);
  if (meta["namespace"].get(s) == simdjson::SUCCESS) out->namespace_ = std::string(s);
  if (meta["uid"].get(s) == simdjson::SUCCESS) out->uid = std::string(s);
  simdjson::dom::element m;
  if (meta["labels"].get(m) == simdjson::SUCCESS) {
    if (auto st = ReadStringMap(m, "Pod.metadata.labels", &out->labels); !st.ok()) return st;
  }
  if (meta["annotations"].get(m) == simdjson::SUCCESS) {
    if (auto st = ReadStringMap(m, "Pod.metadata.annotations", &out->annotations); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ArgsParser::Parse(absl::string_view body, ExtenderArgs* out) {
  *out = ExtenderArgs{};
  simdjson::dom::element doc;
  if (auto err = parser_.parse(body.data(), body.size()).get(doc); err != simdjson::SUCCESS) {
    return Bad(absl::StrCat("request body is not JSON: ", simdjson::error_message(err)));
  }
  simdjson::dom::object args;
  if (doc.get(args) != simdjson::SUCCESS) return Bad("request body must be a JSON object (ExtenderArgs)");
  simdjson::dom::element pod, names, nodes;
  if (args["Pod"].get(pod) != simdjson::SUCCESS || pod.is_null()) return Bad("ExtenderArgs.Pod is missing");
  if (auto st = ReadPod(pod, &out->pod); !st.ok()) return st;

  const bool has_names = args["NodeNames"].get(names) == simdjson::SUCCESS && !names.is_null();
  const bool has_nodes = args["Nodes"].get(nodes) == simdjson::SUCCESS && !nodes.is_null();
  if (!has_names && !has_nodes) return Bad("ExtenderArgs has neither Nodes nor NodeNames");
  if (has_nodes) {
    simdjson::dom::array items;
    if (!nodes.is_object() || nodes["items"].get(items) != simdjson::SUCCESS) {
      return Bad("ExtenderArgs.Nodes must be a NodeList with an items array");
    }
    out->full_nodes = true;
    out->node_names.reserve(items.size());
    for (simdjson::dom::element item : items) {
      std::string_view name;
      if (item.at_pointer("/metadata/name").get(name) != simdjson::SUCCESS || name.empty()) {
        return Bad("ExtenderArgs.Nodes.items[] needs metadata.name");
      }
      out->node_names.push_back(View(name));
      out->node_objects.emplace(View(name), item);
    }
    return absl::OkStatus();
  }
  simdjson::dom::array list;
  if (names.get(list) != simdjson::SUCCESS) return Bad("ExtenderArgs.NodeNames must be an array of strings");
  out->node_names.reserve(list.size());
  for (simdjson::dom::element e : list) {
    std::string_view name;
    if (e.get(name) != simdjson::SUCCESS) return Bad("ExtenderArgs.NodeNames must be an array of strings");
    out->node_names.push_back(View(name));
  }
  return absl::OkStatus();
}

void AppendJsonString(std::string& out, absl::string_view s) {
  static const char* hex = "0123456789abcdef";
  out.push_back('"');
  // Node names never need escaping: one branch-free pass (vectorised) decides, and a plain
  // string is copied whole.
  bool plain = true;
  for (unsigned char c : s) plain &= (c >= 0x20) & (c != '"') & (c != '\\');
  if (plain) {
    out.append(s.data(), s.size());
    out.push_back('"');
    return;
  }
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

namespace {
void AppendReasons(std::string& out, const std::vector<std::pair<absl::string_view, std::string>>& reasons) {
  out.push_back('{');
  for (size_t i = 0; i < reasons.size(); ++i) {
    if (i) out.push_back(',');
    AppendJsonString(out, reasons[i].first);
    out.push_back(':');
    AppendJsonString(out, reasons[i].second);
  }
  out.push_back('}');
}
}  // namespace

std::string FilterResultJson(const risk::FilterResult& r, const ExtenderArgs& args) {
  std::string out;
  out.reserve(64 + r.passed.size() * 24);
  out += "{\"Nodes\":";
  if (args.full_nodes) {
    out += "{\"metadata\":{},\"items\":[";
    for (size_t i = 0; i < r.passed.size(); ++i) {
      if (i) out.push_back(',');
      auto it = args.node_objects.find(r.passed[i]);
      out += it == args.node_objects.end() ? std::string("{}") : simdjson::minify(it->second);
    }
    out += "]}";
  } else {
    out += "null";
  }
  out += ",\"NodeNames\":[";
  for (size_t i = 0; i < r.passed.size(); ++i) {
    if (i) out.push_back(',');
    AppendJsonString(out, r.passed[i]);
  }
  out += "],\"FailedNodes\":";
  AppendReasons(out, r.failed);
  out += ",\"FailedAndUnresolvableNodes\":";
  AppendReasons(out, r.unresolvable);
  out += ",\"Error\":";
  AppendJsonString(out, r.error);
  out.push_back('}');
  return out;
}

std::string HostPriorityListJson(const risk::PrioritizeResult& r) {
  std::string out;
  out.reserve(2 + r.scores.size() * 32);
  out.push_back('[');
  for (size_t i = 0; i < r.scores.size(); ++i) {
    if (i) out.push_back(',');
    out += "{\"Host\":";
    AppendJsonString(out, r.scores[i].first);
    out += ",\"Score\":";
    const int score = r.scores[i].second;  // 0..10
    if (score >= 10) out.push_back('0' + score / 10);
    out.push_back('0' + score % 10);
    out.push_back('}');
  }
  out.push_back(']');
  return out;
}

std::string ErrorJson(absl::string_view message) {
  std::string out = "{\"Error\":";
  AppendJsonString(out, message);
  out.push_back('}');
  return out;
}

}  // namespace spotguard::extender
