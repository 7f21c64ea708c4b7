// The control plane's logger (issue 12, finding 9): a pipe nobody reads
// never blocks the caller (lines are dropped and the drop is said once the
// output moves again); repeats of one key are suppressed and counted.
#include "controlplane/logger.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace nva::logging {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

struct Pipe {
  Pipe() { EXPECT_EQ(::pipe(fd), 0); }
  ~Pipe() {
    close_write();
    if (fd[0] >= 0) ::close(fd[0]);
  }
  void close_write() {
    if (fd[1] >= 0) ::close(fd[1]);
    fd[1] = -1;
  }
  // Everything until EOF (the write end closed), as lines.
  std::vector<std::string> read_all() {
    std::string all;
    char buf[65536];
    for (ssize_t n; (n = ::read(fd[0], buf, sizeof buf)) > 0;) all.append(buf, n);
    std::vector<std::string> lines;
    std::istringstream in(all);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
  }
  int fd[2] = {-1, -1};
};

TEST(Logger, APipeNobodyReadsNeverBlocksTheCaller) {
  Pipe pipe;
  LoggerConfig c;
  c.queue_lines = 256;
  c.burst = 1'000'000;  // no rate limit: this is about the queue
  std::vector<std::string> lines;
  std::thread reader;
  {
    Logger logger(pipe.fd[1], c);
    const std::string payload(200, 'x');
    // 40,000 x 200 bytes = 8 MB against a 64 KiB pipe buffer.
    const auto start = Clock::now();
    auto worst = Clock::duration::zero();
    for (int i = 0; i < 40'000; ++i) {
      const auto t = Clock::now();
      logger.log("flood", std::to_string(i) + " " + payload);
      worst = std::max(worst, Clock::now() - t);
    }
    const auto total = Clock::now() - start;
    EXPECT_LT(total, std::chrono::seconds(3));
    EXPECT_LT(worst, milliseconds(200));  // a blocked write would be forever
    const LoggerStats s = logger.stats();
    EXPECT_GT(s.dropped, 30'000u);
    EXPECT_LE(s.queued, 40'000u - s.dropped);
    // Now someone reads: the queue drains and says what it dropped.
    reader = std::thread([&] { lines = pipe.read_all(); });
    EXPECT_TRUE(logger.flush(std::chrono::seconds(10)));
    logger.log("", "after");
    EXPECT_TRUE(logger.flush(std::chrono::seconds(10)));
  }
  pipe.close_write();
  reader.join();
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "after");
  std::uint64_t said_dropped = 0;
  for (const auto& l : lines) {
    if (l.rfind("log: ", 0) == 0 &&
        l.find(" line(s) dropped (output blocked") != std::string::npos) {
      said_dropped += std::stoull(l.substr(5));
    }
  }
  EXPECT_GT(said_dropped, 30'000u);
  // Every line is either written or counted as dropped.
  std::size_t payload_lines = 0;
  for (const auto& l : lines) payload_lines += l.size() > 200;
  EXPECT_EQ(payload_lines + said_dropped, 40'000u);
}

TEST(Logger, RepeatsOfAKeyAreSuppressedAndCounted) {
  Pipe pipe;
  std::atomic<std::int64_t> ms{0};
  LoggerConfig c;
  c.burst = 3;
  // An hour of the test's clock: the logger thread's own (real) wake-ups
  // never end a window; the test steps the clock.
  constexpr std::int64_t kHour = 3'600'000;
  c.window = milliseconds(kHour);
  std::vector<std::string> lines;
  {
    Logger logger(pipe.fd[1], c,
                  [&] { return Clock::time_point(milliseconds(ms.load())); });
    for (int i = 0; i < 10; ++i) {
      logger.log("bgp: rs1: update-received",
                 "bgp: rs1: update (" + std::to_string(i) + ")");
    }
    logger.log("bgp: rs2: update-received", "bgp: rs2: update");  // its own key
    for (int i = 0; i < 5; ++i) logger.log("", "same line");      // the line is the key
    ASSERT_TRUE(logger.flush(std::chrono::seconds(5)));
    EXPECT_EQ(logger.stats().suppressed, 7u + 2u);

    ms = kHour;  // a new window: rs1 says what it suppressed in its next line
    logger.log("bgp: rs1: update-received", "bgp: rs1: update (10)");
    // "same line" went quiet: a line of its own says what it suppressed.
    ASSERT_TRUE(logger.flush(std::chrono::seconds(5)));
    ms = 3 * kHour;
    ASSERT_TRUE(logger.flush(std::chrono::seconds(5)));  // nothing left to say
  }
  pipe.close_write();
  lines = pipe.read_all();
  const std::vector<std::string> want = {
      "bgp: rs1: update (0)",
      "bgp: rs1: update (1)",
      "bgp: rs1: update (2)",
      "bgp: rs2: update",
      "same line",
      "same line",
      "same line",
      "bgp: rs1: update (10) [7 similar suppressed]",
      "log: 2 more 'same line' line(s) suppressed",
  };
  EXPECT_EQ(lines, want);
}

TEST(Logger, LongLinesAreCut) {
  Pipe pipe;
  {
    Logger logger(pipe.fd[1]);
    logger.log("", std::string(10'000, 'y'));
    ASSERT_TRUE(logger.flush(std::chrono::seconds(5)));
  }
  pipe.close_write();
  const auto lines = pipe.read_all();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].size(), kMaxLineLength);
  EXPECT_EQ(lines[0].substr(kMaxLineLength - 3), "...");
}

}  // namespace
}  // namespace nva::logging
