#include "node-agent/sources/azure_scheduled_events.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/fake_imds.h"

namespace spotguard::agent::sources {
namespace {

using testing::AzureEvent;
using testing::FakeAzureScheduledEvents;
using testing::FakeClock;

constexpr char kVm[] = "aks-spot1-12345678-vmss_4";

struct Harness {
  FakeAzureScheduledEvents imds;
  FakeClock clock;
  std::vector<std::string> problems;
  std::unique_ptr<AzureScheduledEvents> source;
  explicit Harness(AzureOptions options = {.vm_name = kVm}) {
    options.timeout = absl::Milliseconds(500);
    source = std::make_unique<AzureScheduledEvents>(std::shared_ptr<HttpClient>(*NewHttpClient({.base_url = imds.url()})),
                                                    clock, options);
    source->set_problem_sink([this](absl::string_view reason, absl::string_view) { problems.emplace_back(reason); });
  }
  std::string NotBefore(absl::Duration from_now) { return FakeAzureScheduledEvents::Rfc1123(clock.Now() + from_now); }
};

// Verifies a Preempt for this VM becomes an eviction notice with its NotBefore, and events for
// other VMs of the placement group are ignored.
TEST(AzureScheduledEventsTest, KeepsOnlyThisVmsEvents) {
  Harness h;
  h.imds.Add({.id = "ours", .type = "Preempt", .resources = {"AKS-SPOT1-12345678-VMSS_4"}, .not_before = h.NotBefore(absl::Seconds(30))});
  h.imds.Add({.id = "theirs", .type = "Preempt", .resources = {"aks-spot1-12345678-vmss_5"}, .not_before = h.NotBefore(absl::Seconds(30))});
  auto notices = h.source->Poll();
  ASSERT_TRUE(notices.ok()) << notices.status();
  ASSERT_EQ(notices->size(), 1u);
  const Notice& n = (*notices)[0];
  EXPECT_EQ(n.id, "ours");
  EXPECT_EQ(n.cloud, v1::CLOUD_AZURE);
  EXPECT_EQ(n.kind, v1::NOTICE_KIND_EVICTION);
  EXPECT_EQ(n.raw_action, "Preempt");
  EXPECT_EQ(n.not_before, h.clock.Now() + absl::Seconds(30));
  EXPECT_EQ(n.action, Action::kCordon);
  EXPECT_EQ(n.source, "azure-scheduled-events");
  EXPECT_TRUE(h.problems.empty());
}

// Verifies each event type's kind and the configured action per maintenance kind.
TEST(AzureScheduledEventsTest, KindsAndActions) {
  Harness h({.vm_name = kVm, .reboot_action = Action::kLabel});
  for (const char* type : {"Terminate", "Reboot", "Redeploy", "Freeze"}) {
    h.imds.Add({.id = type, .type = type, .resources = {kVm}, .not_before = h.NotBefore(absl::Minutes(15))});
  }
  auto notices = h.source->Poll();
  ASSERT_TRUE(notices.ok());
  std::map<std::string, std::pair<v1::NoticeKind, Action>> got;
  for (const auto& n : *notices) got[n.id] = {n.kind, n.action};
  EXPECT_EQ(got["Terminate"], std::pair(v1::NOTICE_KIND_EVICTION, Action::kCordon));
  EXPECT_EQ(got["Reboot"], std::pair(v1::NOTICE_KIND_MAINTENANCE, Action::kLabel));
  EXPECT_EQ(got["Redeploy"], std::pair(v1::NOTICE_KIND_MAINTENANCE, Action::kCordon));
  EXPECT_EQ(got["Freeze"], std::pair(v1::NOTICE_KIND_MAINTENANCE, Action::kLabel));
}

// Verifies a Started event (NotBefore empty) gives no time, so the Poller keeps the deadline
// it had (a time of "now" slid forward on every poll).
TEST(AzureScheduledEventsTest, StartedEventGivesNoTime) {
  Harness h;
  h.imds.Add({.id = "e", .type = "Preempt", .resources = {kVm}, .status = "Started", .not_before = ""});
  auto first = h.source->Poll();
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].not_before, absl::InfinitePast());
  h.clock.Advance(absl::Seconds(1));
  auto second = h.source->Poll();
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].not_before, (*first)[0].not_before);
}

// Verifies bad entries are reported and skipped (or kept with a safe guess) while the rest
// of the document still counts.
TEST(AzureScheduledEventsTest, BadEntriesReportedNotFatal) {
  Harness h;
  h.imds.SetRawDocument(absl::StrCat(R"({"DocumentIncarnation": 5, "Events": [
      {"EventId": "bad-date", "EventType": "Preempt", "Resources": [")", kVm, R"("], "EventStatus": "Scheduled",
       "NotBefore": "tomorrow-ish"},
      {"EventId": "dup", "EventType": "Reboot", "Resources": [")", kVm, R"("], "NotBefore": ""},
      {"EventId": "dup", "EventType": "Reboot", "Resources": [")", kVm, R"("], "NotBefore": ""},
      {"EventId": "odd", "EventType": "Hibernate", "Resources": [")", kVm, R"("]},
      {"EventId": 17, "EventType": "Preempt", "Resources": [")", kVm, R"("]},
      {"EventId": "nores", "EventType": "Preempt", "Resources": "all"},
      "not-an-object"
  ]})"));
  auto notices = h.source->Poll();
  ASSERT_TRUE(notices.ok()) << notices.status();
  ASSERT_EQ(notices->size(), 2u);
  EXPECT_EQ((*notices)[0].id, "bad-date");
  EXPECT_EQ((*notices)[0].not_before, absl::InfinitePast());  // the Poller assumes Preempt's minimum notice
  EXPECT_EQ((*notices)[1].id, "dup");
  EXPECT_THAT(h.problems, ::testing::UnorderedElementsAre("bad_time", "duplicate_id", "unknown_type", "missing_field",
                                                          "missing_field", "missing_field"));
}

