#include "extender/wire.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace spotguard::extender {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr char kPod[] = R"({"metadata": {"name": "exec-1", "namespace": "spark", "uid": "u1",
    "labels": {"spark-role": "executor", "spark-app-selector": "app-1"},
    "annotations": {"spotguard.io/max-eviction-risk": "0.1"}}, "spec": {"containers": []}})";

// Verifies the nodeCacheCapable form: the Pod's identity, labels, annotations and the names.
TEST(WireTest, ParsesNodeNames) {
  ArgsParser parser;
  ExtenderArgs args;
  ASSERT_TRUE(parser.Parse(absl::StrCat(R"({"Pod": )", kPod, R"(, "Nodes": null, "NodeNames": ["a", "b"]})"), &args).ok());
  EXPECT_EQ(args.pod.name, "exec-1");
  EXPECT_EQ(args.pod.namespace_, "spark");
  EXPECT_EQ(args.pod.labels.at("spark-role"), "executor");
  EXPECT_EQ(args.pod.annotations.at("spotguard.io/max-eviction-risk"), "0.1");
  EXPECT_EQ(args.node_names, (std::vector<absl::string_view>{"a", "b"}));
  EXPECT_FALSE(args.full_nodes);
}

// Verifies the full-Nodes form, and that the answer echoes the passing Node objects.
TEST(WireTest, FullNodesEchoed) {
  ArgsParser parser;
  ExtenderArgs args;
  std::string body = absl::StrCat(R"({"Pod": )", kPod, R"(, "Nodes": {"metadata": {}, "items": [
      {"metadata": {"name": "a", "labels": {"x": "1"}}, "status": {}},
      {"metadata": {"name": "b"}}]}, "NodeNames": null})");
  ASSERT_TRUE(parser.Parse(body, &args, /*node_json=*/true).ok());
  EXPECT_TRUE(args.full_nodes);
  EXPECT_EQ(args.node_names, (std::vector<absl::string_view>{"a", "b"}));
  risk::FilterResult r;
  r.passed = {"a"};
  r.failed = {{"b", "why \"quoted\"\n"}};
  Json out = Json::parse(FilterResultJson(r, args));
  EXPECT_EQ(out["NodeNames"], Json::array({"a"}));
  EXPECT_EQ(out["Nodes"]["items"][0]["metadata"]["labels"]["x"], "1");
  EXPECT_EQ(out["Nodes"]["items"].size(), 1u);
  // Copied as the request wrote it, not re-serialised.
  EXPECT_EQ(args.node_json.at("a"), R"({"metadata": {"name": "a", "labels": {"x": "1"}}, "status": {}})");
  EXPECT_EQ(out["FailedNodes"]["b"], "why \"quoted\"\n");
  EXPECT_EQ(out["FailedAndUnresolvableNodes"], Json::object());
  EXPECT_EQ(out["Error"], "");
}

// Verifies every malformed request is refused with a message naming what is wrong.
TEST(WireTest, RefusesMalformedRequests) {
  struct Case {
    std::string body, want;
  } cases[] = {
      {"{not json", "not JSON"},
      {"[1,2]", "must be a JSON object"},
      {R"({"NodeNames": ["a"]})", "Pod is missing"},
      {R"({"Pod": null, "NodeNames": ["a"]})", "Pod is missing"},
      {R"({"Pod": "x", "NodeNames": ["a"]})", "Pod must be an object"},
      {R"({"Pod": {}, "NodeNames": ["a"]})", "metadata is missing"},
      {absl::StrCat(R"({"Pod": )", kPod, R"(, "Nodes": null, "NodeNames": null})"), "neither Nodes nor NodeNames"},
      {absl::StrCat(R"({"Pod": )", kPod, "}"), "neither Nodes nor NodeNames"},
      {absl::StrCat(R"({"Pod": )", kPod, R"(, "NodeNames": "a"})"), "array of strings"},
      {absl::StrCat(R"({"Pod": )", kPod, R"(, "NodeNames": ["a", 7]})"), "array of strings"},
      {absl::StrCat(R"({"Pod": )", kPod, R"(, "Nodes": {"items": [{"metadata": {}}]}})"), "metadata.name"},
      {absl::StrCat(R"({"Pod": )", kPod, R"(, "Nodes": {"items": 3}})"), "items array"},
      {R"({"Pod": {"metadata": {"labels": {"a": 1}}}, "NodeNames": []})", "labels[a] must be a string"},
  };
  ArgsParser parser;
  for (const auto& c : cases) {
    ExtenderArgs args;
    absl::Status s = parser.Parse(c.body, &args);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.want)) << c.body;
  }
}

// Verifies 10 000 names parse and answer, and the priority list's shape.
TEST(WireTest, LargeRequestsAndPriorities) {
  std::string body = absl::StrCat(R"({"Pod": )", kPod, R"(, "NodeNames": [)");
  for (int i = 0; i < 10000; ++i) absl::StrAppend(&body, i ? "," : "", "\"node-", i, "\"");
  body += "]}";
  ArgsParser parser;
  ExtenderArgs args;
  ASSERT_TRUE(parser.Parse(body, &args).ok());
  EXPECT_EQ(args.node_names.size(), 10000u);
  risk::PrioritizeResult pr;
  pr.scores = {{"a", 7}, {"b", 0}};
  EXPECT_EQ(HostPriorityListJson(pr), R"([{"Host":"a","Score":7},{"Host":"b","Score":0}])");
  EXPECT_EQ(ErrorJson("bad \"x\""), R"({"Error":"bad \"x\""})");
  std::string s;
  AppendJsonString(s, std::string("\x01\t", 2));
  EXPECT_EQ(s, R"("\u0001\t")");
}

// Verifies every character that needs escaping is found wherever it sits (the check reads
// sixteen or eight bytes at a time), and that plain and UTF-8 names are copied as they are.
TEST(WireTest, EscapesAtEveryPosition) {
  // 29 bytes: vectors and an overlapping tail; 10: words and a tail; 5: bytes.
  for (const std::string base : {"aks-spot0-12345678-vmss000001", "spot-12345", "n-123"}) {
    for (size_t pos = 0; pos < base.size(); ++pos) {
      for (char c : {'"', '\\', '\n', '\x1f'}) {
        std::string name = base;
        name[pos] = c;
        std::string out;
        AppendJsonString(out, name);
        EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), name) << base << " position " << pos;
        EXPECT_NE(out, "\"" + name + "\"") << base << " position " << pos;
      }
    }
  }
  for (const std::string plain : {std::string("aks-spot0-12345678-vmss000001"), std::string("n"), std::string(""),
                                  std::string("n\xc3\xa9\xe2\x82\xac ~\x7f-long-enough-for-vectors")}) {
    std::string out;
    AppendJsonString(out, plain);
    EXPECT_EQ(out, "\"" + plain + "\"");
  }
  // In answers too: a name that needs escaping makes room for itself.
  risk::PrioritizeResult pr;
  pr.scores = {{"a\"b", 3}, {"plain", 10}};
  EXPECT_EQ(HostPriorityListJson(pr), R"([{"Host":"a\"b","Score":3},{"Host":"plain","Score":10}])");
}

}  // namespace
}  // namespace spotguard::extender
