// Connection table tests: both directions, churn against a model, full
// table, bulk lookups (incl. signature collisions), bytes per connection.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <random>
#include <unordered_map>
#include <vector>

#include "dataplane/conntrack/table.h"

namespace nva::conntrack {
namespace {

ConnKey key(std::uint32_t src, std::uint32_t dst, std::uint16_t sp, std::uint16_t dp,
            std::uint8_t proto = 6) {
  ConnKey k;
  k.src_addr = src;
  k.dst_addr = dst;
  k.src_port = sp;
  k.dst_port = dp;
  k.proto = proto;
  return k;
}

ConnKey random_key(std::mt19937_64& rng) {
  return key(static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng()),
             static_cast<std::uint16_t>(rng()), static_cast<std::uint16_t>(rng()),
             rng() % 2 ? 6 : 17);
}

// Inserts a connection between two random tuples; returns them.
std::array<ConnKey, 2> insert_random(ConnTable& t, std::mt19937_64& rng) {
  const ConnKey a = random_key(rng), b = random_key(rng);
  EXPECT_NE(t.insert(a, b), ConnRef::kNone);
  return {a, b};
}

// Looks `keys` up in bursts of kMaxBurst with lookup_bulk(), expecting the
// answer of a single lookup() for each; returns how many were found.
unsigned expect_bulk_agrees(const ConnTable& t, const std::vector<ConnKey>& keys) {
  unsigned found = 0;
  for (std::size_t base = 0; base < keys.size(); base += ConnTable::kMaxBurst) {
    const unsigned n = static_cast<unsigned>(
        std::min<std::size_t>(ConnTable::kMaxBurst, keys.size() - base));
    const ConnKey* ptrs[ConnTable::kMaxBurst];
    ConnRef out[ConnTable::kMaxBurst];
    for (unsigned i = 0; i < n; ++i) ptrs[i] = &keys[base + i];
    t.lookup_bulk(ptrs, n, out);
    for (unsigned i = 0; i < n; ++i) {
      EXPECT_EQ(out[i].raw, t.lookup(keys[base + i]).raw) << base + i;
      found += out[i].found() ? 1 : 0;
    }
  }
  return found;
}

struct KeyHash {
  std::size_t operator()(const ConnKey& k) const {
    static const ConnTable t(16);
    return t.hash(k);
  }
};

TEST(ConnTable, FindsBothDirectionsAndForgetsOnErase) {
  ConnTable t(100);
  const ConnKey fwd = key(0xC6120001, 0xC6130001, 40000, 443);
  const ConnKey rev = key(0xC6120214, 0xC6120101, 8443, 1025);
  const std::uint32_t idx = t.insert(fwd, rev);
  ASSERT_NE(idx, ConnRef::kNone);
  EXPECT_EQ(t.size(), 1u);
  const ConnRef a = t.lookup(fwd);
  const ConnRef b = t.lookup(rev);
  ASSERT_TRUE(a.found());
  ASSERT_TRUE(b.found());
  EXPECT_EQ(a.index(), idx);
  EXPECT_EQ(b.index(), idx);
  EXPECT_EQ(a.dir(), Dir::kOriginal);
  EXPECT_EQ(b.dir(), Dir::kReply);
  EXPECT_EQ(t.conn(idx).key[1], rev);
  // A tuple differing in one field is another flow.
  EXPECT_FALSE(t.lookup(key(0xC6120001, 0xC6130001, 40000, 443, 17)).found());
  EXPECT_FALSE(t.lookup(key(0xC6120001, 0xC6130001, 40001, 443)).found());
  t.erase(idx);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.lookup(fwd).found());
  EXPECT_FALSE(t.lookup(rev).found());
}

