// Workers end to end on real ethdevs (net_ring ports made from rings, one
// RX and one TX ring per worker queue): translation in both directions,
// handoff to the owner from any queue, hostile input, MAC rewrite,
// expiry with an injected clock, and the idle back-off of run().
#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/options.h"
#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"
#include "dataplane/packet/parse.h"
#include "dataplane/port/port.h"
#include "dataplane/worker.h"
#include "tests/support/eal.h"
#include "tests/support/mbuf_util.h"
#include "tests/support/packet_builder.h"
#include "tests/support/services.h"
#include "tests/support/wait.h"

namespace nva {
namespace {

using Bytes = std::vector<std::uint8_t>;
using packet::ipv4_from_string;
using packet::PacketBuilder;

constexpr std::uint8_t kSyn = 0x02, kAck = 0x10;

std::string addr(std::uint32_t a) { return packet::ipv4_to_string(a); }

std::unique_ptr<lb::ServiceTable> make_services() {
  std::vector<lb::Service> v;
  v.push_back(test::service({.name = "web",
                             .vip = "198.19.0.10",
                             .port = 80,
                             .backends = {test::backend("198.18.2.1", 8080),
                                          test::backend("198.18.2.2", 8080)}}));
  v.push_back(test::service({.name = "api",
                             .vip = "198.19.0.11",
                             .port = 443,
                             .backends = {test::backend("198.18.3.1", 443)},
                             .snat = {"198.18.1.1"}}));
  v.push_back(test::service({.name = "dns",
                             .proto = 17,
                             .vip = "198.19.0.10",
                             .port = 53,
                             .backends = {test::backend("198.18.4.1", 5353)},
                             .snat = {"198.18.1.1"}}));
  return std::make_unique<lb::ServiceTable>(std::move(v), 307);
}

const rte_ether_addr kGateway{{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc}};

// A ring-backed port with `queues` RX/TX queues and that many workers.
class Rig {
 public:
  // `rss`: RSS pre-calculation on (the workers steer by it).
  // `capacity` connections per worker; SNAT ports from `snat_port_min`.
  explicit Rig(std::uint32_t workers, bool learn_gateway = false,
               std::uint32_t gateway_ip = 0, const steer::RssSteering* rss = nullptr,
               std::uint32_t capacity = 10000, std::uint16_t snat_port_min = 1024,
               nat::SynProxyMode syn_proxy = nat::SynProxyMode::kAuto)
      : pool_(test::make_pktmbuf_pool(4095)),
        rcu_(workers),
        services_(rcu_, make_services()),
        handoff_("nvat" + std::to_string(seq_) + "r", workers, 1024) {
    const std::string name = "nvat_port" + std::to_string(seq_++);
    for (std::uint32_t q = 0; q < workers; ++q) {
      rx_.push_back(rte_ring_create((name + "rx" + std::to_string(q)).c_str(), 1024,
                                    SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ));
      tx_.push_back(rte_ring_create((name + "tx" + std::to_string(q)).c_str(), 1024,
                                    SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ));
    }
    const int port = rte_eth_from_rings(name.c_str(), rx_.data(), workers, tx_.data(),
                                        workers, SOCKET_ID_ANY);
    EXPECT_GE(port, 0);
    port_ = static_cast<std::uint16_t>(port);
    port::PortConfig pc;
    pc.port_id = port_;
    pc.queues = static_cast<std::uint16_t>(workers);
    pc.pool = pool_.get();
    info_ = port::setup_port(pc);
    for (std::uint32_t w = 0; w < workers; ++w) {
      WorkerConfig wc;
      wc.id = w;
      wc.workers = workers;
      wc.owner_seed = 1234;
      wc.rss = rss;
      PortBinding pb;
      pb.port_id = port_;
      pb.queue = static_cast<std::uint16_t>(w);
      pb.mac = info_.mac;
      if (!learn_gateway && gateway_ip == 0) pb.gateway_mac = kGateway;
      pb.gateway_ip = gateway_ip;
      pb.local_ip = gateway_ip != 0 ? ipv4_from_string("198.18.0.2") : 0;
      pb.learned_mac = &learned_mac_;
      wc.pool = pool_.get();
      wc.ports.push_back(pb);
      wc.nat.capacity = capacity;
      wc.nat.snat_port_min = snat_port_min;
      wc.nat.syn_proxy = syn_proxy;
      wc.fragments.max_held_mbufs = DataplaneOptions::kFragmentMbufsPerWorker;
      workers_.push_back(std::make_unique<Worker>(wc, rcu_, services_, handoff_, clock_));
    }
  }
  ~Rig() {
    workers_.clear();
    rte_eth_dev_stop(port_);
    rte_eth_dev_close(port_);
    for (auto* r : rx_) drain_free(r);
    for (auto* r : tx_) drain_free(r);
    for (auto* r : rx_) rte_ring_free(r);
    for (auto* r : tx_) rte_ring_free(r);
  }

  // As if the NIC put the packet on RX queue q (in segments of `seg_len`
  // bytes if not 0, with the NIC's checksum verdict in `ol_flags`).
  void inject(std::uint32_t q, const Bytes& frame, std::size_t seg_len = 0,
              std::uint64_t ol_flags = 0) {
    rte_mbuf* m = test::mbuf_from_bytes(pool_.get(), frame, seg_len).release();
    ASSERT_NE(m, nullptr);
    m->port = port_;
    m->ol_flags |= ol_flags;
    ASSERT_EQ(rte_ring_enqueue(rx_[q], m), 0);
  }
  // As if a NIC with this RSS received it: the queue of its reta entry
  // (TCP/UDP IPv4 over the 4-tuple, anything else on queue 0).
  void inject_rss(const steer::RssSteering& nic, const Bytes& frame) {
    packet::ParsedPacket p;
    ASSERT_EQ(packet::parse(frame, p), packet::DropReason::kNone);
    const std::uint32_t q =
        p.has_ports ? nic.worker_of(p.ipv4_src, p.ipv4_dst, p.src_port, p.dst_port) : 0;
    inject(q, frame);
  }
  // Polls every worker until a whole round handles nothing (bounded), then
  // `extra` more rounds.
  void poll(int extra = 1) {
    for (int r = 0; r < 10000; ++r) {
      unsigned handled = 0;
      for (auto& w : workers_) handled += w->poll_once();
      if (handled == 0) break;
    }
    for (int r = 0; r < extra; ++r) {
      for (auto& w : workers_) w->poll_once();
    }
  }
  // Everything transmitted, with the TX queue (= worker) it left on.
  std::vector<std::pair<std::uint32_t, Bytes>> sent() {
    std::vector<std::pair<std::uint32_t, Bytes>> out;
    for (std::uint32_t q = 0; q < tx_.size(); ++q) {
      void* m = nullptr;
      while (rte_ring_dequeue(tx_[q], &m) == 0) {
        auto* mb = static_cast<rte_mbuf*>(m);
        out.emplace_back(q, test::bytes_from_mbuf(mb));
        rte_pktmbuf_free(mb);
      }
    }
    return out;
  }
  Worker& worker(std::uint32_t w) { return *workers_[w]; }
  std::uint32_t workers() const { return static_cast<std::uint32_t>(workers_.size()); }
  const port::PortInfo& info() const { return info_; }
  ManualClock& clock() { return clock_; }
  std::uint64_t total(Counter WorkerCounters::*field) {
    std::uint64_t n = 0;
    for (auto& w : workers_) n += w->counters().*field;
    return n;
  }
  rte_mempool* pool() { return pool_.get(); }
  // Replaces the service table (the workers are not online between polls).
  void publish(std::unique_ptr<lb::ServiceTable> t) { services_.publish(std::move(t)); }

