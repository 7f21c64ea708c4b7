// RCU publication: readers never see a freed or half-built snapshot, the
// writer waits for online readers only, and sleeping (offline) readers do
// not hold it up.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "dataplane/common/rcu.h"
#include "tests/support/eal.h"

namespace nva {
namespace {

using namespace std::chrono_literals;

struct Snapshot {
  explicit Snapshot(std::uint64_t v) : version(v), words(512, v) {}
  std::uint64_t version;
  std::vector<std::uint64_t> words;  // every word equals version
};

TEST(Rcu, ReadersSeeWholeSnapshotsWhileWriterReplacesThem) {
  ASSERT_TRUE(test::EalEnvironment::running());
  constexpr std::uint32_t kReaders = 2;
  RcuDomain rcu(kReaders);
  RcuPublished<Snapshot> table(rcu, std::make_unique<Snapshot>(0));
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> bad{0}, reads{0};
  std::atomic<std::uint32_t> ready{0};

  std::vector<std::thread> readers;
  for (std::uint32_t id = 0; id < kReaders; ++id) {
    readers.emplace_back([&, id] {
      rcu.register_reader(id);
      rcu.online(id);
      std::uint64_t last = 0;
      bool counted = false;
      while (!stop.load(std::memory_order_relaxed)) {
        const Snapshot* s = table.read();
        // Use it for a while: the writer must not free it meanwhile (ASan
        // reports a use-after-free if it does).
        for (std::uint64_t w : s->words) bad += w != s->version;
        bad += s->version < last;
        last = s->version;
        ++reads;
        if (!counted) {
          counted = true;
          ready.fetch_add(1);  // this reader is online and reading
        }
        rcu.quiescent(id);
        std::this_thread::yield();  // two cores: let the writer run too
      }
      rcu.offline(id);
      rcu.unregister_reader(id);
    });
  }
  // Publish only once every reader is online and reading.
  while (ready.load() < kReaders) std::this_thread::yield();
  for (std::uint64_t v = 1; v <= 200; ++v) {
    table.publish(std::make_unique<Snapshot>(v));
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(table.read()->version, 200u);
}

TEST(Rcu, WriterWaitsForAnOnlineReaderHoldingTheOldSnapshot) {
  ASSERT_TRUE(test::EalEnvironment::running());
  RcuDomain rcu(1);
  RcuPublished<Snapshot> table(rcu, std::make_unique<Snapshot>(1));
  std::promise<void> holding, release;
  std::thread reader([&] {
    rcu.register_reader(0);
    rcu.online(0);
    const Snapshot* s = table.read();
    holding.set_value();
    release.get_future().wait();
    EXPECT_EQ(s->words.back(), 1u);  // still valid: not freed yet
    rcu.quiescent(0);
    rcu.offline(0);
    rcu.unregister_reader(0);
  });
  holding.get_future().wait();
  auto done = std::async(std::launch::async,
                         [&] { table.publish(std::make_unique<Snapshot>(2)); });
  EXPECT_EQ(done.wait_for(100ms), std::future_status::timeout)
      << "publish() returned while a reader still held the old snapshot";
  release.set_value();
  EXPECT_EQ(done.wait_for(5s), std::future_status::ready);
  reader.join();
}

TEST(Rcu, OfflineReaderDoesNotBlockTheWriter) {
  ASSERT_TRUE(test::EalEnvironment::running());
  RcuDomain rcu(2);
  RcuPublished<Snapshot> table(rcu, std::make_unique<Snapshot>(1));
  rcu.register_reader(1);  // registered, then offline (an idle worker)
  rcu.online(1);
  rcu.offline(1);
  auto done = std::async(std::launch::async,
                         [&] { table.publish(std::make_unique<Snapshot>(2)); });
  EXPECT_EQ(done.wait_for(5s), std::future_status::ready);
  rcu.unregister_reader(1);
}

// The control plane's way: a reader stuck while online (a stalled worker)
// must not block publication; the old snapshot stays valid for it and is
// freed by reclaim() only once the reader has passed a quiescent state.
TEST(Rcu, DeferredPublishNeverBlocksAndReclaimsAfterTheReaderMovesOn) {
  ASSERT_TRUE(test::EalEnvironment::running());
  RcuDomain rcu(1);
  RcuPublished<Snapshot> table(rcu, std::make_unique<Snapshot>(1));
  std::promise<void> holding, release, passed;
  std::thread reader([&] {
    rcu.register_reader(0);
    rcu.online(0);
    const Snapshot* s = table.read();
    holding.set_value();
    release.get_future().wait();
    EXPECT_EQ(s->words.back(), 1u);  // not freed while held (ASan checks)
    rcu.quiescent(0);
    passed.set_value();
    rcu.offline(0);
    rcu.unregister_reader(0);
  });
  holding.get_future().wait();
  auto done = std::async(std::launch::async, [&] {
    table.publish_deferred(std::make_unique<Snapshot>(2));
    table.publish_deferred(std::make_unique<Snapshot>(3));
  });
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready)
      << "publish_deferred() blocked on a stuck reader";
  EXPECT_EQ(table.read()->version, 3u);
  EXPECT_EQ(table.reclaim(), 2u) << "freed while the reader still held one";
  release.set_value();
  passed.get_future().wait();
  EXPECT_EQ(table.reclaim(), 0u);
  reader.join();
}

}  // namespace
}  // namespace nva
