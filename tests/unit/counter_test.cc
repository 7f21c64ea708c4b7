// Counters (dataplane/common/counter.h): one writer's increments, whole
// values for readers on other threads, and the counter tables' names, each
// of which docs/TELEMETRY.md must describe (a counter added to a table
// appears in /nva/workers by itself; its documentation must not lag).
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/common/counter.h"
#include "dataplane/worker.h"

namespace nva {
namespace {

TEST(Counter, CountsAndReadsWholeFromAnotherThread) {
  Counter c;
  ++c;
  c++;
  c += 40;
  EXPECT_EQ(c.load(), 42u);
  EXPECT_EQ(static_cast<std::uint64_t>(c), 42u);
  const Counter copy = c;
  EXPECT_EQ(copy, 42u);
  // One writer, one reader: the reader sees a value that only grows and
  // ends at the writer's count (under TSan this is also race-free).
  Counter n;
  std::atomic<bool> done{false};
  std::uint64_t seen = 0, last = 0;
  bool monotonic = true;
  std::thread reader([&] {
    while (!done.load(std::memory_order_acquire)) {
      const std::uint64_t v = n.load();
      monotonic = monotonic && v >= last;
      last = v;
    }
    seen = n.load();
  });
  for (int i = 0; i < 1'000'000; ++i) ++n;
  done.store(true, std::memory_order_release);
  reader.join();
  EXPECT_TRUE(monotonic);
  EXPECT_EQ(seen, 1'000'000u);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(CounterTables, EveryPublishedNameIsDocumented) {
  const std::string doc = read_file(std::string(NVA_SOURCE_ROOT) + "/docs/TELEMETRY.md");
  ASSERT_FALSE(doc.empty());
  std::vector<std::string> names = {"heartbeat", "connections", "nat_dropped", "dropped"};
#define NVA_X(member, name, what) names.push_back(name);
  NVA_WORKER_COUNTERS(NVA_X)
  NVA_TRANSLATOR_COUNTERS(NVA_X)
  NVA_TRACKER_COUNTERS(NVA_X)
  NVA_FRAGMENT_COUNTERS(NVA_X)
#undef NVA_X
  std::vector<std::string> seen;
  for (const std::string& n : names) {
    EXPECT_NE(doc.find("`" + n + "`"), std::string::npos)
        << "docs/TELEMETRY.md does not describe /nva/workers' `" << n << "`";
    for (const std::string& s : seen) EXPECT_NE(s, n) << "published twice";
    seen.push_back(n);
  }
}

}  // namespace
}  // namespace nva