 private:
  static void drain_free(rte_ring* r) {
    void* m = nullptr;
    while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  }
  static inline int seq_ = 0;
  test::MempoolPtr pool_;
  RcuDomain rcu_;
  RcuPublished<lb::ServiceTable> services_;
  steer::HandoffRings handoff_;
  ManualClock clock_;
  std::atomic<std::uint64_t> learned_mac_{0};
  std::vector<rte_ring*> rx_, tx_;
  std::uint16_t port_ = 0;
  port::PortInfo info_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

Bytes tcp(const std::string& s, std::uint16_t sp, const std::string& d, std::uint16_t dp,
          std::uint8_t flags, std::uint8_t ttl = 64) {
  return PacketBuilder()
      .Eth()
      .IPv4(s, d, {.ttl = ttl})
      .TCP(sp, dp, {.flags = flags})
      .Payload("data")
      .Build();
}

packet::ParsedPacket parsed(const Bytes& f) {
  packet::ParsedPacket p;
  EXPECT_EQ(packet::parse(f, p), packet::DropReason::kNone);
  return p;
}

class Workers : public ::testing::TestWithParam<std::uint32_t> {
 protected:
  void SetUp() override { ASSERT_TRUE(test::EalEnvironment::running()); }
};

// Connections on every queue, both directions, SNAT and DNAT: each packet
// leaves on the TX queue of the worker that owns its connection, whatever
// queue it arrived on, and the reply of a connection leaves on the same
// worker as its first packet.
TEST_P(Workers, BothDirectionsStayOnTheOwner) {
  const std::uint32_t n = GetParam();
  Rig rig(n);
  std::mt19937 rng(n);
  constexpr std::size_t kConns = 200;
  struct Flow {
    std::string client;
    std::uint16_t cport;
    bool snat;
  };
  std::vector<Flow> flows;
  std::set<std::pair<std::string, std::uint16_t>> seen;
  while (flows.size() < kConns) {
    Flow f{"203.0.113." + std::to_string(1 + rng() % 250),
           static_cast<std::uint16_t>(1024 + rng() % 60000), rng() % 2 == 0};
    if (seen.insert({f.client, f.cport}).second) flows.push_back(f);
  }
  for (const Flow& f : flows) {
    rig.inject(rng() % n, tcp(f.client, f.cport, f.snat ? "198.19.0.11" : "198.19.0.10",
                              f.snat ? 443 : 80, kSyn));
  }
  rig.poll();
  auto out = rig.sent();
  ASSERT_EQ(out.size(), flows.size());
  std::map<std::pair<std::string, std::uint16_t>, std::uint32_t>
      made_on;  // client -> worker
  std::vector<Bytes> replies;
  for (const auto& [q, bytes] : out) {
    const auto p = parsed(bytes);
    const bool snat = addr(p.ipv4_dst) == "198.18.3.1";
    if (snat) {
      EXPECT_EQ(addr(p.ipv4_src), "198.18.1.1");
      EXPECT_EQ(p.src_port % n, q) << "SNAT port outside worker " << q << "'s partition";
    } else {
      EXPECT_EQ(p.dst_port, 8080);
    }
    // MACs: from the port to the gateway.
    EXPECT_EQ(0, std::memcmp(bytes.data(), kGateway.addr_bytes, 6));
    EXPECT_EQ(0, std::memcmp(bytes.data() + 6, rig.info().mac.addr_bytes, 6));
    replies.push_back(
        tcp(addr(p.ipv4_dst), p.dst_port, addr(p.ipv4_src), p.src_port, kSyn | kAck));
    made_on[{snat ? "snat" : addr(p.ipv4_src), p.src_port}] = q;
  }
  // Replies arrive on random queues too.
  for (const Bytes& r : replies) rig.inject(rng() % n, r);
  rig.poll();
  out = rig.sent();
  ASSERT_EQ(out.size(), replies.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto p = parsed(out[i].second);
    EXPECT_TRUE(addr(p.ipv4_src) == "198.19.0.10" || addr(p.ipv4_src) == "198.19.0.11");
  }
  // Every reply went out on the worker that created its connection.
  for (std::uint32_t w = 0; w < n; ++w) {
    const auto& c = rig.worker(w).translator().counters();
    EXPECT_EQ(c.forwarded, 2 * c.created) << "worker " << w;
  }
  if (n > 1) {
    EXPECT_GT(rig.total(&WorkerCounters::handoff_out), 0u);
  }
  EXPECT_EQ(rig.total(&WorkerCounters::handoff_out),
            rig.total(&WorkerCounters::handoff_in));
  EXPECT_EQ(rig.total(&WorkerCounters::handoff_dropped), 0u);
}

// Packets of a connection created earlier in the same burst: the burst's
// bulk lookup missed them, and the worker must look again (not create a
// second connection, nor drop them as mid-stream), in both NAT modes.
TEST(Worker, ConnectionCreatedEarlierInTheBurst) {
  ASSERT_TRUE(test::EalEnvironment::running());
  Rig rig(1);
  for (const char* vip : {"198.19.0.10", "198.19.0.11"}) {
    const std::uint16_t port = std::string(vip) == "198.19.0.10" ? 80 : 443;
    rig.inject(0, tcp("203.0.113.7", 5000, vip, port, kSyn));
    rig.inject(0, tcp("203.0.113.7", 5000, vip, port, kSyn));  // retransmitted
    rig.inject(0, tcp("203.0.113.7", 5000, vip, port, kAck));
    rig.inject(0, tcp("203.0.113.8", 5000, vip, port, kSyn));
  }
  rig.poll();
  const auto out = rig.sent();
  ASSERT_EQ(out.size(), 8u);
  const auto& c = rig.worker(0).translator().counters();
  EXPECT_EQ(c.created, 4u);
  EXPECT_EQ(c.forwarded, 8u);
  EXPECT_EQ(c.dropped(), 0u);
  EXPECT_EQ(rig.worker(0).translator().tracker().table().size(), 4u);
  // The three packets of each first flow leave with the same tuple.
  for (std::size_t base : {0u, 4u}) {
    const auto a = parsed(out[base].second);
    for (std::size_t i = base + 1; i < base + 3; ++i) {
      const auto b = parsed(out[i].second);
      EXPECT_EQ(a.ipv4_src, b.ipv4_src);
      EXPECT_EQ(a.src_port, b.src_port);
      EXPECT_EQ(a.ipv4_dst, b.ipv4_dst);
      EXPECT_EQ(a.dst_port, b.dst_port);
    }
  }
}

// All traffic lands on queue 0 (a NIC without RSS): the owners still do
// all the work, through the handoff rings.
TEST_P(Workers, EverythingOnOneQueueReachesTheOwners) {
  const std::uint32_t n = GetParam();
  Rig rig(n);
  for (int i = 0; i < 100; ++i) {
    rig.inject(0, tcp("203.0.113.7", static_cast<std::uint16_t>(2000 + i), "198.19.0.11",
                      443, kSyn));
  }
  rig.poll();
  const auto out = rig.sent();
  ASSERT_EQ(out.size(), 100u);
  std::vector<int> per_queue(n, 0);
  for (const auto& [q, bytes] : out) {
    ++per_queue[q];
    EXPECT_EQ(parsed(bytes).src_port % n, q);
  }
  for (std::uint32_t q = 0; q < n; ++q) {
    EXPECT_EQ(static_cast<std::uint64_t>(per_queue[q]),
              rig.worker(q).translator().counters().created);
  }
  if (n > 1) {
    EXPECT_GT(per_queue[n - 1], 0);
  }
}

TEST_P(Workers, HostilePacketsAreCountedAndSurvived) {
  const std::uint32_t n = GetParam();
  Rig rig(n);
  std::mt19937 rng(5);
  int injected = 0;
  for (int i = 0; i < 300; ++i) {
    Bytes junk(rng() % 80);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    if (junk.size() > 14) {
      junk[12] = 0x08;  // mostly "IPv4", so the parser works for its reject
      junk[13] = 0x00;
    }
    rig.inject(rng() % n, junk);
    ++injected;
  }
  // A valid connection afterwards still works.
  rig.inject(0, tcp("203.0.113.5", 40000, "198.19.0.10", 80, kSyn));
  rig.poll();
  const auto out = rig.sent();
  std::uint64_t parse_drops = 0;
  for (std::uint32_t w = 0; w < n; ++w) {
    for (auto c : rig.worker(w).counters().parse_drops) parse_drops += c;
  }
  EXPECT_GT(parse_drops, 250u);
  // Every packet is accounted for: sent, or counted as a drop somewhere.
  std::uint64_t nat_drops = 0, exceptions = 0;
  for (std::uint32_t w = 0; w < n; ++w) {
    nat_drops += rig.worker(w).translator().counters().dropped();
    exceptions += rig.worker(w).counters().exception_dropped;
  }
  EXPECT_EQ(out.size() + parse_drops + nat_drops + exceptions,
            static_cast<std::uint64_t>(injected + 1));
  ASSERT_GE(out.size(), 1u);
}

// End to end with a NIC that steers by RSS (a software Toeplitz with a
// random key and a 128-entry table over the ring port's queues): with
// pre-calculation on, dnat+snat connections (both directions) never cross
// workers; off, the same traffic is correct through handoff. dnat
// connections are handed off either way (their replies are not ours to
// steer) and counted.
TEST_P(Workers, RssPrecalcNeedsNoHandoffForSnat) {
  const std::uint32_t n = GetParam();
  std::mt19937 rng(40 + n);
  steer::RssView view;
  for (auto& b : view.key) b = static_cast<std::uint8_t>(rng());
  for (std::uint32_t i = 0; i < 128; ++i)
    view.reta.push_back(static_cast<std::uint16_t>(i % n));
  std::string why;
  const auto nic = steer::RssSteering::make(view, n, why);
  ASSERT_NE(nic, nullptr) << why;
  for (const bool precalc : {true, false}) {
    SCOPED_TRACE(precalc ? "pre-calculation on" : "pre-calculation off");
    Rig rig(n, false, 0, precalc ? nic.get() : nullptr);
    std::set<std::uint16_t> cports;
    while (cports.size() < 300)
      cports.insert(static_cast<std::uint16_t>(1024 + rng() % 60000));
    for (std::uint16_t cp : cports) {
      rig.inject_rss(*nic, tcp("203.0.113.9", cp, "198.19.0.11", 443, kSyn));
    }
    rig.poll();
    auto out = rig.sent();
    ASSERT_EQ(out.size(), cports.size());
    std::vector<Bytes> replies;
    for (const auto& [q, bytes] : out) {
      (void)q;
      const auto p = parsed(bytes);
      ASSERT_EQ(addr(p.ipv4_src), "198.18.1.1");
      replies.push_back(
          tcp(addr(p.ipv4_dst), p.dst_port, addr(p.ipv4_src), p.src_port, kSyn | kAck));
    }
    const std::uint64_t syn_handoffs = rig.total(&WorkerCounters::handoff_out);
    for (const Bytes& r : replies) rig.inject_rss(*nic, r);
    rig.poll();
    out = rig.sent();
    ASSERT_EQ(out.size(), replies.size());
    for (const auto& [q, bytes] : out) {
      const auto p = parsed(bytes);
      EXPECT_EQ(addr(p.ipv4_src), "198.19.0.11");
      EXPECT_EQ(addr(p.ipv4_dst), "203.0.113.9");
      EXPECT_TRUE(cports.count(p.dst_port));
    }
    for (std::uint32_t w = 0; w < n; ++w) {
      const auto& c = rig.worker(w).translator().counters();
      EXPECT_EQ(c.forwarded, 2 * c.created) << "worker " << w;
    }
    const std::uint64_t handoffs = rig.total(&WorkerCounters::handoff_out);
    if (precalc || n == 1) {
      EXPECT_EQ(handoffs, 0u);
    } else {
      EXPECT_GT(syn_handoffs, 0u);
      EXPECT_GT(handoffs, syn_handoffs);  // replies too
    }
    EXPECT_EQ(handoffs, rig.total(&WorkerCounters::handoff_in));
    EXPECT_EQ(rig.total(&WorkerCounters::handoff_dropped), 0u);
    // dnat traffic: correct, handed off where the NIC's queue is not the
    // client hash's worker.
    const std::uint64_t before = rig.total(&WorkerCounters::handoff_out);
    for (int i = 0; i < 100; ++i) {
      rig.inject_rss(*nic, tcp("203.0.113.10", static_cast<std::uint16_t>(3000 + i),
                               "198.19.0.10", 80, kSyn));
    }
    rig.poll();
    EXPECT_EQ(rig.sent().size(), 100u);
    if (n > 1) {
      EXPECT_GT(rig.total(&WorkerCounters::handoff_out), before);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Counts, Workers, ::testing::Values(1u, 2u, 4u),
                         [](const auto& tp) {
                           return std::to_string(tp.param) + "_workers";
                         });

// A UDP datagram to a VIP, fragmented (2008 bytes of IP payload in
// fragments of at most `frag_size`): the fragments in the given order.
std::vector<Bytes> fragments(const std::string& client, std::uint16_t cport,
                             std::uint16_t id, std::size_t frag_size,
                             const std::vector<int>& order) {
  std::vector<std::uint8_t> payload(2000);
  for (std::size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<std::uint8_t>(i * 7);
  const Bytes whole =
      PacketBuilder().IPv4(client, "198.19.0.10").UDP(cport, 53).Payload(payload).Build();
  const Bytes l4(whole.begin() + 20, whole.end());
  std::vector<Bytes> frags;
  for (std::size_t off = 0; off < l4.size(); off += frag_size) {
    const std::size_t n = std::min(frag_size, l4.size() - off);
    frags.push_back(PacketBuilder()
                        .Eth()
                        .IPv4(client, "198.19.0.10",
                              {.id = id,
                               .mf = off + n < l4.size(),
                               .frag_offset = static_cast<std::uint16_t>(off),
                               .protocol = 17})
                        .Payload(std::span(l4).subspan(off, n))
                        .Build());
  }
  std::vector<Bytes> out;
  for (int i : order) out.push_back(frags.at(static_cast<std::size_t>(i)));
  return out;
}

// Reassembles translated fragments (any order) and checks the datagram:
// addresses and ports translated, UDP checksum valid over the whole, IP
// header checksums valid, payload intact.
void expect_translated_datagram(const std::vector<Bytes>& out, std::uint16_t* snat_port) {
  std::map<std::uint32_t, Bytes> by_offset;
  std::uint32_t src = 0, dst = 0;
  for (const Bytes& f : out) {
    packet::ParsedPacket p;
    ASSERT_EQ(packet::parse(f, p), packet::DropReason::kNone);
    EXPECT_EQ(packet::load_be16(f.data() + 24),
              packet::ipv4_header_checksum(f.data() + 14, 20));
    EXPECT_EQ(p.ttl, 63);
    src = p.ipv4_src;
    dst = p.ipv4_dst;
    by_offset[p.frag_offset] = Bytes(f.begin() + p.l4_offset, f.begin() + p.l3_end);
  }
  Bytes l4;
  for (const auto& [off, bytes] : by_offset) {
    ASSERT_EQ(off, l4.size()) << "a fragment is missing";
    l4.insert(l4.end(), bytes.begin(), bytes.end());
  }
  ASSERT_EQ(l4.size(), 2008u);
  EXPECT_EQ(addr(src), "198.18.1.1");
  EXPECT_EQ(addr(dst), "198.18.4.1");
  EXPECT_EQ(packet::load_be16(l4.data() + 2), 5353);
  *snat_port = packet::load_be16(l4.data());
  EXPECT_EQ(packet::load_be16(l4.data() + 6),
            packet::ipv4_l4_checksum(l4.data(), l4.size(), 6, src, dst, 17));
  for (std::size_t i = 8; i < l4.size(); ++i) {
    ASSERT_EQ(l4[i], static_cast<std::uint8_t>((i - 8) * 7)) << i;
  }
}

// Fragments of a datagram arrive on any queue and in any order (a later one
// before the first); all leave translated, from the connection's owner.
TEST_P(Workers, FragmentsFollowTheirFirstFragment) {
  const std::uint32_t n = GetParam();
  Rig rig(n);
  std::mt19937 rng(n * 7);
  const std::vector<std::vector<int>> orders = {
      {0, 1}, {1, 0}, {0, 1, 2, 3, 4}, {3, 1, 4, 0, 2}};
  int flow = 0;
  for (const auto& order : orders) {
    const std::size_t frag_size = order.size() == 2 ? 1480 : 408;
    const auto cport = static_cast<std::uint16_t>(7000 + flow);
    for (const Bytes& f :
         fragments("203.0.113.9", cport, static_cast<std::uint16_t>(100 + flow),
                   frag_size, order)) {
      rig.inject(rng() % n, f);
    }
    rig.poll();
    const auto out = rig.sent();
    ASSERT_EQ(out.size(), order.size()) << "order " << flow;
    std::vector<Bytes> bytes;
    for (const auto& [q, b] : out) {
      EXPECT_EQ(q, out[0].first)
          << "fragments of one datagram left from different workers";
      bytes.push_back(b);
    }
    std::uint16_t snat_port = 0;
    expect_translated_datagram(bytes, &snat_port);
    EXPECT_EQ(snat_port % n, out[0].first);  // the owner's SNAT partition
    ++flow;
  }
  std::uint64_t held = 0, completed = 0;
  for (std::uint32_t w = 0; w < n; ++w) {
    held += rig.worker(w).fragments().counters().held;
    completed += rig.worker(w).fragments().counters().completed;
    EXPECT_EQ(rig.worker(w).fragments().live(), 0u);
  }
  EXPECT_GT(held, 0u);
  EXPECT_EQ(completed, orders.size());
}

INSTANTIATE_TEST_SUITE_P(Counts2, Workers, ::testing::Values(3u), [](const auto& tp) {
  return std::to_string(tp.param) + "_workers";
});

TEST(Worker, LoneLaterFragmentsTimeOutAndAreCounted) {
  ASSERT_TRUE(test::EalEnvironment::running());
  Rig rig(2);
  const unsigned in_use = rte_mempool_in_use_count(rig.pool());
  for (const Bytes& f : fragments("203.0.113.9", 9000, 77, 1480, {1})) rig.inject(0, f);
  rig.poll();
  EXPECT_TRUE(rig.sent().empty());
  EXPECT_GT(rte_mempool_in_use_count(rig.pool()), in_use);  // held
  rig.clock().advance(nat::FragmentConfig::kDefaultTimeoutMs);
  for (int i = 0; i < 200; ++i) rig.poll();  // the sweep is bounded per poll
  std::uint64_t timeouts = 0;
  for (std::uint32_t w = 0; w < 2; ++w) {
    timeouts += rig.worker(w).fragments().counters().dropped_timeout;
  }
  EXPECT_EQ(timeouts, 1u);
  EXPECT_EQ(rte_mempool_in_use_count(rig.pool()), in_use);  // freed
}

// An ICMP error longer than a segment (a chained mbuf: scatter RX, or
// net_pcap) about a tracked connection leaves translated with a valid ICMP
// checksum over the whole message; nothing past the first segment is read
// for it.
TEST(Worker, LongIcmpErrorInAChainedMbufKeepsAValidChecksum) {
  ASSERT_TRUE(test::EalEnvironment::running());
  Rig rig(1);
  const std::string body(1400, 'x');
  rig.inject(0, PacketBuilder()
                    .Eth()
                    .IPv4("203.0.113.5", "198.19.0.11")
                    .TCP(40000, 443, {.flags = kSyn})
                    .Payload(body)
                    .Build());
  rig.poll();
  auto sent = rig.sent();
  ASSERT_EQ(sent.size(), 1u);
  const Bytes sent_ip(sent[0].second.begin() + 14, sent[0].second.end());  // SNATed
  Bytes quote = sent_ip;
  quote.resize(sent_ip.size() + 1600, 0x5a);  // a 3 KiB error: beyond any one segment
  const Bytes err = PacketBuilder()
                        .Eth()
                        .IPv4("198.18.9.1", "198.18.1.1", {.ttl = 60})
                        .ICMP(3, 4, 0, 1400)
                        .Payload(quote)
                        .Build();
  ASSERT_GT(err.size(), 3000u);
  const unsigned in_use = rte_mempool_in_use_count(rig.pool());
  rig.inject(0, err, 1024);
  rig.poll();
  sent = rig.sent();
  ASSERT_EQ(sent.size(), 1u);
  const Bytes& out = sent[0].second;
  ASSERT_EQ(out.size(), err.size());
  packet::ParsedPacket p;
  ASSERT_EQ(packet::parse(out, p), packet::DropReason::kNone);
  EXPECT_EQ(addr(p.ipv4_dst), "203.0.113.5");  // to the client
  const std::uint8_t* icmp = out.data() + p.l4_offset;
  EXPECT_EQ(packet::load_be16(icmp + 2),
            packet::inet_checksum(icmp, out.size() - p.l4_offset, 2));
  // The client's own SYN is quoted back to it, the rest of the quote as it came.
  const std::uint8_t* inner = icmp + 8;
  EXPECT_EQ(addr(packet::load_be32(inner + 12)), "203.0.113.5");
  EXPECT_EQ(addr(packet::load_be32(inner + 16)), "198.19.0.11");
  EXPECT_EQ(packet::load_be16(inner + 20), 40000);
  EXPECT_EQ(packet::load_be16(inner + 22), 443);
  EXPECT_EQ(packet::load_be16(inner + 10), packet::ipv4_header_checksum(inner, 20));
  EXPECT_EQ(Bytes(out.end() - 1600, out.end()), Bytes(1600, 0x5a));
  EXPECT_EQ(rte_mempool_in_use_count(rig.pool()), in_use);  // every segment freed
}

// A flood of lone later fragments from spoofed sources (their first never
// comes) holds at most each worker's share of the pool; the rest are counted
// drops. Honest traffic passes meanwhile: a datagram whose first fragment
// comes first and a TCP connection. At the timeout every buffer returns.
TEST(Worker, FragmentFloodHoldsAtMostItsShareOfThePool) {
  ASSERT_TRUE(test::EalEnvironment::running());
  Rig rig(2);
  const unsigned in_use = rte_mempool_in_use_count(rig.pool());
  // More than both workers' shares of held buffers (2 x 512) and than both
  // fragment tables (2 x 1,024 datagrams).
  constexpr unsigned kFlood = 3000;
  std::mt19937 rng(5);
  for (unsigned i = 0; i < kFlood; ++i) {
    const std::string src =
        "198.18." + std::to_string(128 + i / 250) + "." + std::to_string(1 + i % 250);
    for (const Bytes& f :
         fragments(src, 9000, static_cast<std::uint16_t>(i), 1480, {1})) {
      rig.inject(rng() % 2, f);
    }
    if (i % 500 == 499) rig.poll();  // the RX rings hold 1024
  }
  rig.poll();
  EXPECT_TRUE(rig.sent().empty());
  std::uint64_t held = 0, capped = 0, evicted = 0;
  for (std::uint32_t w = 0; w < 2; ++w) {
    const auto& f = rig.worker(w).fragments();
    EXPECT_LE(f.held_mbufs(), DataplaneOptions::kFragmentMbufsPerWorker);
    held += f.counters().held;
    capped += f.counters().dropped_held_cap;
    evicted += f.counters().dropped_evicted;
  }
  EXPECT_EQ(held + capped, kFlood);  // each held (perhaps evicted later) or capped
  EXPECT_GT(capped, 0u);
  EXPECT_GT(evicted, 0u);
  EXPECT_LE(rte_mempool_in_use_count(rig.pool()),
            in_use + 2 * DataplaneOptions::kFragmentMbufsPerWorker);

  // Honest traffic during the flood: the datagram finds a slot (it takes a
  // flood datagram's) although 3,000 datagrams wait in two tables of 1,024.
  for (const Bytes& f : fragments("192.0.2.77", 7100, 4242, 1480, {0, 1}))
    rig.inject(0, f);
  rig.inject(1, tcp("192.0.2.78", 41000, "198.19.0.10", 80, 0x02));
  rig.poll();
  const auto out = rig.sent();
  ASSERT_EQ(out.size(), 3u);
  std::vector<Bytes> datagram;
  for (const auto& [q, b] : out) {
    packet::ParsedPacket p;
    ASSERT_EQ(packet::parse(b, p), packet::DropReason::kNone);
    if (p.l4_proto == 17) datagram.push_back(b);
  }
  std::uint16_t snat_port = 0;
  expect_translated_datagram(datagram, &snat_port);

  rig.clock().advance(nat::FragmentConfig::kDefaultTimeoutMs);
  for (int i = 0; i < 400; ++i) rig.poll();  // the sweep is bounded per poll
  std::uint64_t timeouts = 0;
  for (std::uint32_t w = 0; w < 2; ++w) {
    timeouts += rig.worker(w).fragments().counters().dropped_timeout;
    EXPECT_EQ(rig.worker(w).fragments().held_mbufs(), 0u);
  }
  evicted = 0;  // again: the honest datagram took a flood datagram's slot too
  for (std::uint32_t w = 0; w < 2; ++w) {
    evicted += rig.worker(w).fragments().counters().dropped_evicted;
  }
  EXPECT_EQ(timeouts + evicted, held);
  EXPECT_EQ(rte_mempool_in_use_count(rig.pool()), in_use);
}

// With a gateway address the next hop comes from ARP: requests once a
// second while unknown (from worker 0), the gateway's reply (seen by any
// worker) teaches every worker, other senders teach nothing.
TEST(Worker, GatewayMacByArp) {
  ASSERT_TRUE(test::EalEnvironment::running());
  const std::uint32_t gw = ipv4_from_string("198.18.0.1");
  Rig rig(2, false, gw);
  auto arp = [](std::uint16_t op, const packet::Mac& mac, const char* sender_ip) {
    Bytes b = PacketBuilder()
                  .Eth({.src = mac,
                        .dst = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
                        .ethertype = 0x0806})
                  .Payload(28, 0)
                  .Build();
    std::uint8_t* a = b.data() + 14;
    packet::store_be16(a, 1);
    packet::store_be16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    packet::store_be16(a + 6, op);
    std::memcpy(a + 8, mac.data(), 6);
    packet::store_be32(a + 14, ipv4_from_string(sender_ip));
    return b;
  };
  // Unknown next hop: the packet is translated but cannot leave (counted);
  // worker 0 asks for the gateway.
  rig.inject(0, tcp("203.0.113.5", 40000, "198.19.0.10", 80, kSyn));
  rig.poll();
  auto out = rig.sent();
  ASSERT_EQ(out.size(), 1u);  // just the ARP request
  const Bytes& req = out[0].second;
  EXPECT_EQ(packet::load_be16(req.data() + 12), 0x0806);
  EXPECT_EQ(req[0], 0xff);
  ASSERT_EQ(req.size(), 60u);
  EXPECT_EQ(packet::load_be16(req.data() + 14), 1);       // Ethernet addresses
  EXPECT_EQ(packet::load_be16(req.data() + 16), 0x0800);  // IPv4 addresses
  EXPECT_EQ(req[18], 6);
  EXPECT_EQ(req[19], 4);
  EXPECT_EQ(packet::load_be16(req.data() + 20), 1);               // request
  EXPECT_EQ(0, std::memcmp(req.data() + 22, req.data() + 6, 6));  // from the port's MAC
  EXPECT_EQ(packet::load_be32(req.data() + 28), ipv4_from_string("198.18.0.2"));
  EXPECT_EQ(packet::load_be32(req.data() + 38), gw);
  EXPECT_EQ(rig.worker(0).counters().no_next_hop + rig.worker(1).counters().no_next_hop,
            1u);
  // No second request within the second; one after it.
  rig.poll();
  EXPECT_TRUE(rig.sent().empty());
  rig.clock().advance(1000);
  rig.poll();
  EXPECT_EQ(rig.sent().size(), 1u);
  // Someone else's ARP teaches nothing; the gateway's reply (on worker 1's
  // queue) teaches both workers.
  const packet::Mac other{0x02, 0x11, 0x11, 0x11, 0x11, 0x11};
  const packet::Mac gw_mac{0x02, 0x22, 0x22, 0x22, 0x22, 0x22};
  rig.inject(1, arp(1, other, "198.18.0.77"));
  rig.inject(1, arp(2, gw_mac, "198.18.0.1"));
  rig.poll();
  (void)rig.sent();
  for (int i = 0; i < 4; ++i) {
    rig.inject(static_cast<std::uint32_t>(i % 2),
               tcp("203.0.113.5", static_cast<std::uint16_t>(41000 + i), "198.19.0.10",
                   80, kSyn));
  }
  rig.poll();
  out = rig.sent();
  ASSERT_EQ(out.size(), 4u);
  for (const auto& [q, b] : out) {
    EXPECT_EQ(0, std::memcmp(b.data(), gw_mac.data(), 6)) << "worker " << q;
  }
}

TEST(Worker, LearnsTheGatewayAndAnswersPing) {
  ASSERT_TRUE(test::EalEnvironment::running());
  Rig rig(1, /*learn_gateway=*/true);
  const packet::Mac peer{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
  Bytes ping = PacketBuilder()
                   .Eth({.src = peer})
                   .IPv4("203.0.113.5", "198.19.0.10")
                   .ICMP(8, 0, 1, 1)
                   .Build();
  rig.inject(0, ping);
  rig.poll();
  auto out = rig.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(0, std::memcmp(out[0].second.data(), peer.data(), 6));
  EXPECT_EQ(addr(parsed(out[0].second).ipv4_src), "198.19.0.10");
  EXPECT_EQ(rig.worker(0).counters().gateway_learned, 1u);
  rig.inject(0, tcp("203.0.113.5", 40000, "198.19.0.10", 80, kSyn));
  rig.poll();
  out = rig.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(0, std::memcmp(out[0].second.data(), peer.data(), 6));  // learned next hop
}

// The services of make_services() with backend `dead` of "web" marked down.
std::unique_ptr<lb::ServiceTable> with_dead_web_backend(std::uint32_t dead,
                                                        lb::DeadBackendPolicy policy) {
  std::vector<lb::Service> v = make_services()->services();
  for (auto& b : v[0].backends) b.healthy = b.addr != dead;
  return std::make_unique<lb::ServiceTable>(std::move(v), 307, policy);
}

// DeadBackendPolicy::kReset: the client's next packet on a connection to a
// backend the health checks marked down is answered with a valid RST from
// the VIP and the connection is gone; new connections go to the healthy
// backend. kKeep: the connection goes on to its backend.
TEST(Worker, ConnectionsOfADeadBackendAreResetOrKept) {
  ASSERT_TRUE(test::EalEnvironment::running());
  for (const auto policy :
       {lb::DeadBackendPolicy::kReset, lb::DeadBackendPolicy::kKeep}) {
    const bool reset = policy == lb::DeadBackendPolicy::kReset;
    SCOPED_TRACE(reset ? "reset" : "keep");
    Rig rig(1);
    rig.inject(0, tcp("203.0.113.5", 40000, "198.19.0.10", 80, kSyn));
    rig.poll();
    auto out = rig.sent();
    ASSERT_EQ(out.size(), 1u);
    const std::uint32_t backend = parsed(out[0].second).ipv4_dst;
    rig.publish(with_dead_web_backend(backend, policy));

    const Bytes data = PacketBuilder()
                           .Eth()
                           .IPv4("203.0.113.5", "198.19.0.10")
                           .TCP(40000, 80, {.flags = kAck, .seq = 1001, .ack = 777})
                           .Payload("GET / HTTP/1.0\r\n\r\n")
                           .Build();
    rig.inject(0, data);
    rig.poll();
    out = rig.sent();
    ASSERT_EQ(out.size(), 1u);
    const Bytes& f = out[0].second;
    const auto p = parsed(f);
    if (!reset) {
      EXPECT_EQ(p.ipv4_dst, backend);
      EXPECT_EQ(rig.worker(0).translator().counters().dead_backend_resets, 0u);
      continue;
    }
    ASSERT_EQ(f.size(), 14u + 20 + 20) << "an RST carries no payload";
    EXPECT_EQ(addr(p.ipv4_src), "198.19.0.10");
    EXPECT_EQ(addr(p.ipv4_dst), "203.0.113.5");
    EXPECT_EQ(p.src_port, 80);
    EXPECT_EQ(p.dst_port, 40000);
    EXPECT_EQ(p.tcp_flags, 0x04) << "RST (seq = the segment's ack)";
    EXPECT_EQ(packet::load_be32(f.data() + 34 + 4), 777u);
    EXPECT_EQ(packet::load_be16(f.data() + 14 + 10),
              packet::ipv4_header_checksum(f.data() + 14, 20));
    EXPECT_EQ(packet::load_be16(f.data() + 34 + 16),
              packet::ipv4_l4_checksum(f.data() + 34, 20, 16, p.ipv4_src, p.ipv4_dst, 6));
    EXPECT_EQ(rig.worker(0).translator().counters().dead_backend_resets, 1u);
    EXPECT_EQ(rig.worker(0).translator().tracker().table().size(), 0u);

    // A new connection goes to the healthy backend.
    rig.inject(0, tcp("203.0.113.5", 40001, "198.19.0.10", 80, kSyn));
    rig.poll();
    out = rig.sent();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_NE(parsed(out[0].second).ipv4_dst, backend);
  }
}

// Issue 12: hostile traffic through a real worker.

// A TCP segment with its sequence numbers.
Bytes seg(const std::string& s, std::uint16_t sp, const std::string& d, std::uint16_t dp,
          std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
          const std::string& payload = "") {
  return PacketBuilder()
      .Eth()
      .IPv4(s, d)
      .TCP(sp, dp, {.flags = flags, .seq = seq, .ack = ack})
      .Payload(payload)
      .Build();
}

constexpr std::uint8_t kFin = 0x01, kRst = 0x04;
constexpr std::size_t kTcpChecksumAt = 14 + 20 + 16;

// Every packet that did not leave, by the counters that name why: parse
// drops, the translators' drops (checksums among them), exceptions, no
// next hop, full TX and handoff rings.
std::uint64_t counted_drops(Rig& rig) {
  std::uint64_t n = 0;
  for (std::uint32_t w = 0; w < rig.workers(); ++w) {
    const WorkerCounters& c = rig.worker(w).counters();
    for (auto d : c.parse_drops) n += d;
    n += c.exception_dropped + c.no_next_hop + c.tx_dropped + c.handoff_dropped;
    n += rig.worker(w).translator().counters().dropped();
  }
  return n;
}

// Injects `frames` in batches the rings hold, polling after each; returns
// how many left.
std::size_t flood(Rig& rig, const std::vector<Bytes>& frames) {
  std::size_t sent = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    rig.inject(0, frames[i]);
    if (i % 512 == 511 || i + 1 == frames.size()) {
      rig.poll();
      sent += rig.sent().size();
    }
  }
  return sent;
}

// A client's connection through the VIP, handshake done (client ISN 100,
// backend ISN 7000); returns where it went (the backend, or the SNAT
// address and port the backend sees).
struct Opened {
  std::string dst;
  std::uint16_t dport = 0;
  std::string src;
  std::uint16_t sport = 0;
};
Opened open_connection(Rig& rig, const std::string& client, std::uint16_t cport,
                       const std::string& vip, std::uint16_t port) {
  rig.inject(0, seg(client, cport, vip, port, kSyn, 100, 0));
  rig.poll();
  auto out = rig.sent();
  EXPECT_EQ(out.size(), 1u);
  if (out.empty()) return {};
  const auto p = parsed(out[0].second);
  Opened o{addr(p.ipv4_dst), p.dst_port, addr(p.ipv4_src), p.src_port};
  rig.inject(0, seg(o.dst, o.dport, o.src, o.sport, kSyn | kAck, 7000, 101));
  rig.inject(0, seg(client, cport, vip, port, kAck, 101, 7001));
  rig.poll();
  EXPECT_EQ(rig.sent().size(), 2u);
  return o;
}

// Finding 1: 4,096 spoofed mid-stream ACKs with a wrong checksum to a dnat
// VIP (tcp_pickup on, a table of 4,096) create nothing; 4,096 with right
// checksums fill the table with unassured pickups, which honest SYNs then
// evict; the established connection never notices.
TEST(Worker, SpoofedMidstreamAcksCannotLockOutNewClients) {
  ASSERT_TRUE(test::EalEnvironment::running());
  // Without SYN cookies: the eviction order alone must let new clients in
  // (with them, in auto mode, the honest SYNs below would get cookies).
  Rig rig(1, false, 0, nullptr, /*capacity=*/4096, 1024, nat::SynProxyMode::kOff);
  const nat::Translator& nat = rig.worker(0).translator();
  const Opened o = open_connection(rig, "198.51.100.7", 5555, "198.19.0.10", 80);
  std::uint64_t injected = 3, sent = 3;
  ASSERT_EQ(nat.tracker().list_size(conntrack::TimeoutClass::kTcpEstablished), 1u);

  std::mt19937 rng(12);
  auto spoofed = [&](bool right_checksum) {
    std::vector<Bytes> v;
    for (int i = 0; i < 4096; ++i) {
      Bytes b =
          seg(addr(0x0A000000u | (rng() & 0xFFFFFF)),
              static_cast<std::uint16_t>(1024 + rng() % 60000), "198.19.0.10", 80, kAck,
              static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng()), "x");
      if (!right_checksum) b[kTcpChecksumAt] ^= 0xA5;
      v.push_back(std::move(b));
    }
    return v;
  };
  const auto bad = spoofed(false);
  injected += bad.size();
  EXPECT_EQ(flood(rig, bad), 0u);
  EXPECT_EQ(
      nat.counters()
          .packet_drops[static_cast<std::size_t>(packet::DropReason::kL4BadChecksum)],
      4096u);
  EXPECT_EQ(nat.tracker().table().size(), 1u);

  const auto good = spoofed(true);
  injected += good.size();
  const std::size_t picked = flood(rig, good);
  sent += picked;
  EXPECT_EQ(picked, 4096u);  // forwarded: they may be real moved flows
  EXPECT_EQ(nat.tracker().table().size(), 4096u);
  EXPECT_EQ(nat.tracker().list_size(conntrack::TimeoutClass::kTcpEmbryonic), 4095u);

  std::vector<Bytes> honest;
  for (int j = 0; j < 20; ++j) {
    honest.push_back(seg("198.51.100.8", static_cast<std::uint16_t>(6000 + j),
                         "198.19.0.10", 80, kSyn, 100, 0));
  }
  injected += honest.size();
  const std::size_t connected = flood(rig, honest);
  sent += connected;
  EXPECT_EQ(connected, 20u);
  const auto& tc = nat.tracker().counters();
  EXPECT_EQ(tc.evicted_embryonic, 21u);
  EXPECT_EQ(tc.dropped_table_full, 0u);
  EXPECT_EQ(nat.counters().drops[static_cast<std::size_t>(nat::NatDrop::kTableFull)], 0u);

  // The established connection still flows, both ways.
  rig.inject(0, seg("198.51.100.7", 5555, "198.19.0.10", 80, kAck, 101, 7001, "GET /"));
  rig.inject(0, seg(o.dst, o.dport, "198.51.100.7", 5555, kAck, 7001, 106, "200 OK"));
  injected += 2;
  rig.poll();
  sent += rig.sent().size();
  EXPECT_EQ(nat.tracker().list_size(conntrack::TimeoutClass::kTcpEstablished), 1u);
  EXPECT_EQ(sent + counted_drops(rig), injected);
  EXPECT_EQ(sent, injected - 4096);
}

// Finding 8: blind RSTs with the right 4-tuple, from either side, do not
// cut a live connection; those far from its sequence are dropped and
// counted, the rare near one is forwarded without changing anything; a
// SYN on it changes nothing either; its own RST still closes it.
TEST(Worker, BlindRstsCannotCutALiveConnection) {
  ASSERT_TRUE(test::EalEnvironment::running());
  Rig rig(1);
  const nat::Translator& nat = rig.worker(0).translator();
  const std::string cl = "198.51.100.7", vip = "198.19.0.10";
  const Opened o = open_connection(rig, cl, 5555, vip, 80);
  rig.inject(0, seg(cl, 5555, vip, 80, kAck, 101, 7001, "hello"));       // next: 106
  rig.inject(0, seg(o.dst, o.dport, cl, 5555, kAck, 7001, 106, "abc"));  // next: 7004
  rig.poll();
  ASSERT_EQ(rig.sent().size(), 2u);
  std::uint64_t injected = 0;
  std::mt19937 rng(8);
  std::vector<Bytes> rsts;
  for (int i = 0; i < 4000; ++i) {
    const auto seq = static_cast<std::uint32_t>(rng());
    rsts.push_back(i % 2 == 0 ? seg(cl, 5555, vip, 80, kRst, seq, 0)
                              : seg(o.dst, o.dport, cl, 5555, kRst | kAck, seq, 106));
  }
  rsts.push_back(seg(cl, 5555, vip, 80, kSyn, 424242, 0));
  injected += rsts.size();
  const std::size_t through = flood(rig, rsts);
  const auto& c = nat.tracker().table().conn(0);
  EXPECT_EQ(c.state, conntrack::ConnState::kTcpEstablished);
  EXPECT_EQ(c.seq_next[0], 106u);
  EXPECT_EQ(c.seq_next[1], 7004u);
  const std::uint64_t out_of_window =
      nat.counters().drops[static_cast<std::size_t>(nat::NatDrop::kTcpOutOfWindow)];
  EXPECT_EQ(through + out_of_window, rsts.size());
  // In the window by chance: 2 MiB of 4 GiB, ~2 of 4,000; and the SYN.
  EXPECT_LE(through, 20u);
  EXPECT_GE(through, 1u);
  EXPECT_EQ(nat.tracker().counters().tcp_ignored, through);

  rig.inject(0, seg(cl, 5555, vip, 80, kAck, 106, 7004, "more"));
  rig.inject(0, seg(o.dst, o.dport, cl, 5555, kAck, 7004, 110, "ok"));
  rig.inject(0, seg(cl, 5555, vip, 80, kRst | kAck, 110, 7006));
  injected += 3;
  rig.poll();
  EXPECT_EQ(rig.sent().size(), 3u);
  EXPECT_EQ(c.state, conntrack::ConnState::kTcpClosed);
  EXPECT_EQ(through + 3 + counted_drops(rig), injected);
}

// Finding 6: SYN+FIN pairs from spoofed sources on one (backend, SNAT
// address) of 536 ports: every SYN still gets a port (the pair's idlest
// embryonic connection gives its own up), the FINs keep them embryonic,
// the established connection and a new honest client are untouched, and
// the embryonic timeout clears the rest.
TEST(Worker, SynFinFloodCannotHoldASnatPair) {
  ASSERT_TRUE(test::EalEnvironment::running());
  // Without SYN cookies: the pair's eviction alone must free its ports.
  Rig rig(1, false, 0, nullptr, 10000, /*snat_port_min=*/65000, nat::SynProxyMode::kOff);
  const nat::Translator& nat = rig.worker(0).translator();
  const std::string vip = "198.19.0.11";
  const Opened o = open_connection(rig, "198.51.100.7", 5555, vip, 443);
  ASSERT_EQ(o.src, "198.18.1.1");
  std::uint64_t injected = 0;
  std::mt19937 rng(6);
  std::vector<Bytes> pairs;
  for (int i = 0; i < 3000; ++i) {
    const std::string src = addr(0x0A000000u | (rng() & 0xFFFFFF));
    const auto sport = static_cast<std::uint16_t>(1024 + rng() % 60000);
    const auto isn = static_cast<std::uint32_t>(rng());
    pairs.push_back(seg(src, sport, vip, 443, kSyn, isn, 0));
    pairs.push_back(seg(src, sport, vip, 443, kFin, isn + 1, 0));
  }
  injected += pairs.size();
  const std::size_t through = flood(rig, pairs);
  const auto drop = [&](nat::NatDrop d) {
    return nat.counters().drops[static_cast<std::size_t>(d)];
  };
  EXPECT_EQ(drop(nat::NatDrop::kSnatPortsExhausted), 0u);
  EXPECT_GT(nat.counters().snat_evicted, 3000u - 536);
  EXPECT_EQ(nat.counters().created, 1u + 3000);
  EXPECT_EQ(nat.tracker().list_size(conntrack::TimeoutClass::kTcpEmbryonic), 535u);
  EXPECT_EQ(nat.tracker().list_size(conntrack::TimeoutClass::kTcpClosing), 0u);
  EXPECT_EQ(through + counted_drops(rig), injected);

  // A new honest client connects; the old connection still flows.
  rig.clock().advance(1000);
  const Opened n = open_connection(rig, "198.51.100.9", 7777, vip, 443);
  EXPECT_EQ(n.src, "198.18.1.1");
  EXPECT_NE(n.sport, o.sport);
  rig.inject(0, seg(o.dst, o.dport, o.src, o.sport, kAck, 7001, 101, "data"));
  rig.poll();
  EXPECT_EQ(rig.sent().size(), 1u);
  EXPECT_EQ(nat.tracker().list_size(conntrack::TimeoutClass::kTcpEstablished), 2u);
  rig.clock().advance(conntrack::Timeouts::kDefaultTcpEmbryonicMs);
  for (int i = 0; i < 20; ++i) rig.poll();
  EXPECT_EQ(nat.tracker().table().size(), 2u);
}

// Finding 1, (a): the checksum check uses the NIC's verdict where it gave
// one, and sums every segment of a chained packet where it did not.
TEST(Worker, ChecksumsOfChainedPacketsAndTheNicsVerdict) {
  ASSERT_TRUE(test::EalEnvironment::running());
  Rig rig(1);
  const nat::Translator& nat = rig.worker(0).translator();
  const std::string cl = "198.51.100.7", vip = "198.19.0.10";
  const std::string body(700, 'a');
  auto pkt = [&](std::uint16_t cport, bool right) {
    Bytes b = seg(cl, cport, vip, 80, kAck, 100, 900, body);
    if (!right) b.back() ^= 0x01;  // in the last segment
    return b;
  };
  rig.inject(0, pkt(1001, true), 200);
  rig.inject(0, pkt(1002, false), 200);
  rig.inject(0, pkt(1003, false), 0,
             RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD);
  rig.inject(0, pkt(1004, true), 0, RTE_MBUF_F_RX_L4_CKSUM_BAD);
  rig.inject(0, pkt(1005, true), 0, RTE_MBUF_F_RX_IP_CKSUM_BAD);
  rig.poll();
  const auto out = rig.sent();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(parsed(out[0].second).src_port, 1001);
  EXPECT_EQ(out[0].second.size(), 14u + 20 + 20 + 700);
  EXPECT_EQ(parsed(out[1].second).src_port, 1003);
  const auto& pd = nat.counters().packet_drops;
  EXPECT_EQ(pd[static_cast<std::size_t>(packet::DropReason::kL4BadChecksum)], 2u);
  EXPECT_EQ(pd[static_cast<std::size_t>(packet::DropReason::kIpv4BadChecksum)], 1u);
  EXPECT_EQ(nat.tracker().table().size(), 2u);
}

TEST(Worker, ExpiryFollowsTheInjectedClock) {
  ASSERT_TRUE(test::EalEnvironment::running());
  Rig rig(2);
  for (int i = 0; i < 50; ++i) {
    rig.inject(i % 2, tcp("203.0.113.5", static_cast<std::uint16_t>(3000 + i),
                          "198.19.0.11", 443, kSyn));
  }
  rig.poll();
  (void)rig.sent();
  auto live = [&] {
    return rig.worker(0).translator().tracker().table().size() +
           rig.worker(1).translator().tracker().table().size();
  };
  EXPECT_EQ(live(), 50u);
  rig.clock().advance(29'999);  // embryonic timeout is 30 s
  rig.poll();
  EXPECT_EQ(live(), 50u);
  rig.clock().advance(1);
  rig.poll(5);
  EXPECT_EQ(live(), 0u);
}

// syn_proxy = auto answers SYNs with cookies only while the worker is under
// pressure, wherever the millisecond clock is: the TSC's count since boot
// passes 2^31 after 24.8 days of uptime and wraps at 2^32. An idle worker
// forwards a SYN to the backend; after a connection is evicted for room
// (unreplied UDP filling the table) SYNs get cookies, and a second later
// no more.
TEST(Worker, AutoSynCookiesOnlyUnderPressureWhateverTheClock) {
  ASSERT_TRUE(test::EalEnvironment::running());
  for (const std::uint32_t start :
       {0u, 0x7fff'ff00u, 0x8000'0000u, 0x9000'0000u, 0xffff'fe00u}) {
    SCOPED_TRACE("clock at " + std::to_string(start) + " ms");
    Rig rig(1, false, 0, nullptr, /*capacity=*/64);
    rig.clock().set(start);
    const auto& c = rig.worker(0).translator().counters();
    std::uint16_t cport = 5000;
    // A SYN now: to the backend (dnat) or answered with a cookie.
    auto syn_is_proxied = [&] {
      rig.inject(0, tcp("203.0.113.7", cport++, "198.19.0.10", 80, kSyn));
      rig.poll();
      const auto out = rig.sent();
      EXPECT_EQ(out.size(), 1u);
      if (out.size() != 1) return false;
      const auto p = parsed(out[0].second);
      if (p.tcp_flags == (kSyn | kAck)) {
        EXPECT_EQ(addr(p.ipv4_src), "198.19.0.10");
        return true;
      }
      EXPECT_EQ(p.tcp_flags, kSyn);
      EXPECT_EQ(p.dst_port, 8080);
      return false;
    };
    EXPECT_FALSE(syn_is_proxied()) << "an idle worker answered a SYN with a cookie";
    EXPECT_EQ(c.syn_cookies_sent, 0u);
    // Unreplied UDP flows fill the table (64) and evict one another.
    for (std::uint16_t i = 0; i < 70; ++i) {
      rig.inject(0, PacketBuilder()
                        .Eth()
                        .IPv4("203.0.113.9", "198.19.0.10")
                        .UDP(static_cast<std::uint16_t>(20000 + i), 53)
                        .Payload("q")
                        .Build());
    }
    rig.poll();
    (void)rig.sent();
    ASSERT_GT(rig.worker(0).translator().tracker().counters().evicted_unreplied, 0u);
    rig.clock().advance(500);
    EXPECT_TRUE(syn_is_proxied()) << "no cookie right after an eviction";
    EXPECT_EQ(c.syn_cookies_sent, 1u);
    rig.clock().advance(1'000);
    EXPECT_FALSE(syn_is_proxied()) << "still cookies 1.5 s after the eviction";
    EXPECT_EQ(c.syn_cookies_sent, 1u);
  }
}

// The SYN proxy's held first segment through a real worker (mbufs, TX):
// a client's request that comes before its backend's SYN-ACK leaves right
// after the NVA's last ACK to the backend, translated; the 64 places are
// a bound (the oldest dropped, counted), a second without the backend's
// answer drops it (counted), and the pool ends where it began.
TEST(Worker, SynProxyHoldsTheFirstRequestUntilTheBackendAnswers) {
  ASSERT_TRUE(test::EalEnvironment::running());
  Rig rig(1, false, 0, nullptr, 10000, 1024, nat::SynProxyMode::kOn);
  const unsigned in_use = rte_mempool_in_use_count(rig.pool());
  const WorkerCounters& wc = rig.worker(0).counters();
  // The client's half: SYN, cookie, ACK (the SYN to the backend), request.
  auto open = [&](std::uint16_t cport) {
    rig.inject(0, seg("203.0.113.5", cport, "198.19.0.10", 80, kSyn, 7000, 0));
    rig.poll();
    auto out = rig.sent();
    EXPECT_EQ(out.size(), 1u);
    const std::uint32_t cookie = packet::load_be32(out.at(0).second.data() + 38);
    rig.inject(0, seg("203.0.113.5", cport, "198.19.0.10", 80, kAck, 7001, cookie + 1));
    rig.inject(0, seg("203.0.113.5", cport, "198.19.0.10", 80, kAck | 0x08, 7001,
                      cookie + 1, "GET / HTTP/1.1\r\n\r\n"));
    rig.poll();
    out = rig.sent();
    EXPECT_EQ(out.size(), 1u);  // the SYN; the request is held
    const auto p = parsed(out.at(0).second);
    EXPECT_EQ(p.tcp_flags, kSyn);
    return p;
  };
  const packet::ParsedPacket syn = open(41000);
  EXPECT_EQ(rig.worker(0).proxy_held(), 1u);
  // The backend answers: its last ACK, then the request, in that order.
  rig.inject(0, seg(addr(syn.ipv4_dst), syn.dst_port, addr(syn.ipv4_src), syn.src_port,
                    kSyn | kAck, 90000, 7001));
  rig.poll();
  const auto out = rig.sent();
  ASSERT_EQ(out.size(), 2u);
  const auto last = parsed(out[0].second);
  EXPECT_EQ(last.tcp_flags, kAck);
  EXPECT_EQ(packet::load_be32(out[0].second.data() + 42), 90001u);
  const auto req = parsed(out[1].second);
  EXPECT_EQ(addr(req.ipv4_dst), addr(syn.ipv4_dst));
  EXPECT_EQ(packet::load_be32(out[1].second.data() + 38), 7001u);
  EXPECT_EQ(packet::load_be32(out[1].second.data() + 42), 90001u);  // backend's space
  EXPECT_EQ(wc.proxy_released, 1u);
  EXPECT_EQ(rig.worker(0).proxy_held(), 0u);
  // 65 clients whose backend stays silent: the 64 places hold, the oldest
  // gives way; a second later every one is dropped.
  for (std::uint16_t i = 0; i < 65; ++i)
    (void)open(static_cast<std::uint16_t>(42000 + i));
  EXPECT_EQ(rig.worker(0).proxy_held(), 64u);
  EXPECT_EQ(wc.proxy_held_full, 1u);
  rig.clock().advance(1'000);
  rig.poll();
  EXPECT_EQ(rig.worker(0).proxy_held(), 0u);
  EXPECT_EQ(wc.proxy_held_timeout, 64u);
  (void)rig.sent();
  EXPECT_EQ(rte_mempool_in_use_count(rig.pool()), in_use);
}

// With SYN cookies on, a SYN to a service none of whose backends is usable
// is dropped (no_backend) as without them, not answered: the client would
// be "connected" to nothing. A healthy service still gets its cookie.
TEST(Worker, NoCookieForAServiceWithoutBackends) {
  ASSERT_TRUE(test::EalEnvironment::running());
  Rig rig(1, false, 0, nullptr, 10000, 1024, nat::SynProxyMode::kOn);
  std::vector<lb::Service> v = make_services()->services();
  for (auto& b : v[0].backends) b.healthy = false;  // web: 198.19.0.10:80
  rig.publish(std::make_unique<lb::ServiceTable>(std::move(v), 307));
  rig.inject(0, tcp("203.0.113.5", 40000, "198.19.0.10", 80, kSyn));
  rig.poll();
  EXPECT_TRUE(rig.sent().empty());
  const auto& c = rig.worker(0).translator().counters();
  EXPECT_EQ(c.syn_cookies_sent, 0u);
  EXPECT_EQ(c.drops[static_cast<std::size_t>(nat::NatDrop::kNoBackend)], 1u);
  rig.inject(0, tcp("203.0.113.5", 40000, "198.19.0.11", 443, kSyn));  // api
  rig.poll();
  const auto out = rig.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(parsed(out[0].second).tcp_flags, kSyn | kAck);
  EXPECT_EQ(c.syn_cookies_sent, 1u);
}

TEST(Worker, IdleBackoffSleepsAndHeartbeats) {
  ASSERT_TRUE(test::EalEnvironment::running());
  Rig rig(1);
  Worker& w = rig.worker(0);
  std::atomic<bool> stop{false};
  std::thread t([&] { w.run(stop); });
  // Idle, the loop keeps beating and backs off into sleeps (100 of them:
  // well past the first 256 empty polls).
  EXPECT_TRUE(test::eventually([&] { return w.heartbeat() > 0; }));
  const std::uint64_t hb1 = w.heartbeat();
  EXPECT_TRUE(test::eventually([&] { return w.heartbeat() > hb1; }));
  EXPECT_TRUE(test::eventually([&] { return w.counters().idle_sleeps >= 100; }));
  stop = true;
  t.join();
  // Sleeping, not spinning: 200 us sleeps after 256 empty polls, so at most
  // 256 polls for each sleep (a busy loop would poll without sleeping).
  const std::uint64_t empty_polls = IdleConfig{}.empty_polls_before_sleep;
  EXPECT_LE(w.counters().polls, (w.counters().idle_sleeps + 1) * empty_polls);
}

TEST(Worker, StallHookStopsTheHeartbeat) {
  ASSERT_TRUE(test::EalEnvironment::running());
  Rig rig(1);
  Worker& w = rig.worker(0);
  std::atomic<bool> stop{false};
  std::thread t([&] { w.run(stop); });
  EXPECT_TRUE(test::eventually([&] { return w.heartbeat() > 0; }));  // it runs
  // Stalled while running: at most the iteration it is in still beats,
  // then nothing for 50 ms (a running loop beats every few hundred us).
  w.test_stall = true;
  const std::uint64_t hb = w.heartbeat();
  EXPECT_TRUE(test::holds_for([&] { return w.heartbeat() <= hb + 1; },
                              std::chrono::milliseconds(50)));
  w.test_stall = false;
  EXPECT_TRUE(test::eventually([&] { return w.heartbeat() > hb + 1; }));
  stop = true;
  t.join();
}

}  // namespace
}  // namespace nva