// Each direction's record carries what its packets are rewritten to: the
// other direction's tuple reversed, in wire order, and the checksum change
// of that mapping.
TEST(ConnTable, RecordsTheRewriteOfBothDirections) {
  ConnTable t(4);
  const ConnKey fwd = key(0xC6120001, 0xC6130001, 40000, 443);
  const ConnKey rev = key(0xC6120214, 0xC6120101, 8443, 1025);
  const Conn& c = t.conn(t.insert(fwd, rev));
  // A client packet leaves from the SNAT address 198.18.1.1:1025 to the
  // backend 198.18.2.20:8443.
  const std::uint8_t want_addrs[8] = {198, 18, 1, 1, 198, 18, 2, 20};
  const std::uint8_t want_ports[4] = {1025 >> 8, 1025 & 0xFF, 8443 >> 8, 8443 & 0xFF};
  const std::uint64_t addrs = c.key[1].reversed_addrs_wire();
  const std::uint32_t ports = c.key[1].reversed_ports_wire();
  EXPECT_EQ(std::memcmp(&addrs, want_addrs, 8), 0);
  EXPECT_EQ(std::memcmp(&ports, want_ports, 4), 0);
  const packet::TupleDelta d0 = packet::tuple_delta({0xC6120001, 0xC6130001, 40000, 443},
                                                    {0xC6120101, 0xC6120214, 1025, 8443});
  const packet::TupleDelta d1 = packet::tuple_delta({0xC6120214, 0xC6120101, 8443, 1025},
                                                    {0xC6130001, 0xC6120001, 443, 40000});
  EXPECT_EQ(c.delta[0].l3, d0.l3);
  EXPECT_EQ(c.delta[0].l4, d0.l4);
  EXPECT_EQ(c.delta[1].l3, d1.l3);
  EXPECT_EQ(c.delta[1].l4, d1.l4);
}

// The hash on structured traffic: many clients on one port, few clients on
// many ports, and SNAT-like reply tuples (8 backends, 64 addresses,
// sequential ports). The table must take every connection up to its
// capacity (the index at its design load) without a single failure.
// With the default key and with a random one (what the data plane uses).
TEST(ConnTable, StructuredKeysFillToCapacity) {
  constexpr std::uint32_t n = 1u << 18;
  std::mt19937_64 rng(11);
  const TableKey random_key{rng(), rng()};
  for (int pattern = 0; pattern < 4; ++pattern) {
    ConnTable t(n, pattern == 3 ? random_key : TableKey{});
    std::uint32_t failed = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::uint32_t client = pattern == 0   ? 0x0A000000 + i
                                   : pattern == 1 ? 0x0A000000 + (i >> 14)
                                                  : 0x0A000000 + (i & 0xFF);
      const auto port = static_cast<std::uint16_t>(pattern == 0   ? 40000
                                                   : pattern == 1 ? 1024 + (i & 0x3FFF)
                                                                  : 1024 + (i >> 8));
      // pattern 3: pattern 2's tuples under the random key
      const ConnKey a = key(client, 0xC613000A, port, 443);
      const ConnKey b = key(0xC6120200 + i % 8, 0xC6120100 + (i / 8) % 64, 8443,
                            static_cast<std::uint16_t>(1024 + i / 512));
      failed += t.insert(a, b) == ConnRef::kNone;
    }
    EXPECT_EQ(failed, 0u) << "pattern " << pattern;
    EXPECT_EQ(t.index_full(), 0u) << "pattern " << pattern;
  }
}

// The key changes every hash (so nobody without it can aim at a bucket),
// and a table finds what it stored under its own key.
TEST(ConnTable, TheHashIsKeyed) {
  ConnTable a(64), b(64, TableKey{1, 2});
  const ConnKey k = key(0xC6120001, 0xC6130001, 40000, 443);
  const ConnKey r = key(0xC6120214, 0xC6120101, 8443, 1025);
  EXPECT_NE(a.hash(k), b.hash(k));
  EXPECT_EQ(a.hash(k), ConnTable(64).hash(k));  // the default is fixed
  const std::uint32_t idx = b.insert(k, r);
  ASSERT_NE(idx, ConnRef::kNone);
  EXPECT_EQ(b.lookup(k).index(), idx);
  EXPECT_EQ(b.lookup(r).index(), idx);
}