// Verifies documents and answers that cannot be used fail the poll with the right reason.
TEST(AzureScheduledEventsTest, UnusableAnswers) {
  struct Case {
    std::string body;
    int status;
    std::string reason;
  } cases[] = {
      {"{not json", 200, "malformed"},
      {"[]", 200, "malformed"},
      {R"({"Events": []})", 200, "malformed"},
      {R"({"DocumentIncarnation": "1", "Events": []})", 200, "malformed"},
      {R"({"DocumentIncarnation": 1, "Events": {}})", 200, "malformed"},
      {"{}", 429, "throttled"},
      {"{}", 500, "server_error"},
      {"{}", 404, "http_error"},
  };
  for (const auto& c : cases) {
    Harness h;
    h.imds.SetRawDocument(c.body, c.status);
    auto notices = h.source->Poll();
    EXPECT_FALSE(notices.ok()) << c.body;
    EXPECT_EQ(PollErrorReason(notices.status()), c.reason) << c.body << " " << notices.status();
  }
}

// Verifies a body over 1 MiB is refused, a stalled body times out, and a dead IMDS is
// unreachable.
TEST(AzureScheduledEventsTest, TransportFaults) {
  Harness big;
  big.imds.SetRawDocument(R"({"DocumentIncarnation": 1, "Events": [")" + std::string(2 << 20, 'x') + "\"]}");
  EXPECT_EQ(PollErrorReason(big.source->Poll().status()), "too_large");

  testing::FakeImds stall;
  stall.Set(AzureScheduledEvents::kPath, {.body = R"({"DocumentIncarnation": 1, "Events": []})", .stall = true});
  FakeClock clock;
  AzureScheduledEvents stalled(std::shared_ptr<HttpClient>(*NewHttpClient({.base_url = stall.url()})), clock,
                               {.vm_name = kVm, .timeout = absl::Milliseconds(300),
                                .first_call_timeout = absl::Milliseconds(300)});
  EXPECT_EQ(PollErrorReason(stalled.Poll().status()), "timeout");

  std::string dead_url;
  { testing::FakeImds gone; dead_url = gone.url(); }
  AzureScheduledEvents dead(std::shared_ptr<HttpClient>(*NewHttpClient({.base_url = dead_url})), clock, {.vm_name = kVm});
  EXPECT_EQ(PollErrorReason(dead.Poll().status()), "unreachable");
}

// Verifies an older DocumentIncarnation is ignored (so it cannot withdraw anything) until it
// has been seen several times in a row, then accepted as the new baseline.
TEST(AzureScheduledEventsTest, IncarnationGoingBackwards) {
  Harness h;
  h.imds.SetIncarnation(10);
  h.imds.Add({.id = "e", .type = "Preempt", .resources = {kVm}, .not_before = h.NotBefore(absl::Seconds(30))});
  ASSERT_EQ(h.source->Poll()->size(), 1u);
  h.imds.Remove("e");
  h.imds.SetIncarnation(3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(PollErrorReason(h.source->Poll().status()), "stale");
  auto accepted = h.source->Poll();
  ASSERT_TRUE(accepted.ok());
  EXPECT_TRUE(accepted->empty());
}

// Verifies the VM name comes from IMDS when the providerID does not give it, and the
// Metadata header is always sent (the fake answers 400 without it).
TEST(AzureScheduledEventsTest, VmNameFromImds) {
  Harness h(AzureOptions{});
  h.imds.Set("/metadata/instance/compute/name?api-version=2021-02-01&format=text", {.body = "myvm\n", .content_type = "text/plain"});
  h.imds.Add({.id = "e", .type = "Terminate", .resources = {"myvm"}, .not_before = h.NotBefore(absl::Minutes(5))});
  auto notices = h.source->Poll();
  ASSERT_TRUE(notices.ok()) << notices.status();
  EXPECT_EQ(notices->size(), 1u);
  EXPECT_EQ(h.imds.count("GET /metadata/instance/compute/name?api-version=2021-02-01&format=text"), 1);
  h.source->Poll();
  EXPECT_EQ(h.imds.count("GET /metadata/instance/compute/name?api-version=2021-02-01&format=text"), 1);
}

// Verifies acknowledging posts StartRequests for the event.
TEST(AzureScheduledEventsTest, AcknowledgePostsStartRequests) {
  Harness h({.vm_name = kVm, .acknowledge = true});
  h.imds.Add({.id = "e1", .type = "Preempt", .resources = {kVm}, .not_before = h.NotBefore(absl::Seconds(30))});
  auto notices = h.source->Poll();
  ASSERT_TRUE((*notices)[0].acknowledgeable);
  ASSERT_TRUE(h.source->Acknowledge((*notices)[0]).ok());
  EXPECT_EQ(h.imds.started(), std::vector<std::string>{"e1"});
}

// Verifies VM names derived from providerIDs of scale-set and standalone VMs.
TEST(AzureScheduledEventsTest, VmNameFromProviderId) {
  EXPECT_EQ(AzureVmNameFromProviderId("azure:///subscriptions/s/resourceGroups/mc_rg/providers/Microsoft.Compute/"
                                      "virtualMachineScaleSets/aks-spot1-12345678-vmss/virtualMachines/4"),
            "aks-spot1-12345678-vmss_4");
  EXPECT_EQ(AzureVmNameFromProviderId("azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/"
                                      "virtualMachines/myvm"),
            "myvm");
  EXPECT_EQ(AzureVmNameFromProviderId("aws:///us-east-1a/i-0abc"), "");
}

}  // namespace
}  // namespace spotguard::agent::sources
