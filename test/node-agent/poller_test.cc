#include "node-agent/poller.h"

#include <deque>
#include <thread>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "test/fakes/fake_clock.h"

namespace spotguard::agent {
namespace {

using testing::FakeClock;

// A Source that answers from a script, then repeats its last answer.
class ScriptedSource : public Source {
 public:
  explicit ScriptedSource(std::deque<absl::StatusOr<std::vector<Notice>>> script) : script_(std::move(script)) {}
  absl::StatusOr<std::vector<Notice>> Poll() override {
    absl::MutexLock lock(&mu_);
    ++polls_;
    if (script_.size() > 1) {
      auto r = script_.front();
      script_.pop_front();
      return r;
    }
    if (!problem_.empty()) Problem(problem_, "bad date");
    return script_.front();
  }
  absl::string_view Kind() const override { return "scripted"; }
  void ReportProblem(std::string reason) { problem_ = std::move(reason); }
  int polls() const {
    absl::MutexLock lock(&mu_);
    return polls_;
  }

 private:
  mutable absl::Mutex mu_;
  int polls_ = 0;
  std::deque<absl::StatusOr<std::vector<Notice>>> script_;
  std::string problem_;
};

class RecordingSink : public NoticeSink {
 public:
  void OnNotice(const Notice& n) override {
    absl::MutexLock lock(&mu_);
    log_.push_back("notice:" + n.id);
    last_ = n;
  }
  void OnWithdrawn(const Notice& n) override {
    absl::MutexLock lock(&mu_);
    log_.push_back("withdrawn:" + n.id);
  }
  std::vector<std::string> log() const {
    absl::MutexLock lock(&mu_);
    return log_;
  }
  Notice last() const {
    absl::MutexLock lock(&mu_);
    return last_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> log_;
  Notice last_;
};

Notice N(std::string id, int not_before = 100) {
  return Notice{.id = std::move(id), .cloud = v1::CLOUD_AWS, .kind = v1::NOTICE_KIND_EVICTION,
                .not_before = absl::FromUnixSeconds(not_before), .source = "scripted", .action = Action::kCordon};
}

using Answers = std::vector<Notice>;

struct Harness {
  FakeClock clock;
  MetricsRegistry registry;
  AgentMetrics metrics{registry};
  RecordingSink sink;
  Poller poller{clock, {.interval = absl::Seconds(1), .jitter = 0, .backoff = {.initial = absl::Seconds(1), .max = absl::Seconds(8), .jitter = 0}},
                metrics, sink};
  ScriptedSource* source = nullptr;
  explicit Harness(std::deque<absl::StatusOr<Answers>> script, std::vector<Notice> known = {}) {
    auto s = std::make_unique<ScriptedSource>(std::move(script));
    source = s.get();
    poller.Add(std::move(s), std::move(known));
  }
  void Polls(int n) {
    for (int i = 0; i < n; ++i) poller.PollOnce(0);
  }
};

// Verifies a notice seen on every poll is announced once.
TEST(PollerTest, AnnouncesOnce) {
  Harness h({Answers{N("a")}});
  h.Polls(5);
  EXPECT_EQ(h.sink.log(), std::vector<std::string>{"notice:a"});
}

// Verifies a notice is withdrawn only after two successful polls without it.
TEST(PollerTest, WithdrawnAfterTwoAbsentPolls) {
  Harness h({Answers{N("a")}, Answers{}, Answers{N("a")}, Answers{}, Answers{}});
  h.Polls(3);
  EXPECT_EQ(h.sink.log(), std::vector<std::string>{"notice:a"});  // one gap is a blip
  h.Polls(2);
  EXPECT_EQ(h.sink.log(), (std::vector<std::string>{"notice:a", "withdrawn:a"}));
}

// Verifies failed polls never withdraw, back off exponentially and are counted by reason.
TEST(PollerTest, ErrorsBackOffAndNeverWithdraw) {
  auto err = PollError("server_error", "HTTP 500");
  Harness h({Answers{N("a")}, err, err, err, err, err, Answers{N("a")}});
  EXPECT_EQ(h.poller.PollOnce(0), absl::Seconds(1));
  std::vector<absl::Duration> waits;
  for (int i = 0; i < 5; ++i) waits.push_back(h.poller.PollOnce(0));
  // Capped at max_error_wait (5 s) although the backoff allows 8 s: a notice is still seen
  // within seconds of the service coming back.
  EXPECT_EQ(waits, (std::vector<absl::Duration>{absl::Seconds(1), absl::Seconds(2), absl::Seconds(4), absl::Seconds(5),
                                                 absl::Seconds(5)}));
  EXPECT_EQ(h.poller.PollOnce(0), absl::Seconds(1));  // recovered: back to the interval
  EXPECT_EQ(h.sink.log(), std::vector<std::string>{"notice:a"});
  EXPECT_TRUE(absl::StrContains(h.registry.Serialize(),
                                R"(spotguard_agent_poll_errors_total{reason="server_error",source="scripted"} 5)"));
}

// Verifies a 429's Retry-After is honoured when longer than the backoff, up to the cap: a
// Retry-After of minutes would outlast Azure's 30 s Preempt notice.
TEST(PollerTest, ThrottledWaitsRetryAfterUpToTheCap) {
  Harness h({PollError("throttled", "HTTP 429", absl::Seconds(3)), PollError("throttled", "HTTP 429", absl::Seconds(300))});
  EXPECT_EQ(h.poller.PollOnce(0), absl::Seconds(3));
  EXPECT_EQ(h.poller.PollOnce(0), absl::Seconds(5));
}

// Verifies a notice whose time goes away (an Azure event turned Started) or never came keeps
// one deadline from first sight, and a poll showing it again tells the sink nothing.
TEST(PollerTest, DeadlineFixedAtFirstSight) {
  Notice scheduled = N("a", 100);
  Notice started = N("a");
  started.not_before = absl::InfinitePast();
  Notice untimed{.id = "p", .cloud = v1::CLOUD_AZURE, .kind = v1::NOTICE_KIND_EVICTION, .raw_action = "Preempt",
                 .source = "scripted", .action = Action::kCordon};
  Harness h({Answers{scheduled}, Answers{started, untimed}, Answers{started, untimed}});
  h.Polls(1);
  const absl::Time first_sight = h.clock.Now();
  h.clock.Advance(absl::Seconds(1));
  h.Polls(1);
  EXPECT_EQ(h.sink.last().id, "p");
  EXPECT_EQ(h.sink.last().not_before, first_sight + absl::Seconds(1) + absl::Seconds(30));  // Preempt: 30 s
  for (int i = 0; i < 8; ++i) {
    h.clock.Advance(absl::Seconds(1));
    h.Polls(1);
  }
  EXPECT_EQ(h.sink.log(), (std::vector<std::string>{"notice:a", "notice:p"}));
  EXPECT_EQ(h.sink.last().not_before, first_sight + absl::Seconds(31));
}

// Verifies a notice that comes back after its withdrawal (AWS ids repeat) is new again.
TEST(PollerTest, RecurringNoticeIsNewAgain) {
  Harness h({Answers{N("a")}, Answers{}, Answers{}, Answers{N("a")}});
  h.Polls(3);
  h.clock.Advance(absl::Minutes(1));
  h.Polls(1);
  EXPECT_EQ(h.sink.log(), (std::vector<std::string>{"notice:a", "withdrawn:a", "notice:a"}));
  EXPECT_EQ(h.sink.last().detected_at, h.clock.Now());
}

// Verifies notices restored from a previous run are not announced again, but are withdrawn
// once the source stops showing them.
TEST(PollerTest, RestoredNoticesNotReannounced) {
  Harness h({Answers{N("a")}, Answers{}, Answers{}}, {N("a")});
  h.Polls(1);
  EXPECT_TRUE(h.sink.log().empty());
  h.Polls(2);
  EXPECT_EQ(h.sink.log(), std::vector<std::string>{"withdrawn:a"});
}

// Verifies a changed notice is passed on again, keeping its first-sight time.
TEST(PollerTest, ChangedNoticeKeepsFirstSight) {
  Notice first = N("a", 100);
  first.detected_at = absl::FromUnixSeconds(10);
  Notice moved = N("a", 50);
  moved.detected_at = absl::FromUnixSeconds(20);
  Harness h({Answers{first}, Answers{moved}});
  h.Polls(2);
  EXPECT_EQ(h.sink.log(), (std::vector<std::string>{"notice:a", "notice:a"}));
  EXPECT_EQ(h.sink.last().not_before, absl::FromUnixSeconds(50));
  EXPECT_EQ(h.sink.last().detected_at, absl::FromUnixSeconds(10));
}

// Verifies problems inside a payload are counted per source and reason.
TEST(PollerTest, PayloadProblemsCounted) {
  Harness h({Answers{}});
  h.source->ReportProblem("bad_time");
  h.Polls(2);
  EXPECT_TRUE(absl::StrContains(h.registry.Serialize(),
                                R"(spotguard_agent_payload_problems_total{reason="bad_time",source="scripted"} 2)"));
}

// Verifies readiness waits for a first answer and health fails when a loop stalls.
TEST(PollerTest, ReadyAndHealthy) {
  Harness h({PollError("unreachable", "down"), Answers{}});
  EXPECT_FALSE(h.poller.Ready().ok());
  EXPECT_TRUE(h.poller.Healthy().ok());
  h.Polls(1);
  EXPECT_FALSE(h.poller.Ready().ok());
  h.Polls(1);
  EXPECT_TRUE(h.poller.Ready().ok());
  h.clock.Advance(absl::Minutes(5));
  EXPECT_FALSE(h.poller.Healthy().ok());
}

// Verifies Run polls on the clock's schedule and stops promptly.
TEST(PollerTest, RunPollsOnScheduleAndStops) {
  Harness h({Answers{N("a")}});
  StopSignal stop;
  std::thread t([&] { h.poller.Run(stop); });
  ASSERT_TRUE(h.clock.WaitForSleeps(1));
  EXPECT_EQ(h.source->polls(), 1);
  EXPECT_EQ(h.clock.sleeps()[0], absl::Seconds(1));
  h.clock.Advance(absl::Milliseconds(999));
  EXPECT_EQ(h.source->polls(), 1);  // not yet due (the sleeper is parked until 1 s)
  h.clock.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(h.clock.WaitForSleeps(2));
  EXPECT_EQ(h.source->polls(), 2);
  stop.Stop();
  t.join();
  EXPECT_EQ(h.sink.log(), std::vector<std::string>{"notice:a"});
}

}  // namespace
}  // namespace spotguard::agent
