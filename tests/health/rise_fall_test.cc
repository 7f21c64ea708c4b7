// RiseFall (first result, rise, fall, flapping), validate(ProbeConfig),
// probe_kind_name, format_target and the first-probe spread.
#include "controlplane/health/rise_fall.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "controlplane/health/prober.h"

namespace nva::health {
namespace {

using std::chrono::milliseconds;

TEST(RiseFall, UnknownUntilTheFirstResult) {
  RiseFall rf(2, 3);
  EXPECT_FALSE(rf.healthy().has_value());
  EXPECT_EQ(rf.streak(), 0u);
}

TEST(RiseFall, FirstSuccessIsUpAtOnce) {
  RiseFall rf(5, 5);
  EXPECT_TRUE(rf.record(true));
  EXPECT_EQ(rf.healthy(), true);
  EXPECT_EQ(rf.streak(), 1u);
}

TEST(RiseFall, FirstFailureIsDownAtOnce) {
  RiseFall rf(5, 5);
  EXPECT_TRUE(rf.record(false));
  EXPECT_EQ(rf.healthy(), false);
}

TEST(RiseFall, FallsAfterFallConsecutiveFailures) {
  RiseFall rf(2, 3);
  ASSERT_TRUE(rf.record(true));
  EXPECT_FALSE(rf.record(false));
  EXPECT_FALSE(rf.record(false));
  EXPECT_EQ(rf.healthy(), true);
  EXPECT_EQ(rf.streak(), 2u);
  EXPECT_TRUE(rf.record(false));
  EXPECT_EQ(rf.healthy(), false);
  EXPECT_FALSE(rf.record(false));  // staying down is no change
  EXPECT_EQ(rf.streak(), 4u);
}

TEST(RiseFall, RisesAfterRiseConsecutiveSuccesses) {
  RiseFall rf(2, 3);
  ASSERT_TRUE(rf.record(false));
  EXPECT_FALSE(rf.record(true));
  EXPECT_EQ(rf.healthy(), false);
  EXPECT_TRUE(rf.record(true));
  EXPECT_EQ(rf.healthy(), true);
  EXPECT_FALSE(rf.record(true));
}

TEST(RiseFall, AgreeingResultResetsTheCount) {
  RiseFall rf(2, 3);
  ASSERT_TRUE(rf.record(true));
  EXPECT_FALSE(rf.record(false));
  EXPECT_FALSE(rf.record(false));
  EXPECT_FALSE(rf.record(true));  // back to zero failures
  EXPECT_FALSE(rf.record(false));
  EXPECT_FALSE(rf.record(false));
  EXPECT_EQ(rf.healthy(), true);
  EXPECT_TRUE(rf.record(false));
}

TEST(RiseFall, FlappingNeverChangesStateBeforeTheCounts) {
  for (const bool start : {true, false}) {
    RiseFall rf(2, 2);
    ASSERT_TRUE(rf.record(start));
    for (int i = 0; i < 100; ++i) {
      EXPECT_FALSE(rf.record(i % 2 == 0 ? !start : start)) << i;
      EXPECT_EQ(rf.healthy(), start);
    }
  }
  // A longer pattern: two failures then one success, with fall 3.
  RiseFall rf(3, 3);
  ASSERT_TRUE(rf.record(true));
  for (int i = 0; i < 30; ++i) {
    EXPECT_FALSE(rf.record(i % 3 == 2));
    EXPECT_EQ(rf.healthy(), true);
  }
}

TEST(RiseFall, RiseAndFallOfOneChangeOnEveryOpposingResult) {
  RiseFall rf(1, 1);
  ASSERT_TRUE(rf.record(true));
  EXPECT_TRUE(rf.record(false));
  EXPECT_TRUE(rf.record(true));
  EXPECT_FALSE(rf.record(true));
}

TEST(RiseFall, ZeroCountsActAsOne) {
  RiseFall rf(0, 0);
  EXPECT_EQ(rf.rise(), 1u);
  EXPECT_EQ(rf.fall(), 1u);
  ASSERT_TRUE(rf.record(true));
  EXPECT_TRUE(rf.record(false));
}

TEST(ProbeConfig, DefaultsAreValid) {
  const ProbeConfig c;
  EXPECT_TRUE(validate(c).empty());
  EXPECT_EQ(c.kind, ProbeKind::kTcp);
  EXPECT_EQ(c.interval, milliseconds(300));
  EXPECT_EQ(c.timeout, milliseconds(250));
  EXPECT_EQ(c.rise, 2u);
  EXPECT_EQ(c.fall, 3u);
  EXPECT_EQ(c.http_path, "/");
  EXPECT_EQ(c.http_status, 200u);
  EXPECT_FALSE(c.source.has_value());
}

TEST(ProbeConfig, EachRuleHasAMessage) {
  struct Case {
    const char* name;
    void (*mutate)(ProbeConfig&);
    const char* expect;  // a substring of the one message
  };
  const std::vector<Case> cases = {
      {"interval 0", [](ProbeConfig& c) { c.interval = milliseconds(0); }, "interval"},
      {"interval < 0", [](ProbeConfig& c) { c.interval = milliseconds(-5); }, "interval"},
      {"timeout 0", [](ProbeConfig& c) { c.timeout = milliseconds(0); }, "timeout"},
      {"timeout > interval",
       [](ProbeConfig& c) {
         c.interval = milliseconds(100);
         c.timeout = milliseconds(101);
       },
       "must not exceed"},
      {"rise 0", [](ProbeConfig& c) { c.rise = 0; }, "rise"},
      {"fall 0", [](ProbeConfig& c) { c.fall = 0; }, "fall"},
      {"empty path", [](ProbeConfig& c) { c.http_path = ""; }, "start with '/'"},
      {"relative path", [](ProbeConfig& c) { c.http_path = "healthz"; },
       "start with '/'"},
      {"space in path", [](ProbeConfig& c) { c.http_path = "/a b"; }, "visible ASCII"},
      {"CRLF in path", [](ProbeConfig& c) { c.http_path = "/x\r\nX-Injected: 1"; },
       "visible ASCII"},
      {"long path",
       [](ProbeConfig& c) { c.http_path = "/" + std::string(kMaxHttpPath, 'a'); },
       "at most"},
      {"status 99", [](ProbeConfig& c) { c.http_status = 99; }, "100..599"},
      {"status 600", [](ProbeConfig& c) { c.http_status = 600; }, "100..599"},
      {"bad kind", [](ProbeConfig& c) { c.kind = static_cast<ProbeKind>(7); }, "kind"},
  };
  for (const auto& k : cases) {
    ProbeConfig c;
    k.mutate(c);
    const auto errors = validate(c);
    ASSERT_EQ(errors.size(), 1u) << k.name;
    EXPECT_NE(errors[0].find(k.expect), std::string::npos) << k.name << ": " << errors[0];
  }
}

// http_path's one validator (the configuration calls it too): a path with a
// non-ASCII byte, such as "/h\xc3\xa9alth" (UTF-8 e-acute), would otherwise
// reach a request line.
TEST(ProbeConfig, CheckHttpPathIsTheValidatorValidateUses) {
  struct Case {
    std::string path;
    const char* expect;  // nullptr: valid; else a substring of the reason
  };
  const std::vector<Case> cases = {
      {"/", nullptr},
      {"/healthz?full=1&x=%20", nullptr},
      {"/" + std::string(kMaxHttpPath - 1, 'a'), nullptr},
      {"", "start with '/'"},
      {"healthz", "start with '/'"},
      {"/h\xc3\xa9"
       "alth",
       "visible ASCII"},
      {"/\x7f", "visible ASCII"},
      {"/\xff", "visible ASCII"},
      {"/a b", "visible ASCII"},
      {"/a\tb", "visible ASCII"},
      {"/" + std::string(kMaxHttpPath, 'a'), "at most 1024"},
  };
  for (const auto& k : cases) {
    const auto why = check_http_path(k.path);
    ProbeConfig c;
    c.http_path = k.path;
    const auto errors = validate(c);
    if (k.expect == nullptr) {
      EXPECT_FALSE(why.has_value()) << k.path << ": " << *why;
      EXPECT_TRUE(errors.empty()) << k.path;
      continue;
    }
    ASSERT_TRUE(why.has_value()) << k.path;
    EXPECT_NE(why->find(k.expect), std::string::npos) << k.path << ": " << *why;
    ASSERT_EQ(errors.size(), 1u) << k.path;
    EXPECT_EQ(errors[0], "http path " + *why);
  }
}

TEST(ProbeConfig, TimeoutEqualToIntervalIsValid) {
  ProbeConfig c;
  c.interval = milliseconds(100);
  c.timeout = milliseconds(100);
  EXPECT_TRUE(validate(c).empty());
}

TEST(ProbeConfig, Names) {
  EXPECT_EQ(probe_kind_name(ProbeKind::kNone), "none");
  EXPECT_EQ(probe_kind_name(ProbeKind::kTcp), "tcp");
  EXPECT_EQ(probe_kind_name(ProbeKind::kHttp), "http");
  EXPECT_EQ(format_target({0x0a000001, 8080}), "10.0.0.1:8080");
}

TEST(InitialDelay, DeterministicWithinHalfTheIntervalAndSpread) {
  const milliseconds interval(300);
  std::vector<std::chrono::microseconds> delays;
  for (std::size_t id = 1; id <= 64; ++id) {
    const auto d = initial_delay(42, id, interval);
    EXPECT_EQ(d, initial_delay(42, id, interval));
    EXPECT_GE(d.count(), 0);
    EXPECT_LE(d, std::chrono::microseconds(150'000));
    delays.push_back(d);
  }
  // Spread: every tenth of [0, 150 ms] holds some of the 64 first probes,
  // and no two targets start within 100 us of each other.
  std::set<long> buckets;
  for (const auto d : delays) buckets.insert(d.count() / 15'000);
  EXPECT_GE(buckets.size(), 10u);
  std::sort(delays.begin(), delays.end());
  for (std::size_t i = 1; i < delays.size(); ++i) {
    EXPECT_GE((delays[i] - delays[i - 1]).count(), 100) << i;
  }
  EXPECT_NE(initial_delay(1, 1, interval), initial_delay(2, 1, interval));
  EXPECT_EQ(initial_delay(1, 1, milliseconds(0)).count(), 0);
}

}  // namespace
}  // namespace nva::health
