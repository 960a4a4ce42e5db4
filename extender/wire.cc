#include "extender/wire.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

absl::Status ArgsParser::Parse(absl::string_view body, ExtenderArgs* out, bool node_json) {
  *out = ExtenderArgs{};
  // One padded copy that both parsers read and every view points into.
  if (capacity_ < body.size() + simdjson::SIMDJSON_PADDING) {
    capacity_ = std::max(2 * capacity_, body.size() + simdjson::SIMDJSON_PADDING);
    buffer_.reset(new char[capacity_]);
  }
  std::memcpy(buffer_.get(), body.data(), body.size());
  std::memset(buffer_.get() + body.size(), 0, simdjson::SIMDJSON_PADDING);
  size_ = body.size();
  simdjson::dom::element doc;
  if (auto err = parser_.parse(buffer_.get(), size_, /*realloc_if_needed=*/false).get(doc); err != simdjson::SUCCESS) {
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
    }
    return node_json ? FindNodeJson(out) : absl::OkStatus();
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

namespace {
// Whether any byte of `s` needs escaping in a JSON string (a control character, '"' or '\\').
// Node names never do, and with every name of a 5000-node answer checked this is a good part of
// writing it: sixteen bytes at a time with SSE2, eight at a time elsewhere.
bool NeedsEscape(absl::string_view s) {
#ifdef __SSE2__
  if (s.size() >= 16) {
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x1f);
    auto bad = [&](size_t at) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + at));
      const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, space), v);  // v <= 0x1f
      return _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                            control)) != 0;
    };
    for (size_t i = 0; i + 16 <= s.size(); i += 16) {
      if (bad(i)) return true;
    }
    return bad(s.size() - 16);  // the tail, as the last sixteen bytes
  }
#endif
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  auto has_zero = [](uint64_t w) { return (w - kOnes) & ~w & kHigh; };
  auto bad = [&](uint64_t w) {
    return ((w - kOnes * 0x20) & ~w & kHigh) | has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\'));
  };
  auto word = [&](size_t at) {
    uint64_t w;
    std::memcpy(&w, s.data() + at, 8);
    return w;
  };
  if (s.size() < 8) {
    for (unsigned char c : s) {
      if (c < 0x20 || c == '"' || c == '\\') return true;
    }
    return false;
  }
  for (size_t i = 0; i + 8 <= s.size(); i += 8) {
    if (bad(word(i))) return true;
  }
  return bad(word(s.size() - 8)) != 0;  // the tail, as the last eight bytes
}
}  // namespace

namespace {

// The room a string takes quoted, when it needs no escaping (JsonOut makes more room itself
// for one that does).
size_t QuotedSize(absl::string_view s) { return s.size() + 2; }

// Writes JSON into a string sized up front (QuotedSize() for every string, the lengths of the
// literals), so nothing checks capacity character by character.
class JsonOut {
 public:
  explicit JsonOut(size_t bound) {
    buf_.resize(bound);
    p_ = buf_.data();
  }
  JsonOut& Raw(absl::string_view s) {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
    return *this;
  }
  JsonOut& Char(char c) {
    *p_++ = c;
    return *this;
  }
  JsonOut& Quoted(absl::string_view s) {
    if (!NeedsEscape(s)) {
      *p_++ = '"';
      std::memcpy(p_, s.data(), s.size());
      p_ += s.size();
      *p_++ = '"';
      return *this;
    }
    const size_t used = p_ - buf_.data();
    buf_.resize(buf_.size() + 5 * s.size());  // the most escaping adds
    p_ = WriteEscaped(buf_.data() + used, s);
    return *this;
  }
  std::string Take() && {
    buf_.resize(p_ - buf_.data());
    return std::move(buf_);
  }

  // Writes `s` as a JSON string literal at `p`, escaping every byte that needs it (room for
  // 6 × size + 2); returns the end.
  static char* WriteEscaped(char* p, absl::string_view s) {
    static const char* hex = "0123456789abcdef";
    *p++ = '"';
    for (unsigned char c : s) {
      if (c >= 0x20 && c != '"' && c != '\\') {
        *p++ = c;
        continue;
      }
      *p++ = '\\';
      switch (c) {
        case '"': *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        default:
          std::memcpy(p, "u00", 3);
          p += 3;
          *p++ = hex[c >> 4];
          *p++ = hex[c & 15];
      }
    }
    *p++ = '"';
    return p;
  }

