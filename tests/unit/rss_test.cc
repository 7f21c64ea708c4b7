// RSS pre-calculation: the table Toeplitz against DPDK's rte_softrss, the
// GF(2) solve (every candidate lands on its worker, the candidates of all
// workers partition the port space), SNAT ports chosen by the translator
// over random keys, tables, queue counts, backends and clients, port
// exhaustion, and owner() with RSS.
#include <gtest/gtest.h>
#include <rte_thash.h>

#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "dataplane/nat/translator.h"
#include "dataplane/port/port.h"
#include "dataplane/steer/owner.h"
#include "dataplane/steer/rss.h"
#include "tests/support/packet_builder.h"
#include "tests/support/services.h"

namespace nva::steer {
namespace {

using Bytes = std::vector<std::uint8_t>;
using packet::ipv4_from_string;
using packet::PacketBuilder;
using packet::ParsedPacket;

std::string addr(std::uint32_t a) { return packet::ipv4_to_string(a); }

// DPDK's reference: rte_softrss over struct rte_ipv4_tuple (host order).
std::uint32_t softrss(const RssKey& key, std::uint32_t src, std::uint32_t dst,
                      std::uint16_t sport, std::uint16_t dport) {
  std::uint32_t t[3] = {src, dst, (std::uint32_t{sport} << 16) | dport};
  return rte_softrss(t, 3, key.data());
}

RssKey random_key(std::mt19937& rng) {
  RssKey k;
  for (auto& b : k) b = static_cast<std::uint8_t>(rng());
  return k;
}

// A random table: entries name random queues, every queue at least once.
RssView random_view(std::mt19937& rng, std::uint32_t reta_size, std::uint32_t queues) {
  RssView v;
  v.key = random_key(rng);
  v.reta.resize(reta_size);
  for (auto& q : v.reta) q = static_cast<std::uint16_t>(rng() % queues);
  for (std::uint32_t q = 0; q < queues; ++q) v.reta[rng() % reta_size] = 0xFFFF;
  std::uint32_t next = 0;
  for (auto& q : v.reta) {
    if (q == 0xFFFF) q = static_cast<std::uint16_t>(next++ % queues);
  }
  return v;
}

std::uint32_t worker_by_softrss(const RssView& v, std::uint32_t src, std::uint32_t dst,
                                std::uint16_t sport, std::uint16_t dport) {
  return v.reta[softrss(v.key, src, dst, sport, dport) & (v.reta.size() - 1)];
}

TEST(Rss, ToeplitzMatchesRteSoftrss) {
  std::mt19937 rng(1);
  for (int k = 0; k < 50; ++k) {
    const RssKey key = random_key(rng);
    const Toeplitz4 t(key);
    for (int i = 0; i < 1000; ++i) {
      const std::uint32_t s = rng(), d = rng();
      const auto sp = static_cast<std::uint16_t>(rng()),
                 dp = static_cast<std::uint16_t>(rng());
      ASSERT_EQ(t.hash(s, d, sp, dp), softrss(key, s, d, sp, dp));
    }
  }
}

TEST(Rss, RejectsTablesItCannotSolve) {
  std::string why;
  RssView v;
  v.reta.assign(100, 0);
  EXPECT_EQ(RssSteering::make(v, 2, why), nullptr);
  EXPECT_NE(why.find("power of two"), std::string::npos) << why;
  v.reta.assign(128, 0);
  v.reta[5] = 3;
  EXPECT_EQ(RssSteering::make(v, 2, why), nullptr);
  EXPECT_NE(why.find("queue 3"), std::string::npos) << why;
  v.reta[5] = 1;
  EXPECT_NE(RssSteering::make(v, 2, why), nullptr);
}

// The key installed on every port controls all reta bits from the SNAT
// port for every table size a NIC has (the solve needs no other key).
TEST(Rss, DefaultKeyHasFullRank) {
  RssView v;
  std::copy(std::begin(port::kDefaultRssKey), std::end(port::kDefaultRssKey),
            v.key.begin());
  for (std::uint32_t size = 4; size <= 65536; size *= 2) {
    v.reta.assign(size, 0);
    std::string why;
    const auto s = RssSteering::make(v, 1, why);
    ASSERT_NE(s, nullptr) << why;
    EXPECT_EQ(s->rank(), s->reta_bits()) << size;
  }
}

// Property: for random keys, tables of 64-512 entries, 1-16 queues and
// random fixed parts, every candidate of every worker lands on that worker
// (by rte_softrss), and with full rank the candidates of all workers are
// every port exactly once.
TEST(Rss, CandidatesLandOnTheirWorkerAndPartitionThePorts) {
  std::mt19937 rng(2);
  int full_rank = 0, cases = 0;
  for (int c = 0; c < 24; ++c) {
    const std::uint32_t reta = 64u << (c % 4);
    const std::uint32_t queues = 1 + rng() % 16;
    const RssView v = random_view(rng, reta, queues);
    std::string why;
    const auto s = RssSteering::make(v, queues, why);
    ASSERT_NE(s, nullptr) << why;
    ++cases;
    full_rank += s->rank() == s->reta_bits();
    for (int f = 0; f < 2; ++f) {
      const std::uint32_t backend = rng(), snat = rng();
      const auto bport = static_cast<std::uint16_t>(rng());
      const std::uint32_t fixed = s->hash(backend, snat, bport, 0);
      std::vector<int> seen(65536, 0);
      std::uint32_t total = 0;
      for (std::uint32_t w = 0; w < queues; ++w) {
        for (std::uint32_t n = 0; n < s->candidates(w); ++n) {
          const std::uint16_t p = s->candidate(fixed, w, n);
          if (p == 0 && s->rank() < s->reta_bits()) continue;  // unreachable entry
          ASSERT_EQ(worker_by_softrss(v, backend, snat, bport, p), w)
              << "port " << p << " candidate " << n << " of worker " << w;
          ++seen[p];
          ++total;
        }
      }
      if (s->rank() == s->reta_bits()) {
        EXPECT_EQ(total, 65536u);
        for (int p = 0; p < 65536; ++p) ASSERT_EQ(seen[p], 1) << p;
      }
    }
  }
  // Random 40-byte keys almost always control the low reta bits.
  EXPECT_GE(full_rank, cases * 9 / 10);
}

// Services over random backends and SNAT addresses.
lb::ServiceTable random_services(std::mt19937& rng) {
  std::vector<lb::Service> v;
  lb::Service api = test::service(
      {.name = "api", .vip = "198.19.0.11", .port = 443, .mode = lb::NatMode::kDnatSnat});
  for (int i = 0; i < 1 + static_cast<int>(rng() % 8); ++i) {
    api.backends.push_back({static_cast<std::uint32_t>(0xC6120000 + (rng() & 0xFFFF)),
                            static_cast<std::uint16_t>(1 + rng() % 65535), 1, true});
  }
  for (int i = 0; i < 1 + static_cast<int>(rng() % 4); ++i) {
    api.snat_addrs.push_back(static_cast<std::uint32_t>(0xC6110000 + (rng() & 0xFFFF)));
  }
  v.push_back(api);
  v.push_back(test::service({.name = "web",
                             .vip = "198.19.0.10",
                             .port = 80,
                             .backends = {test::backend("198.18.2.1", 8080)}}));
  return lb::ServiceTable(std::move(v), 307);
}

Bytes tcp(std::uint32_t s, std::uint16_t sp, std::uint32_t d, std::uint16_t dp,
          std::uint8_t flags) {
  return PacketBuilder()
      .Eth()
      .IPv4(addr(s), addr(d))
      .TCP(sp, dp, {.flags = flags})
      .Build();
}

// With RSS pre-calculation too, UDP SNAT never gets Azure's reserved port
// 65330: the worker whose candidates include it (for this reply tuple)
// hands out every other candidate and skips that one.
TEST(Rss, UdpSnatSkipsAzuresReservedPort) {
  std::mt19937 rng(11);
  const RssView v = random_view(rng, 128, 4);  // netvsc's RETA size
  std::string why;
  const auto rss = RssSteering::make(v, 4, why);
  ASSERT_NE(rss, nullptr) << why;
  const std::uint32_t backend = ipv4_from_string("198.18.4.1");
  const std::uint32_t snat = ipv4_from_string("198.18.1.1");
  const std::uint32_t me =
      worker_by_softrss(v, backend, snat, 53, nat::kAzureReservedUdpPort);
  const lb::ServiceTable svc(
      {test::service({.name = "dns",
                      .proto = 17,
                      .vip = "198.19.0.12",
                      .port = 53,
                      .backends = {test::backend("198.18.4.1", 53)},
                      .snat = {"198.18.1.1"}})},
      307);
  nat::TranslatorConfig cfg;
  cfg.worker = me;
  cfg.workers = 4;
  cfg.capacity = 70000;
  cfg.rss = rss.get();
  nat::Translator t(cfg);
  const std::uint32_t fixed = rss->hash(backend, snat, 53, 0);
  std::uint32_t usable = 0;
  bool reserved_is_candidate = false;
  for (std::uint32_t n = 0; n < rss->candidates(me); ++n) {
    const std::uint16_t port = rss->candidate(fixed, me, n);
    usable += port >= cfg.snat_port_min;
    reserved_is_candidate |= port == nat::kAzureReservedUdpPort;
  }
  ASSERT_TRUE(reserved_is_candidate);
  std::set<std::uint16_t> ports;
  for (std::uint32_t i = 0; i < usable; ++i) {
    Bytes q = PacketBuilder()
                  .Eth()
                  .IPv4(addr(0x0A000000 + i), "198.19.0.12")
                  .UDP(5000, 53)
                  .Payload("q")
                  .Build();
    ParsedPacket p;
    ASSERT_EQ(packet::parse(q, p), packet::DropReason::kNone);
    if (t.process(q, p, svc, i) != nat::Verdict::kForward) continue;
    ASSERT_EQ(packet::parse(q, p), packet::DropReason::kNone);
    ports.insert(p.src_port);
  }
  EXPECT_EQ(ports.count(nat::kAzureReservedUdpPort), 0u);
  EXPECT_EQ(ports.size(), usable - 1);  // every candidate but the reserved one
}

// Property, through the translators: every connection created on worker
// owner() gets a SNAT port whose reply tuple rte_softrss puts on a reta
// entry of that worker, and owner() of the reply is that worker.
TEST(Rss, EveryReplyLandsOnTheAllocatingWorker) {
  std::mt19937 rng(3);
  std::uint64_t created = 0;
  for (int c = 0; c < 40; ++c) {
    const std::uint32_t reta = 64u << (rng() % 4);
    const std::uint32_t workers = 2 + rng() % 15;
    const RssView v = random_view(rng, reta, workers);
    std::string why;
    const auto rss = RssSteering::make(v, workers, why);
    ASSERT_NE(rss, nullptr) << why;
    const lb::ServiceTable svc = random_services(rng);
    std::vector<std::unique_ptr<nat::Translator>> w;
    for (std::uint32_t i = 0; i < workers; ++i) {
      nat::TranslatorConfig cfg;
      cfg.worker = i;
      cfg.workers = workers;
      cfg.capacity = 4000;
      cfg.rss = rss.get();
      w.push_back(std::make_unique<nat::Translator>(cfg));
    }
    const OwnerParams op{workers, 5, rss.get()};
    for (int n = 0; n < 500; ++n) {
      const std::uint32_t client = rng();
      const auto cport = static_cast<std::uint16_t>(1 + rng() % 65535);
      Bytes fwd = tcp(client, cport, ipv4_from_string("198.19.0.11"), 443, 0x02);
      ParsedPacket p;
      ASSERT_EQ(packet::parse(fwd, p), packet::DropReason::kNone);
      const std::uint32_t o = owner(fwd, p, svc, op);
      // The NIC's choice for the client's packet.
      ASSERT_EQ(o, worker_by_softrss(v, p.ipv4_src, p.ipv4_dst, p.src_port, p.dst_port));
      if (w[o]->process(fwd, p, svc, 0) != nat::Verdict::kForward) {
        ADD_FAILURE() << "drop " << nat::nat_drop_name(w[o]->last_drop());
        continue;
      }
      ++created;
      ASSERT_EQ(packet::parse(fwd, p), packet::DropReason::kNone);
      // Reply: backend -> SNAT address:port.
      ASSERT_EQ(worker_by_softrss(v, p.ipv4_dst, p.ipv4_src, p.dst_port, p.src_port), o)
          << "SNAT port " << p.src_port << " made on worker " << o;
      Bytes rev = tcp(p.ipv4_dst, p.dst_port, p.ipv4_src, p.src_port, 0x12);
      ParsedPacket r;
      ASSERT_EQ(packet::parse(rev, r), packet::DropReason::kNone);
      ASSERT_EQ(owner(rev, r, svc, op), o);
      ASSERT_EQ(w[o]->process(rev, r, svc, 0), nat::Verdict::kForward);
    }
  }
  EXPECT_EQ(created, 40u * 500u);
}

// dnat services keep the client-endpoint hash (the reply tuple is not
// ours to choose): owner() with RSS is the same as without.
TEST(Rss, DnatServicesKeepTheClientHash) {
  std::mt19937 rng(4);
  const RssView v = random_view(rng, 128, 4);
  std::string why;
  const auto rss = RssSteering::make(v, 4, why);
  ASSERT_NE(rss, nullptr);
  const lb::ServiceTable svc = random_services(rng);
  const OwnerParams with{4, 5, rss.get()}, without{4, 5, nullptr};
  for (int n = 0; n < 1000; ++n) {
    const std::uint32_t client = rng();
    const auto cport = static_cast<std::uint16_t>(rng());
    Bytes fwd = tcp(client, cport, ipv4_from_string("198.19.0.10"), 80, 0x02);
    Bytes rev = tcp(ipv4_from_string("198.18.2.1"), 8080, client, cport, 0x12);
    ParsedPacket p, r;
    ASSERT_EQ(packet::parse(fwd, p), packet::DropReason::kNone);
    ASSERT_EQ(packet::parse(rev, r), packet::DropReason::kNone);
    EXPECT_EQ(owner(fwd, p, svc, with), owner(fwd, p, svc, without));
    EXPECT_EQ(owner(rev, r, svc, with), owner(fwd, p, svc, without));
  }
}

// One worker of four, one backend, one SNAT address: it creates exactly as
// many connections as it has candidate ports >= snat_port_min, every one on
// its own queue, and then counts exhaustion and takes a port back from one
// of its own embryonic connections (issue 12), never a port of another
// worker.
TEST(Rss, ExhaustionIsCountedAndNeverBorrowsAPort) {
  std::mt19937 rng(5);
  for (std::uint32_t reta : {64u, 512u}) {
    const RssView v = random_view(rng, reta, 4);
    std::string why;
    const auto rss = RssSteering::make(v, 4, why);
    ASSERT_NE(rss, nullptr);
    ASSERT_EQ(rss->rank(), rss->reta_bits());
    const lb::ServiceTable svc(
        {test::service({.name = "one",
                        .vip = "198.19.0.11",
                        .port = 443,
                        .backends = {test::backend("198.18.3.1", 443)},
                        .snat = {"198.18.1.1"}})},
        307);
    const std::uint32_t me = 2;
    nat::TranslatorConfig cfg;
    cfg.worker = me;
    cfg.workers = 4;
    cfg.capacity = 70000;
    cfg.rss = rss.get();
    cfg.syn_proxy = nat::SynProxyMode::kOff;  // exhaustion itself, not cookies
    nat::Translator t(cfg);
    const std::uint32_t fixed =
        rss->hash(ipv4_from_string("198.18.3.1"), ipv4_from_string("198.18.1.1"), 443, 0);
    std::uint32_t usable = 0;
    for (std::uint32_t n = 0; n < rss->candidates(me); ++n) {
      usable += rss->candidate(fixed, me, n) >= cfg.snat_port_min;
    }
    std::set<std::uint16_t> ports;
    std::uint64_t reused = 0;
    for (std::uint32_t i = 0; i < usable + 50; ++i) {
      Bytes fwd = tcp(0x0A000000 + i, 1000, ipv4_from_string("198.19.0.11"), 443, 0x02);
      ParsedPacket p;
      ASSERT_EQ(packet::parse(fwd, p), packet::DropReason::kNone);
      const std::uint64_t evicted = t.counters().snat_evicted;
      ASSERT_EQ(t.process(fwd, p, svc, i), nat::Verdict::kForward);
      ASSERT_EQ(packet::parse(fwd, p), packet::DropReason::kNone);
      ASSERT_EQ(worker_by_softrss(v, p.ipv4_dst, p.ipv4_src, p.dst_port, p.src_port), me);
      ASSERT_GE(p.src_port, cfg.snat_port_min);
      if (t.counters().snat_evicted == evicted) {
        ASSERT_TRUE(ports.insert(p.src_port).second) << "port " << p.src_port << " twice";
      } else {
        // Exhausted: the port of an embryonic connection of the pair (all
        // of them are: SYNs only), never one outside this worker's set.
        ASSERT_TRUE(ports.count(p.src_port)) << "port " << p.src_port;
        ++reused;
      }
    }
    EXPECT_EQ(ports.size(), usable) << "reta " << reta;
    EXPECT_EQ(reused, 50u);
    EXPECT_EQ(t.exhaustion().total(), 50u);
    EXPECT_EQ(t.tracker().table().size(), usable);
    // About a quarter of the port space is this worker's.
    EXPECT_NEAR(static_cast<double>(usable), 64512.0 * rss->candidates(me) / 65536, 64);
  }
}

}  // namespace
}  // namespace nva::steer
