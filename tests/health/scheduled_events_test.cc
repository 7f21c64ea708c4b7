// Azure Scheduled Events (controlplane/azure/scheduled_events.h): the
// document's parser on Azure's documented shape and on broken ones, which
// events concern this VM, and the poller over real HTTP against a fake
// Instance Metadata Service on loopback (Boost.Beast): the VM's name asked
// first, Metadata: true on every request, failures counted and the last
// answer kept, StartRequests posted, a silent server timed out, and no
// callback after the poller is gone.
#include "controlplane/azure/scheduled_events.h"

#include <gtest/gtest.h>

#include <utility>  // before Asio: Debian's Boost uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/health/fake_imds.h"

namespace nva::azure {
namespace {

using test::config_for;
using test::FakeImds;
using test::run_until;

namespace asio = boost::asio;
using std::chrono::milliseconds;

// As Azure's documentation shows it (names and values made up).
const char* kDocument = R"({
  "DocumentIncarnation": 7,
  "Events": [
    {"EventId": "A1", "EventStatus": "Scheduled", "EventType": "Reboot",
     "ResourceType": "VirtualMachine", "Resources": ["nva-a-1", "nva-a-2"],
     "NotBefore": "Mon, 19 Sep 2016 18:29:47 GMT", "Description": "planned",
     "EventSource": "Platform", "DurationInSeconds": -1},
    {"EventId": "B2", "EventStatus": "Scheduled", "EventType": "Freeze",
     "ResourceType": "VirtualMachine", "Resources": ["backend-1"],
     "NotBefore": "Mon, 19 Sep 2016 18:29:47 GMT", "EventSource": "Platform",
     "DurationInSeconds": 9},
    {"EventId": "C3", "EventStatus": "Scheduled", "EventType": "LiveMigration",
     "ResourceType": "VirtualMachine", "Resources": ["nva-a-1"], "NotBefore": "",
     "EventSource": "Platform", "DurationInSeconds": 5, "SomethingNew": {"x": 1}}
  ]
})";

TEST(ScheduledEvents, ParsesAzuresDocument) {
  std::string why;
  const auto doc = parse_events(kDocument, &why);
  ASSERT_TRUE(doc) << why;
  EXPECT_EQ(doc->incarnation, 7);
  ASSERT_EQ(doc->events.size(), 3u);
  EXPECT_EQ(doc->events[0].id, "A1");
  EXPECT_EQ(doc->events[0].type, "Reboot");
  EXPECT_EQ(doc->events[0].status, "Scheduled");
  EXPECT_EQ(doc->events[0].resources, (std::vector<std::string>{"nva-a-1", "nva-a-2"}));
  EXPECT_EQ(doc->events[0].not_before, "Mon, 19 Sep 2016 18:29:47 GMT");
  EXPECT_EQ(doc->events[1].duration_s, 9);
  const auto none = parse_events(R"({"DocumentIncarnation": 1, "Events": []})", &why);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->events.empty());
}

TEST(ScheduledEvents, RefusesWhatIsNotADocumentWithTheReason) {
  const std::pair<const char*, const char*> bad[] = {
      {"<html>", "not JSON"},
      {"[1, 2]", "not a JSON object"},
      {R"({"DocumentIncarnation": 1})", "no Events array"},
      {R"({"Events": {}})", "no Events array"},
      {R"({"DocumentIncarnation": "x", "Events": []})", "DocumentIncarnation is not"},
      {R"({"Events": [7]})", "an event is not an object"},
      {R"({"Events": [{"EventType": "Reboot"}]})", "without EventId"},
      {R"({"Events": [{"EventId": "Z9", "EventType": 5}]})", "Z9 without EventType"},
  };
  for (const auto& [text, reason] : bad) {
    std::string why;
    EXPECT_FALSE(parse_events(text, &why)) << text;
    EXPECT_NE(why.find(reason), std::string::npos) << text << ": " << why;
  }
}

TEST(ScheduledEvents, ConcerningIsThisVmAndTheTypesThatTakeItAway) {
  const auto doc = parse_events(kDocument, nullptr);
  ASSERT_TRUE(doc);
  const auto mine = concerning(*doc, "nva-a-1");
  ASSERT_EQ(mine.size(), 1u);  // not B2 (another VM), not C3 (LiveMigration)
  EXPECT_EQ(mine[0].id, "A1");
  EXPECT_TRUE(concerning(*doc, "nva-b-1").empty());
  for (const char* t : {"Freeze", "Reboot", "Redeploy", "Preempt", "Terminate"})
    EXPECT_TRUE(needs_drain(t)) << t;
  EXPECT_FALSE(needs_drain("LiveMigration"));
  EXPECT_FALSE(needs_drain("reboot"));
  EXPECT_EQ(start_requests_body({"A1", "B2"}),
            R"({"StartRequests":[{"EventId":"A1"},{"EventId":"B2"}]})");
}