 private:
  std::string buf_;
  char* p_;
};

size_t ReasonsSize(const std::vector<std::pair<absl::string_view, std::string>>& reasons) {
  size_t size = 2;
  for (const auto& [name, why] : reasons) size += QuotedSize(name) + QuotedSize(why) + 2;
  return size;
}

void WriteReasons(JsonOut& out, const std::vector<std::pair<absl::string_view, std::string>>& reasons) {
  out.Char('{');
  for (size_t i = 0; i < reasons.size(); ++i) {
    if (i) out.Char(',');
    out.Quoted(reasons[i].first).Char(':').Quoted(reasons[i].second);
  }
  out.Char('}');
}

}  // namespace

absl::Status ArgsParser::FindNodeJson(ExtenderArgs* out) {
  // The DOM parse validated the document and named the items; an on-demand pass over the same
  // buffer finds where each item's text starts and ends.
  simdjson::ondemand::document doc;
  simdjson::ondemand::array items;
  if (raw_parser_.iterate(buffer_.get(), size_, capacity_).get(doc) != simdjson::SUCCESS ||
      doc["Nodes"]["items"].get_array().get(items) != simdjson::SUCCESS) {
    return Bad("ExtenderArgs.Nodes must be a NodeList with an items array");
  }
  out->node_json.reserve(out->node_names.size());
  size_t i = 0;
  for (auto item : items) {
    simdjson::ondemand::object obj;
    std::string_view raw;
    if (item.get_object().get(obj) != simdjson::SUCCESS || obj.raw_json().get(raw) != simdjson::SUCCESS ||
        i >= out->node_names.size()) {
      return Bad("ExtenderArgs.Nodes.items[] must be Node objects");
    }
    out->node_json.emplace(out->node_names[i++], View(raw));
  }
  return absl::OkStatus();
}

void AppendJsonString(std::string& out, absl::string_view s) {
  JsonOut quoted(QuotedSize(s));
  out += std::move(quoted.Quoted(s)).Take();
}

std::string FilterResultJson(const risk::FilterResult& r, const ExtenderArgs& args) {
  size_t size = 160 + ReasonsSize(r.failed) + ReasonsSize(r.unresolvable) + QuotedSize(r.error);
  std::vector<absl::string_view> objects;  // the passing Node objects, when the request carried them
  for (absl::string_view name : r.passed) {
    size += QuotedSize(name) + 1;
    if (!args.full_nodes) continue;
    auto it = args.node_json.find(name);
    objects.push_back(it == args.node_json.end() ? absl::string_view("{}") : it->second);
    size += objects.back().size() + 1;
  }
  JsonOut out(size);
  out.Raw("{\"Nodes\":");
  if (args.full_nodes) {
    out.Raw("{\"metadata\":{},\"items\":[");
    for (size_t i = 0; i < objects.size(); ++i) {
      if (i) out.Char(',');
      out.Raw(objects[i]);
    }
    out.Raw("]}");
  } else {
    out.Raw("null");
  }
  out.Raw(",\"NodeNames\":[");
  for (size_t i = 0; i < r.passed.size(); ++i) {
    if (i) out.Char(',');
    out.Quoted(r.passed[i]);
  }
  out.Raw("],\"FailedNodes\":");
  WriteReasons(out, r.failed);
  out.Raw(",\"FailedAndUnresolvableNodes\":");
  WriteReasons(out, r.unresolvable);
  out.Raw(",\"Error\":").Quoted(r.error).Char('}');
  return std::move(out).Take();
}

std::string HostPriorityListJson(const risk::PrioritizeResult& r) {
  size_t size = 2;
  for (const auto& [name, score] : r.scores) size += QuotedSize(name) + 22;  // {"Host":…,"Score":10},
  JsonOut out(size);
  out.Char('[');
  for (size_t i = 0; i < r.scores.size(); ++i) {
    if (i) out.Char(',');
    out.Raw("{\"Host\":").Quoted(r.scores[i].first).Raw(",\"Score\":");
    const int score = std::clamp(r.scores[i].second, 0, 10);
    if (score >= 10) out.Char('0' + score / 10);
    out.Char('0' + score % 10).Char('}');
  }
  out.Char(']');
  return std::move(out).Take();
}

std::string ErrorJson(absl::string_view message) {
  std::string out = "{\"Error\":";
  AppendJsonString(out, message);
  out.push_back('}');
  return out;
}

}  // namespace spotguard::extender