TEST(ConnTable, FillsToCapacityThenRefuses) {
  constexpr std::uint32_t kCap = 50000;
  ConnTable t(kCap);
  std::mt19937_64 rng(1);
  std::vector<std::pair<ConnKey, ConnKey>> conns;
  for (std::uint32_t i = 0; i < kCap; ++i) {
    conns.emplace_back(random_key(rng), random_key(rng));
    ASSERT_NE(t.insert(conns.back().first, conns.back().second), ConnRef::kNone)
        << "insert " << i << " of " << kCap;
  }
  EXPECT_EQ(t.index_full(), 0u);
  EXPECT_EQ(t.size(), kCap);
  EXPECT_EQ(t.insert(random_key(rng), random_key(rng)), ConnRef::kNone);  // pool full
  for (std::uint32_t i = 0; i < kCap; ++i) {
    const ConnRef a = t.lookup(conns[i].first);
    const ConnRef b = t.lookup(conns[i].second);
    ASSERT_TRUE(a.found() && b.found()) << i;
    ASSERT_EQ(a.index(), b.index());
    ASSERT_EQ(t.conn(a.index()).key[0], conns[i].first);
  }
  for (int i = 0; i < 10000; ++i) ASSERT_FALSE(t.lookup(random_key(rng)).found());
}

// Random inserts and erases against a std::unordered_map model.
TEST(ConnTable, ChurnMatchesModel) {
  constexpr std::uint32_t kCap = 20000;
  ConnTable t(kCap);
  std::mt19937_64 rng(2);
  std::unordered_map<ConnKey, std::pair<std::uint32_t, Dir>, KeyHash> model;
  std::vector<std::uint32_t> live;
  for (int op = 0; op < 300000; ++op) {
    if (live.size() < kCap && (live.empty() || rng() % 100 < 55)) {
      const ConnKey a = random_key(rng), b = random_key(rng);
      const std::uint32_t idx = t.insert(a, b);
      ASSERT_NE(idx, ConnRef::kNone) << "op " << op << " size " << t.size();
      model[a] = {idx, Dir::kOriginal};
      model[b] = {idx, Dir::kReply};
      live.push_back(idx);
    } else {
      const std::size_t pos = rng() % live.size();
      const std::uint32_t idx = live[pos];
      model.erase(t.conn(idx).key[0]);
      model.erase(t.conn(idx).key[1]);
      t.erase(idx);
      live[pos] = live.back();
      live.pop_back();
    }
    if (op % 50000 == 0) {
      for (const auto& [k, v] : model) {
        const ConnRef r = t.lookup(k);
        ASSERT_TRUE(r.found());
        ASSERT_EQ(r.index(), v.first);
        ASSERT_EQ(r.dir(), v.second);
      }
    }
  }
  EXPECT_EQ(t.size(), live.size());
  EXPECT_EQ(t.index_full(), 0u);
}

TEST(ConnTable, BulkLookupAgreesWithSingleLookups) {
  ConnTable t(10000);
  std::mt19937_64 rng(3);
  std::vector<ConnKey> keys;
  for (int i = 0; i < 5000; ++i) {
    const auto [a, b] = insert_random(t, rng);
    keys.push_back(a);
    keys.push_back(b);
    keys.push_back(random_key(rng));  // a miss
  }
  expect_bulk_agrees(t, keys);
}