TEST(ScheduledEventsPoller, AsksTheNameThenReportsThisVmsEvents) {
  asio::io_context io;
  FakeImds imds(io, [](const FakeImds::Seen& s) -> std::pair<unsigned, std::string> {
    if (s.target.find("/metadata/instance/compute/name") == 0) return {200, "nva-a-1\n"};
    return {200, kDocument};
  });
  std::vector<std::vector<ScheduledEvent>> calls;
  std::vector<std::string> lines;
  Poller p(
      io, config_for(imds), [&calls](const auto& e) { calls.push_back(e); },
      [&lines](std::string l) { lines.push_back(l); });
  p.start();
  run_until(io, [&] { return calls.size() >= 2; });
  ASSERT_GE(calls.size(), 2u);
  ASSERT_EQ(calls[0].size(), 1u);
  EXPECT_EQ(calls[0][0].id, "A1");
  ASSERT_GE(imds.seen.size(), 3u);
  EXPECT_EQ(imds.seen[0].target,
            "/metadata/instance/compute/name?api-version=2021-02-01&format=text");
  EXPECT_EQ(imds.seen[1].method, "GET");
  EXPECT_EQ(imds.seen[1].target, "/metadata/scheduledevents?api-version=2020-07-01");
  for (const auto& s : imds.seen) EXPECT_EQ(s.metadata, "true");
  EXPECT_EQ(p.status().vm_name, "nva-a-1");
  EXPECT_EQ(p.status().incarnation, 7);
  EXPECT_EQ(p.status().failures, 0u);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "azure: scheduled events: this VM is nva-a-1");
}

TEST(ScheduledEventsPoller, FailuresAreCountedAndTheLastAnswerStands) {
  asio::io_context io;
  int n = 0;
  FakeImds imds(io, [&n](const FakeImds::Seen&) -> std::pair<unsigned, std::string> {
    switch (n++) {
      case 0:
        return {500, "busy"};
      case 1:
        return {200, "{\"Events\": 3}"};
      default:
        return {200, R"({"DocumentIncarnation": 2, "Events": []})"};
    }
  });
  PollerConfig c = config_for(imds);
  c.vm_name = "nva-a-1";  // configured: no name request
  std::vector<std::size_t> calls;
  std::vector<std::string> lines;
  Poller p(
      io, c, [&calls](const auto& e) { calls.push_back(e.size()); },
      [&lines](std::string l) { lines.push_back(l); });
  p.start();
  run_until(io, [&] { return !calls.empty(); });
  EXPECT_EQ(calls, (std::vector<std::size_t>{0}));  // only the good answer
  EXPECT_EQ(p.status().failures, 2u);
  EXPECT_EQ(p.status().last_error, "");
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0], "azure: scheduled events: http 500");
  EXPECT_EQ(lines[1],
            "azure: scheduled events: the answer is not a Scheduled Events document: no "
            "Events array");
}

TEST(ScheduledEventsPoller, AcknowledgesWithStartRequests) {
  asio::io_context io;
  FakeImds imds(io, [](const FakeImds::Seen&) -> std::pair<unsigned, std::string> {
    return {200, R"({"DocumentIncarnation": 1, "Events": []})"};
  });
  PollerConfig c = config_for(imds);
  c.vm_name = "nva-a-1";
  Poller p(
      io, c, [](const auto&) {}, [](std::string) {});
  std::optional<std::pair<bool, std::string>> result;
  p.acknowledge({"A1"},
                [&result](bool ok, const std::string& d) { result.emplace(ok, d); });
  run_until(io, [&] { return result.has_value(); });
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->first);
  EXPECT_EQ(result->second, "http 200");
  ASSERT_EQ(imds.seen.size(), 1u);
  EXPECT_EQ(imds.seen[0].method, "POST");
  EXPECT_EQ(imds.seen[0].target, "/metadata/scheduledevents?api-version=2020-07-01");
  EXPECT_EQ(imds.seen[0].metadata, "true");
  EXPECT_EQ(imds.seen[0].body, R"({"StartRequests":[{"EventId":"A1"}]})");
  EXPECT_EQ(p.status().acknowledged, 1u);
}

TEST(ScheduledEventsPoller, ASilentServerTimesOut) {
  asio::io_context io;
  FakeImds imds(io, [](const FakeImds::Seen&) -> std::pair<unsigned, std::string> {
    return {FakeImds::kSilent, ""};
  });
  PollerConfig c = config_for(imds);
  c.vm_name = "nva-a-1";
  c.timeout = milliseconds(100);
  int calls = 0;
  Poller p(
      io, c, [&calls](const auto&) { ++calls; }, [](std::string) {});
  p.start();
  run_until(io, [&] { return p.status().failures >= 1; });
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(p.status().last_error, "timeout after 100 ms (read)");
}

TEST(ScheduledEventsPoller, NoCallbackAfterThePollerIsGone) {
  asio::io_context io;
  FakeImds imds(io, [](const FakeImds::Seen&) -> std::pair<unsigned, std::string> {
    return {FakeImds::kSilent, ""};
  });
  PollerConfig c = config_for(imds);
  c.vm_name = "nva-a-1";
  int calls = 0;
  bool acked = false;
  {
    Poller p(
        io, c, [&calls](const auto&) { ++calls; }, [](std::string) {});
    p.start();
    p.acknowledge({"A1"}, [&acked](bool, const std::string&) { acked = true; });
    run_until(io, [&] { return imds.seen.size() >= 2; });
    ASSERT_EQ(imds.seen.size(), 2u);
  }
  io.restart();
  io.run_for(milliseconds(500));  // past the timeout
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(acked);
}

}  // namespace
}  // namespace nva::azure