// The filter that spares a second lookup: every key inserted since the last
// bulk lookup answers "maybe" (no false negative, both directions), a bulk
// lookup clears it, and with a burst's worth of inserts most other keys
// answer "no".
TEST(ConnTable, KnowsWhatWasInsertedSinceTheBulkLookup) {
  ConnTable t(1000);
  std::mt19937_64 rng(11);
  const ConnKey* none[1] = {};
  ConnRef out[1];
  for (int round = 0; round < 20; ++round) {
    t.lookup_bulk(none, 0, out);
    std::vector<ConnKey> added;
    for (int i = 0; i < 32; ++i) {
      const auto [a, b] = insert_random(t, rng);
      added.push_back(a);
      added.push_back(b);
    }
    for (const ConnKey& k : added) EXPECT_TRUE(t.inserted_since_bulk(k));
    int maybe = 0;
    for (int i = 0; i < 1000; ++i) maybe += t.inserted_since_bulk(random_key(rng));
    EXPECT_LT(maybe, 250) << "64 of 512 bits set: about 12 % false positives";
    t.lookup_bulk(none, 0, out);
    for (const ConnKey& k : added) EXPECT_FALSE(t.inserted_since_bulk(k));
    for (const ConnKey& k : added) {
      const ConnRef r = t.lookup(k);
      if (r.found() && r.dir() == Dir::kOriginal) t.erase(r.index());
    }
  }
}

// The same with the table full (index at its design load): many entries
// live in their alternative bucket, which the bulk path fetches late.
TEST(ConnTable, BulkLookupAgreesWithSingleLookupsWhenFull) {
  ConnTable t(4096);
  std::mt19937_64 rng(5);
  std::vector<ConnKey> keys;
  while (t.size() < t.capacity()) {
    const ConnKey a = random_key(rng), b = random_key(rng);
    if (t.insert(a, b) == ConnRef::kNone) break;
    keys.push_back(a);
    keys.push_back(b);
    keys.push_back(random_key(rng));  // a miss
  }
  ASSERT_GT(t.size(), t.capacity() * 9 / 10);
  std::shuffle(keys.begin(), keys.end(), rng);
  const unsigned found = expect_bulk_agrees(t, keys);
  EXPECT_EQ(found, 2 * t.size());
}

// Keys whose 16-bit signatures collide in a tiny table: the bulk path must
// confirm the whole key and fall back to a full scan.
TEST(ConnTable, SignatureCollisionsResolvedByKey) {
  ConnTable t(16);
  std::mt19937_64 rng(4);
  std::map<std::uint16_t, ConnKey> by_sig;
  std::vector<std::pair<ConnKey, ConnKey>> pairs;
  while (pairs.size() < 6) {
    const ConnKey k = random_key(rng);
    const auto sig = static_cast<std::uint16_t>(t.hash(k) >> 48);
    auto [it, fresh] = by_sig.emplace(sig, k);
    if (!fresh) {
      pairs.emplace_back(it->second, k);
      by_sig.erase(it);
    }
  }
  for (const auto& [a, b] : pairs) ASSERT_NE(t.insert(a, b), ConnRef::kNone);
  std::vector<const ConnKey*> ptrs;
  for (const auto& [a, b] : pairs) {
    ptrs.push_back(&a);
    ptrs.push_back(&b);
  }
  std::vector<ConnRef> out(ptrs.size());
  t.lookup_bulk(ptrs.data(), static_cast<unsigned>(ptrs.size()), out.data());
  for (std::size_t i = 0; i < ptrs.size(); ++i) {
    ASSERT_TRUE(out[i].found()) << i;
    EXPECT_EQ(t.conn(out[i].index()).key[i % 2], *ptrs[i]) << i;
    EXPECT_EQ(static_cast<std::size_t>(out[i].dir()), i % 2);
  }
}

TEST(ConnTable, MemoryPerConnection) {
  ConnTable t(1000000);
  RecordProperty("bytes_per_conn", std::to_string(t.bytes_per_conn()));
  EXPECT_LE(t.bytes_per_conn(), 80.0);
  EXPECT_GE(t.bytes_per_conn(), 64.0);  // at least the record itself
}

TEST(ConnTable, RejectsBadCapacity) {
  EXPECT_THROW(ConnTable(0), std::invalid_argument);
  EXPECT_THROW(ConnTable((1u << 30) + 1), std::invalid_argument);
}

}  // namespace
}  // namespace nva::conntrack
