// The translator on byte vectors: DNAT and DNAT+SNAT in both directions
// (compared byte for byte with packets built from scratch, so every
// checksum is checked against a full computation), TCP lifecycle and
// expiry, and each drop reason.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/nat/translator.h"
#include "dataplane/steer/owner.h"
#include "tests/support/packet_builder.h"
#include "tests/support/services.h"

namespace nva::nat {
namespace {

using Bytes = std::vector<std::uint8_t>;
using packet::ipv4_from_string;
using packet::PacketBuilder;
using packet::ParsedPacket;

constexpr std::uint8_t kSyn = 0x02, kAck = 0x10, kFin = 0x01, kRst = 0x04;

std::string addr(std::uint32_t a) { return packet::ipv4_to_string(a); }

lb::ServiceTable services(bool healthy = true) {
  std::vector<lb::Service> v;
  v.push_back(test::service({.name = "web",
                             .vip = "198.19.0.10",
                             .port = 80,
                             .backends = {test::backend("198.18.2.1", 8080, 1, healthy),
                                          test::backend("198.18.2.2", 8080, 1, healthy)},
                             .seed = 7}));
  v.push_back(test::service({.name = "api",
                             .vip = "198.19.0.11",
                             .port = 443,
                             .backends = {test::backend("198.18.3.1", 443, 1, healthy)},
                             .snat = {"198.18.1.1"}}));
  v.push_back(test::service({.name = "dns",
                             .proto = 17,
                             .vip = "198.19.0.10",
                             .port = 53,
                             .backends = {test::backend("198.18.4.1", 5353, 1, healthy)},
                             .snat = {"198.18.1.1", "198.18.1.2"}}));
  return lb::ServiceTable(std::move(v), 307);
}

struct Harness {
  explicit Harness(TranslatorConfig cfg = {}, bool healthy = true)
      : svc(services(healthy)), nat([&] {
          cfg.capacity = cfg.capacity == (1u << 20) ? 1000 : cfg.capacity;
          return cfg;
        }()) {}
  Verdict run(Bytes& f, std::uint32_t now = 0) {
    ParsedPacket p;
    EXPECT_EQ(packet::parse(f, p), packet::DropReason::kNone);
    return nat.process(f, p, svc, now);
  }
  lb::ServiceTable svc;
  Translator nat;
};

// "byte N: got X want Y" for the first difference, for messages.
std::string first_diff(const Bytes& got, const Bytes& want) {
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    if (got[i] != want[i]) {
      return "byte " + std::to_string(i) + ": got " + std::to_string(got[i]) + " want " +
             std::to_string(want[i]);
    }
  }
  return got.size() == want.size() ? "equal"
                                   : "sizes " + std::to_string(got.size()) + " vs " +
                                         std::to_string(want.size());
}

Bytes tcp(const std::string& s, std::uint16_t sp, const std::string& d, std::uint16_t dp,
          std::uint8_t flags, std::uint8_t ttl = 64, const std::string& payload = "") {
  return PacketBuilder()
      .Eth()
      .IPv4(s, d, {.ttl = ttl})
      .TCP(sp, dp, {.flags = flags})
      .Payload(payload)
      .Build();
}

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

TEST(Translator, DnatBothDirections) {
  Harness h;
  Bytes syn = tcp("203.0.113.5", 40000, "198.19.0.10", 80, kSyn);
  ASSERT_EQ(h.run(syn), Verdict::kForward);
  ParsedPacket out;
  ASSERT_EQ(packet::parse(syn, out), packet::DropReason::kNone);
  const std::string backend = addr(out.ipv4_dst);
  EXPECT_TRUE(backend == "198.18.2.1" || backend == "198.18.2.2") << backend;
  // Client address kept, destination is the backend, TTL decremented, all
  // checksums as a fresh build computes them.
  EXPECT_EQ(syn, tcp("203.0.113.5", 40000, backend, 8080, kSyn, 63));

  Bytes synack = tcp(backend, 8080, "203.0.113.5", 40000, kSyn | kAck);
  ASSERT_EQ(h.run(synack), Verdict::kForward);
  EXPECT_EQ(synack, tcp("198.19.0.10", 80, "203.0.113.5", 40000, kSyn | kAck, 63));
  EXPECT_EQ(h.nat.counters().created, 1u);
  EXPECT_EQ(h.nat.counters().forwarded, 2u);
}

TEST(Translator, SnatBothDirections) {
  TranslatorConfig cfg;
  cfg.worker = 2;
  cfg.workers = 4;
  Harness h(cfg);
  Bytes syn = tcp("203.0.113.5", 40000, "198.19.0.11", 443, kSyn, 64, "x");
  ASSERT_EQ(h.run(syn), Verdict::kForward);
  ParsedPacket out;
  ASSERT_EQ(packet::parse(syn, out), packet::DropReason::kNone);
  EXPECT_EQ(addr(out.ipv4_src), "198.18.1.1");
  EXPECT_EQ(addr(out.ipv4_dst), "198.18.3.1");
  const std::uint16_t port = out.src_port;
  EXPECT_EQ(port % 4, 2) << "SNAT port from another worker's partition";
  EXPECT_GE(port, 1024);
  EXPECT_EQ(syn, tcp("198.18.1.1", port, "198.18.3.1", 443, kSyn, 63, "x"));

  Bytes synack = tcp("198.18.3.1", 443, "198.18.1.1", port, kSyn | kAck);
  ASSERT_EQ(h.run(synack), Verdict::kForward);
  EXPECT_EQ(synack, tcp("198.19.0.11", 443, "203.0.113.5", 40000, kSyn | kAck, 63));
}

TEST(Translator, UdpSnatToOtherBackendPort) {
  Harness h;
  Bytes q = PacketBuilder()
                .Eth()
                .IPv4("203.0.113.9", "198.19.0.10")
                .UDP(5000, 53)
                .Payload("query")
                .Build();
  ASSERT_EQ(h.run(q), Verdict::kForward);
  ParsedPacket out;
  ASSERT_EQ(packet::parse(q, out), packet::DropReason::kNone);
  EXPECT_EQ(addr(out.ipv4_dst), "198.18.4.1");
  EXPECT_EQ(out.dst_port, 5353);
  const std::string snat = addr(out.ipv4_src);
  EXPECT_TRUE(snat == "198.18.1.1" || snat == "198.18.1.2");
  Bytes r = PacketBuilder()
                .Eth()
                .IPv4("198.18.4.1", snat)
                .UDP(5353, out.src_port)
                .Payload("answer")
                .Build();
  ASSERT_EQ(h.run(r), Verdict::kForward);
  EXPECT_EQ(r, PacketBuilder()
                   .Eth()
                   .IPv4("198.19.0.10", "203.0.113.9", {.ttl = 63})
                   .UDP(53, 5000)
                   .Payload("answer")
                   .Build());
  const auto& c = h.nat.tracker().table().conn(0);
  EXPECT_EQ(c.state, conntrack::ConnState::kUdpReplied);
}

TEST(Translator, TcpLifecycleAndExpiry) {
  Harness h;
  // Client ISN 100, backend ISN 5000: each ACK acknowledges the other side.
  Bytes p1 = seg("203.0.113.5", 40000, "198.19.0.10", 80, kSyn, 100, 0);
  ASSERT_EQ(h.run(p1, 0), Verdict::kForward);
  ParsedPacket out;
  ASSERT_EQ(packet::parse(p1, out), packet::DropReason::kNone);
  const std::string be = addr(out.ipv4_dst);
  Bytes p2 = seg(be, 8080, "203.0.113.5", 40000, kSyn | kAck, 5000, 101);
  ASSERT_EQ(h.run(p2, 10), Verdict::kForward);
  Bytes p3 = seg("203.0.113.5", 40000, "198.19.0.10", 80, kAck, 101, 5001);
  ASSERT_EQ(h.run(p3, 20), Verdict::kForward);
  const auto& c = h.nat.tracker().table().conn(0);
  EXPECT_EQ(c.state, conntrack::ConnState::kTcpEstablished);
  EXPECT_NE(c.flags & conntrack::kConnAssured, 0);
  Bytes p4 = seg("203.0.113.5", 40000, "198.19.0.10", 80, kFin | kAck, 101, 5001);
  ASSERT_EQ(h.run(p4, 30), Verdict::kForward);
  Bytes p5 = seg(be, 8080, "203.0.113.5", 40000, kFin | kAck, 5001, 102);
  ASSERT_EQ(h.run(p5, 40), Verdict::kForward);
  Bytes p6 = seg("203.0.113.5", 40000, "198.19.0.10", 80, kAck, 102, 5002);
  ASSERT_EQ(h.run(p6, 50), Verdict::kForward);
  EXPECT_EQ(c.state, conntrack::ConnState::kTcpTimeWait);
  // Time-wait lasts 120 s by default, then the connection is gone and a
  // late reply is unknown.
  EXPECT_EQ(h.nat.expire(50 + 119'999, 100), 0u);
  EXPECT_EQ(h.nat.expire(50 + 120'000, 100), 1u);
  Bytes late = tcp(be, 8080, "203.0.113.5", 40000, kAck);
  EXPECT_EQ(h.run(late, 200'000), Verdict::kDrop);
  EXPECT_EQ(h.nat.last_drop(), NatDrop::kUnknownReturn);
}

TEST(Translator, MidstreamPickupOnlyForDnat) {
  Harness h;
  Bytes ack = tcp("203.0.113.5", 40000, "198.19.0.10", 80, kAck);
  EXPECT_EQ(h.run(ack), Verdict::kForward);  // dnat: picked up
  EXPECT_EQ(h.nat.tracker().table().conn(0).state, conntrack::ConnState::kTcpEstablished);
  Bytes ack2 = tcp("203.0.113.5", 40001, "198.19.0.11", 443, kAck);
  EXPECT_EQ(h.run(ack2), Verdict::kDrop);  // dnat+snat: cannot
  EXPECT_EQ(h.nat.last_drop(), NatDrop::kMidstreamNoConn);
  Bytes rst = tcp("203.0.113.5", 40002, "198.19.0.10", 80, kRst);
  EXPECT_EQ(h.run(rst), Verdict::kDrop);
  TranslatorConfig strict;
  strict.tcp_pickup = false;
  Harness s(strict);
  Bytes ack3 = tcp("203.0.113.5", 40000, "198.19.0.10", 80, kAck);
  EXPECT_EQ(s.run(ack3), Verdict::kDrop);
}

TEST(Translator, DropReasonsAreCounted) {
  Harness h;
  Bytes p = tcp("203.0.113.5", 1, "198.19.0.10", 81, kSyn);  // VIP, no such port
  EXPECT_EQ(h.run(p), Verdict::kDrop);
  EXPECT_EQ(h.nat.last_drop(), NatDrop::kNoService);
  Bytes ttl = tcp("203.0.113.5", 2, "198.19.0.10", 80, kSyn, 1);
  EXPECT_EQ(h.run(ttl), Verdict::kDrop);
  EXPECT_EQ(h.nat.last_drop(), NatDrop::kTtlExceeded);
  EXPECT_EQ(h.nat.tracker().table().size(), 0u);  // no state for it
  Bytes frag =
      PacketBuilder()
          .Eth()
          .IPv4("203.0.113.5", "198.19.0.10", {.frag_offset = 1480, .protocol = 6})
          .Payload(20, 0)
          .Build();
  EXPECT_EQ(h.run(frag), Verdict::kDrop);
  EXPECT_EQ(h.nat.last_drop(), NatDrop::kFragment);
  Bytes ret = tcp("198.18.3.1", 443, "198.18.1.1", 5555, kAck);
  EXPECT_EQ(h.run(ret), Verdict::kDrop);
  EXPECT_EQ(h.nat.last_drop(), NatDrop::kUnknownReturn);
  Bytes gre = PacketBuilder()
                  .Eth()
                  .IPv4("203.0.113.5", "198.19.0.10", {.protocol = 47})
                  .Payload(8, 0)
                  .Build();
  EXPECT_EQ(h.run(gre), Verdict::kDrop);
  EXPECT_EQ(h.nat.last_drop(), NatDrop::kUnsupportedProtocol);
  Bytes other = tcp("203.0.113.5", 1, "198.18.9.9", 22, kSyn);  // not ours
  EXPECT_EQ(h.run(other), Verdict::kException);
  Bytes v6 = PacketBuilder().Eth().IPv6("2001:db8::1", "2001:db8::2").UDP(1, 2).Build();
  EXPECT_EQ(h.run(v6), Verdict::kException);
  const auto& d = h.nat.counters().drops;
  EXPECT_EQ(d[static_cast<std::size_t>(NatDrop::kNoService)], 1u);
  EXPECT_EQ(d[static_cast<std::size_t>(NatDrop::kTtlExceeded)], 1u);
  EXPECT_EQ(h.nat.counters().dropped(), 5u);
  EXPECT_EQ(h.nat.counters().exceptions, 2u);
  EXPECT_EQ(nat_drop_name(NatDrop::kSnatPortsExhausted), "snat_ports_exhausted");
}

TEST(Translator, NoHealthyBackend) {
  Harness h(TranslatorConfig{}, /*healthy=*/false);
  Bytes p = tcp("203.0.113.5", 1, "198.19.0.10", 80, kSyn);
  EXPECT_EQ(h.run(p), Verdict::kDrop);
  EXPECT_EQ(h.nat.last_drop(), NatDrop::kNoBackend);
}

TEST(Translator, AnswersPingToVip) {
  Harness h;
  Bytes ping = PacketBuilder()
                   .Eth()
                   .IPv4("203.0.113.5", "198.19.0.10", {.ttl = 9})
                   .ICMP(8, 0, 0x77, 3)
                   .Payload("abc")
                   .Build();
  EXPECT_EQ(h.run(ping), Verdict::kReplyLocal);
  EXPECT_EQ(ping, PacketBuilder()
                      .Eth()
                      .IPv4("198.19.0.10", "203.0.113.5", {.ttl = 64})
                      .ICMP(0, 0, 0x77, 3)
                      .Payload("abc")
                      .Build());
}

// Issue 12, finding 6: the ports of one (backend, SNAT address) held by
// connections that never completed a handshake are taken back, oldest
// first; only assured ones make the pair exhausted, and that is counted.
TEST(Translator, SnatPortsExhaustThenCount) {
  TranslatorConfig cfg;
  cfg.snat_port_min = 65530;           // 6 ports: 65530..65535
  cfg.syn_proxy = SynProxyMode::kOff;  // the pair's own eviction (no cookies)
  Harness h(cfg);
  std::set<std::uint16_t> ports;
  std::vector<std::uint16_t> by_client;
  for (int i = 0; i < 6; ++i) {
    Bytes p = seg("203.0.113.5", static_cast<std::uint16_t>(1000 + i), "198.19.0.11", 443,
                  kSyn, 100, 0);
    ASSERT_EQ(h.run(p, static_cast<std::uint32_t>(i)), Verdict::kForward) << i;
    ParsedPacket out;
    ASSERT_EQ(packet::parse(p, out), packet::DropReason::kNone);
    ports.insert(out.src_port);
    by_client.push_back(out.src_port);
  }
  EXPECT_EQ(ports.size(), 6u);
  EXPECT_EQ(*ports.begin(), 65530);
  // All six embryonic: a new client takes the oldest one's port.
  Bytes p = seg("203.0.113.5", 2000, "198.19.0.11", 443, kSyn, 100, 0);
  EXPECT_EQ(h.run(p, 100), Verdict::kForward);
  ParsedPacket out;
  ASSERT_EQ(packet::parse(p, out), packet::DropReason::kNone);
  EXPECT_EQ(out.src_port, by_client[0]);
  EXPECT_EQ(h.nat.counters().snat_evicted, 1u);
  Bytes first = seg("203.0.113.5", 1000, "198.19.0.11", 443, kAck, 101, 0);
  EXPECT_EQ(h.run(first, 101), Verdict::kDrop);  // its connection is gone
  EXPECT_EQ(h.nat.last_drop(), NatDrop::kMidstreamNoConn);
  // Counted per (backend, SNAT address) all the same.
  ASSERT_EQ(h.nat.exhaustion().size(), 1u);
  EXPECT_EQ(h.nat.exhaustion()[0].backend_addr, ipv4_from_string("198.18.3.1"));
  EXPECT_EQ(h.nat.exhaustion()[0].backend_port, 443);
  EXPECT_EQ(h.nat.exhaustion()[0].snat_addr, ipv4_from_string("198.18.1.1"));
  EXPECT_EQ(h.nat.exhaustion()[0].count, 1u);

  // Complete every handshake: now nothing may give its port up.
  for (int i = 1; i <= 6; ++i) {
    const auto cport = static_cast<std::uint16_t>(i == 6 ? 2000 : 1000 + i);
    const std::uint16_t sport =
        i == 6 ? by_client[0] : by_client[static_cast<std::size_t>(i)];
    Bytes synack = seg("198.18.3.1", 443, "198.18.1.1", sport, kSyn | kAck, 7000, 101);
    ASSERT_EQ(h.run(synack, 200), Verdict::kForward);
    Bytes ack = seg("203.0.113.5", cport, "198.19.0.11", 443, kAck, 101, 7001);
    ASSERT_EQ(h.run(ack, 200), Verdict::kForward);
  }
  EXPECT_EQ(h.nat.tracker().list_size(conntrack::TimeoutClass::kTcpEstablished), 6u);
  Bytes late = seg("203.0.113.5", 3000, "198.19.0.11", 443, kSyn, 100, 0);
  EXPECT_EQ(h.run(late, 300), Verdict::kDrop);
  EXPECT_EQ(h.nat.last_drop(), NatDrop::kSnatPortsExhausted);
  EXPECT_EQ(h.nat.counters().snat_evicted, 1u);
  EXPECT_EQ(h.nat.exhaustion()[0].count, 2u);
}

// Azure reserves UDP 65330 on its VMs: never a UDP SNAT port, still a TCP
// one. The partition 65330..65535 (206 ports), one flow per port and more.
TEST(Translator, NeverHandsOutAzuresReservedUdpPort) {
  TranslatorConfig cfg;
  cfg.snat_port_min = kAzureReservedUdpPort;
  cfg.syn_proxy = SynProxyMode::kOff;
  Harness h(cfg);
  std::set<std::uint16_t> udp, tcp;
  for (int i = 0; i < 300; ++i) {
    const auto cport = static_cast<std::uint16_t>(10000 + i);
    Bytes q = PacketBuilder()
                  .Eth()
                  .IPv4("203.0.113.9", "198.19.0.10")
                  .UDP(cport, 53)
                  .Payload("query")
                  .Build();
    ParsedPacket out;
    if (h.run(q, static_cast<std::uint32_t>(i)) == Verdict::kForward &&
        packet::parse(q, out) == packet::DropReason::kNone)
      udp.insert(out.src_port);
    Bytes syn = seg("203.0.113.5", cport, "198.19.0.11", 443, kSyn, 100, 0);
    if (h.run(syn, static_cast<std::uint32_t>(i)) == Verdict::kForward &&
        packet::parse(syn, out) == packet::DropReason::kNone)
      tcp.insert(out.src_port);
  }
  EXPECT_EQ(udp.count(kAzureReservedUdpPort), 0u);
  EXPECT_EQ(udp.size(), 205u);  // every other port of the partition
  EXPECT_EQ(tcp.count(kAzureReservedUdpPort), 1u);
}

// read() from another thread while the worker records: every entry whole
// (its three fields from one pair, count above the inherited error), never
// one pair's address with another's port, and the pairs all there at the end.
TEST(ExhaustionTally, ReadFromAnotherThreadGivesWholeEntries) {
  ExhaustionTally t;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    // Many more pairs than slots: slots are taken over all the time.
    for (std::uint32_t r = 0; r < 200'000; ++r) {
      const std::uint32_t pair = (r * 2654435761u) % 97;
      t.record(0x0A000000 + pair, static_cast<std::uint16_t>(1000 + pair),
               0x0B000000 + pair);
    }
    done = true;
  });
  std::uint64_t readings = 0, entries = 0;
  while (!done.load()) {
    for (const ExhaustionEntry& e : t.read()) {
      const std::uint32_t pair = e.backend_addr - 0x0A000000;
      ASSERT_LT(pair, 97u);
      ASSERT_EQ(e.backend_port, 1000 + pair);
      ASSERT_EQ(e.snat_addr, 0x0B000000 + pair);
      ASSERT_GT(e.count, e.error);
      ++entries;
    }
    ++readings;
  }
  writer.join();
  EXPECT_EQ(t.read().size(), ExhaustionTally::kSlots);
  EXPECT_EQ(t.total(), 200'000u);
  std::cout << readings << " readings, " << entries << " entries checked\n";
}

// Space-Saving: every pair counted exactly while the slots suffice; past
// that, a heavy pair is never lost and counts are upper bounds whose
// inherited part is reported.
TEST(ExhaustionTally, KeepsTheHeavyPairs) {
  ExhaustionTally t;
  for (std::uint32_t i = 0; i < ExhaustionTally::kSlots; ++i) {
    for (std::uint32_t k = 0; k <= i; ++k) t.record(0x0A000000 + i, 80, 0x0A0000FF);
  }
  ASSERT_EQ(t.size(), ExhaustionTally::kSlots);
  for (std::size_t i = 0; i < t.size(); ++i) {
    EXPECT_EQ(t[i].count, i + 1);
    EXPECT_EQ(t[i].error, 0u);
  }
  // A flood of one new heavy pair among many light ones.
  for (int r = 0; r < 1000; ++r) {
    t.record(0x0B000001, 443, 0x0A0000FE);
    t.record(0x0C000000 + static_cast<std::uint32_t>(r), 443, 0x0A0000FE);
  }
  EXPECT_EQ(t.total(),
            ExhaustionTally::kSlots * (ExhaustionTally::kSlots + 1) / 2 + 2000);
  bool found = false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i].backend_addr != 0x0B000001) continue;
    found = true;
    EXPECT_GE(t[i].count, 1000u);
    EXPECT_LE(t[i].count - t[i].error, 1000u);
  }
  EXPECT_TRUE(found);
}

TEST(Translator, TableFullDropsWhenAllEstablished) {
  TranslatorConfig cfg;
  cfg.capacity = 4;
  Harness h(cfg);
  for (int i = 0; i < 4; ++i) {
    const auto cport = static_cast<std::uint16_t>(1000 + i);
    Bytes p = seg("203.0.113.5", cport, "198.19.0.10", 80, kAck, 100, 900, "x");
    ASSERT_EQ(h.run(p), Verdict::kForward);  // picked up, not assured
    ParsedPacket out;
    ASSERT_EQ(packet::parse(p, out), packet::DropReason::kNone);
    // The backend answers, acknowledging the client's byte: assured.
    Bytes r = seg(addr(out.ipv4_dst), 8080, "203.0.113.5", cport, kAck, 900, 101);
    ASSERT_EQ(h.run(r), Verdict::kForward);
  }
  EXPECT_EQ(h.nat.tracker().list_size(conntrack::TimeoutClass::kTcpEstablished), 4u);
  Bytes p = tcp("203.0.113.5", 2000, "198.19.0.10", 80, kSyn);
  EXPECT_EQ(h.run(p), Verdict::kDrop);
  EXPECT_EQ(h.nat.last_drop(), NatDrop::kTableFull);
}

// Issue 12, finding 1: no state for a packet whose checksums are wrong; the
// NIC's verdict is taken where it gave one; packets of existing connections
// are not checked (the fast path pays nothing; the endpoint drops them).
TEST(Translator, ChecksumsAreVerifiedBeforeStateIsCreated) {
  Harness h;
  constexpr std::size_t kIp = 14, kTcpCk = 14 + 20 + 16, kUdpCk = 14 + 20 + 6;
  auto drops = [&](packet::DropReason r) {
    return h.nat.counters().packet_drops[static_cast<std::size_t>(r)];
  };
  Bytes ack = seg("203.0.113.5", 40000, "198.19.0.10", 80, kAck, 100, 900, "x");
  Bytes bad_l4 = ack;
  bad_l4[kTcpCk] ^= 0x5a;
  EXPECT_EQ(h.run(bad_l4), Verdict::kDrop);
  EXPECT_EQ(drops(packet::DropReason::kL4BadChecksum), 1u);
  Bytes bad_ip = ack;
  bad_ip[kIp + 10] ^= 0x01;
  EXPECT_EQ(h.run(bad_ip), Verdict::kDrop);
  EXPECT_EQ(drops(packet::DropReason::kIpv4BadChecksum), 1u);
  Bytes syn = seg("203.0.113.5", 40001, "198.19.0.11", 443, kSyn, 100, 0);
  syn[kTcpCk + 1] ^= 0x01;
  EXPECT_EQ(h.run(syn), Verdict::kDrop);
  Bytes udp = PacketBuilder()
                  .Eth()
                  .IPv4("203.0.113.9", "198.19.0.10")
                  .UDP(5000, 53)
                  .Payload("q")
                  .Build();
  Bytes bad_udp = udp;
  bad_udp[kUdpCk] ^= 0x10;
  EXPECT_EQ(h.run(bad_udp), Verdict::kDrop);
  EXPECT_EQ(drops(packet::DropReason::kL4BadChecksum), 3u);
  EXPECT_EQ(h.nat.tracker().table().size(), 0u);
  EXPECT_EQ(h.nat.counters().created, 0u);
  EXPECT_EQ(h.nat.counters().dropped(), 4u);  // every drop under a name
  EXPECT_EQ(packet::drop_reason_name(packet::DropReason::kL4BadChecksum),
            "l4_bad_checksum");

  // UDP without a checksum (0, RFC 768) is not a wrong one.
  Bytes no_sum = udp;
  no_sum[kUdpCk] = 0;
  no_sum[kUdpCk + 1] = 0;
  EXPECT_EQ(h.run(no_sum), Verdict::kForward);
  EXPECT_EQ(h.nat.counters().created, 1u);

  // The NIC's word: good stands for a wrong sum, bad for a right one.
  ParsedPacket p;
  Bytes trusted = bad_l4;
  ASSERT_EQ(packet::parse(trusted, p), packet::DropReason::kNone);
  p.rx_csum = packet::kRxCsumIpGood | packet::kRxCsumL4Good;
  EXPECT_EQ(h.nat.process(trusted, p, h.svc, 0), Verdict::kForward);
  EXPECT_EQ(h.nat.counters().created, 2u);
  Bytes refused = seg("203.0.113.5", 40002, "198.19.0.10", 80, kAck, 100, 900, "x");
  ASSERT_EQ(packet::parse(refused, p), packet::DropReason::kNone);
  p.rx_csum = packet::kRxCsumIpGood | packet::kRxCsumL4Bad;
  EXPECT_EQ(h.nat.process(refused, p, h.svc, 0), Verdict::kDrop);
  EXPECT_EQ(drops(packet::DropReason::kL4BadChecksum), 4u);
  // Only part of the datagram in hand and no verdict: nothing is created.
  Bytes part = seg("203.0.113.5", 40003, "198.19.0.10", 80, kAck, 100, 900, "payload");
  ASSERT_EQ(packet::parse(part, p), packet::DropReason::kNone);
  EXPECT_EQ(h.nat.process(std::span(part).first(part.size() - 3), p, h.svc, 0),
            Verdict::kDrop);
  EXPECT_EQ(drops(packet::DropReason::kL4BadChecksum), 5u);

  // An existing connection's packet is not checked: forwarded as it is.
  Bytes more = seg("203.0.113.5", 40000, "198.19.0.10", 80, kAck, 101, 900, "y");
  more[kTcpCk] ^= 0x5a;
  EXPECT_EQ(h.run(more), Verdict::kForward);
  EXPECT_EQ(h.nat.counters().created, 2u);
}

// Issue 12, finding 1: a connection picked up mid-stream is embryonic
// (short, evictable) until its backend answers with an ACK of the client's
// bytes; an answer that acknowledges nothing the client sent does not
// assure it.
TEST(Translator, PickedUpConnectionsAreAssuredByTheBackendsAnswer) {
  Harness h;
  Bytes ack = seg("203.0.113.5", 40000, "198.19.0.10", 80, kAck, 100, 900, "xy");
  ASSERT_EQ(h.run(ack, 0), Verdict::kForward);
  ParsedPacket out;
  ASSERT_EQ(packet::parse(ack, out), packet::DropReason::kNone);
  const std::string be = addr(out.ipv4_dst);
  const auto& c = h.nat.tracker().table().conn(0);
  EXPECT_EQ(c.state, conntrack::ConnState::kTcpEstablished);
  EXPECT_EQ(c.flags & conntrack::kConnAssured, 0);
  EXPECT_EQ(h.nat.tracker().list_size(conntrack::TimeoutClass::kTcpEmbryonic), 1u);
  Bytes wrong = seg(be, 8080, "203.0.113.5", 40000, kAck, 900, 102 + (1u << 21));
  EXPECT_EQ(h.run(wrong, 10), Verdict::kForward);
  EXPECT_EQ(c.flags & conntrack::kConnAssured, 0);
  EXPECT_EQ(h.nat.tracker().counters().tcp_ignored, 1u);
  Bytes right = seg(be, 8080, "203.0.113.5", 40000, kAck, 900, 102);
  EXPECT_EQ(h.run(right, 20), Verdict::kForward);
  EXPECT_NE(c.flags & conntrack::kConnAssured, 0);
  EXPECT_EQ(h.nat.tracker().list_size(conntrack::TimeoutClass::kTcpEmbryonic), 0u);
  EXPECT_EQ(h.nat.tracker().list_size(conntrack::TimeoutClass::kTcpEstablished), 1u);
  // Unanswered, a pickup lives as long as an embryonic connection.
  Bytes lone = seg("203.0.113.6", 40000, "198.19.0.10", 80, kAck, 100, 900, "xy");
  ASSERT_EQ(h.run(lone, 100), Verdict::kForward);
  const std::uint32_t embryonic = conntrack::Timeouts::kDefaultTcpEmbryonicMs;
  EXPECT_EQ(h.nat.expire(100 + embryonic - 1, 100), 0u);
  EXPECT_EQ(h.nat.expire(100 + embryonic, 100), 1u);
  EXPECT_EQ(h.nat.tracker().table().size(), 1u);  // the assured one
}

// Issue 12, finding 1: spoofed mid-stream ACKs with right checksums fill
// the table; honest SYNs evict them, oldest first; an assured connection
// is never evicted and keeps forwarding.
TEST(Translator, SpoofedPickupsAreEvictedByHonestClients) {
  TranslatorConfig cfg;
  cfg.capacity = 64;
  cfg.syn_proxy = SynProxyMode::kOff;  // the eviction order alone (no cookies)
  Harness h(cfg);
  Bytes syn = seg("198.51.100.7", 5555, "198.19.0.10", 80, kSyn, 100, 0);
  ASSERT_EQ(h.run(syn, 0), Verdict::kForward);
  ParsedPacket out;
  ASSERT_EQ(packet::parse(syn, out), packet::DropReason::kNone);
  const std::string be = addr(out.ipv4_dst);
  Bytes synack = seg(be, 8080, "198.51.100.7", 5555, kSyn | kAck, 7000, 101);
  ASSERT_EQ(h.run(synack, 0), Verdict::kForward);
  Bytes hs = seg("198.51.100.7", 5555, "198.19.0.10", 80, kAck, 101, 7001);
  ASSERT_EQ(h.run(hs, 0), Verdict::kForward);

  std::mt19937 rng(12);
  std::vector<conntrack::ConnKey> spoofed;
  for (std::uint32_t i = 1; i < 64; ++i) {
    Bytes a = seg("203.0.113." + std::to_string(i), static_cast<std::uint16_t>(1024 + i),
                  "198.19.0.10", 80, kAck, static_cast<std::uint32_t>(rng()),
                  static_cast<std::uint32_t>(rng()));
    ParsedPacket p;
    ASSERT_EQ(packet::parse(a, p), packet::DropReason::kNone);
    spoofed.push_back(Translator::key_of(p));
    ASSERT_EQ(h.run(a, i), Verdict::kForward);
  }
  EXPECT_EQ(h.nat.tracker().table().size(), 64u);
  for (std::uint32_t j = 0; j < 20; ++j) {
    Bytes s = seg("198.51.100.8", static_cast<std::uint16_t>(6000 + j), "198.19.0.10", 80,
                  kSyn, 100, 0);
    ASSERT_EQ(h.run(s, 100 + j), Verdict::kForward) << j;
  }
  const auto& tc = h.nat.tracker().counters();
  EXPECT_EQ(tc.evicted_embryonic, 20u);
  EXPECT_EQ(tc.dropped_table_full, 0u);
  for (std::size_t i = 0; i < spoofed.size(); ++i) {
    EXPECT_EQ(h.nat.tracker().table().lookup(spoofed[i]).found(), i >= 20) << i;
  }
  Bytes data = seg("198.51.100.7", 5555, "198.19.0.10", 80, kAck, 101, 7001, "GET /");
  EXPECT_EQ(h.run(data, 200), Verdict::kForward);
  EXPECT_EQ(h.nat.tracker().list_size(conntrack::TimeoutClass::kTcpEstablished), 1u);
}

// Issue 12, finding 8: an RST closes a connection only at the exact next
// sequence; near it, it is forwarded and changes nothing; far from it, it
// is dropped and counted. A SYN on an established connection changes
// nothing, and a segment with an implausible ACK does not move the tracked
// sequence (else a blind sender could set it and follow with a "exact" RST).
TEST(Translator, BlindRstsAndSynsDoNotTearAnEstablishedConnectionDown) {
  Harness h;
  const std::string cl = "203.0.113.5", vip = "198.19.0.10";
  Bytes syn = seg(cl, 40000, vip, 80, kSyn, 100, 0);
  ASSERT_EQ(h.run(syn), Verdict::kForward);
  ParsedPacket out;
  ASSERT_EQ(packet::parse(syn, out), packet::DropReason::kNone);
  const std::string be = addr(out.ipv4_dst);
  Bytes p2 = seg(be, 8080, cl, 40000, kSyn | kAck, 7000, 101);
  Bytes p3 = seg(cl, 40000, vip, 80, kAck, 101, 7001, "hello");  // client next: 106
  Bytes p4 = seg(be, 8080, cl, 40000, kAck, 7001, 106, "abc");   // backend next: 7004
  for (Bytes* b : {&p2, &p3, &p4}) ASSERT_EQ(h.run(*b), Verdict::kForward);
  const auto& c = h.nat.tracker().table().conn(0);
  ASSERT_EQ(c.state, conntrack::ConnState::kTcpEstablished);
  EXPECT_EQ(c.seq_next[0], 106u);
  EXPECT_EQ(c.seq_next[1], 7004u);
  const auto out_of_window = [&] {
    return h.nat.counters().drops[static_cast<std::size_t>(NatDrop::kTcpOutOfWindow)];
  };

  Bytes far1 = seg(cl, 40000, vip, 80, kRst, 106 + (1u << 21), 0);
  EXPECT_EQ(h.run(far1), Verdict::kDrop);
  EXPECT_EQ(h.nat.last_drop(), NatDrop::kTcpOutOfWindow);
  Bytes far2 = seg(be, 8080, cl, 40000, kRst | kAck, 7004 - (1u << 22), 106);
  EXPECT_EQ(h.run(far2), Verdict::kDrop);
  EXPECT_EQ(out_of_window(), 2u);
  EXPECT_EQ(c.state, conntrack::ConnState::kTcpEstablished);

  Bytes near = seg(cl, 40000, vip, 80, kRst, 110, 0);
  EXPECT_EQ(h.run(near), Verdict::kForward);  // the backend's challenge ACK is its own
  EXPECT_EQ(c.state, conntrack::ConnState::kTcpEstablished);
  Bytes resyn = seg(cl, 40000, vip, 80, kSyn, 55555, 0);
  EXPECT_EQ(h.run(resyn), Verdict::kForward);
  EXPECT_EQ(c.state, conntrack::ConnState::kTcpEstablished);
  EXPECT_EQ(c.seq_next[0], 106u);
  Bytes blind = seg(cl, 40000, vip, 80, kAck, 106 + 5000, 7004 + (1u << 22), "zz");
  EXPECT_EQ(h.run(blind), Verdict::kForward);
  EXPECT_EQ(c.seq_next[0], 106u);
  // Counted: the RST and the SYN (the fast path does not count its own).
  EXPECT_EQ(h.nat.tracker().counters().tcp_ignored, 2u);
  EXPECT_EQ(h.nat.tracker().list_size(conntrack::TimeoutClass::kTcpEstablished), 1u);

  // The connection goes on, and its own RST, at the next sequence, closes it.
  Bytes p5 = seg(cl, 40000, vip, 80, kAck, 106, 7004, "more");
  ASSERT_EQ(h.run(p5), Verdict::kForward);
  EXPECT_EQ(c.seq_next[0], 110u);
  Bytes rst = seg(cl, 40000, vip, 80, kRst | kAck, 110, 7004);
  EXPECT_EQ(h.run(rst), Verdict::kForward);
  EXPECT_EQ(c.state, conntrack::ConnState::kTcpClosed);
}

// Issue 12, finding 6: SYN+FIN pairs keep their connections embryonic (30
// s, not the 4 minutes of FIN_WAIT).
TEST(Translator, FinBeforeTheHandshakeStaysEmbryonic) {
  Harness h;
  Bytes syn = seg("203.0.113.5", 40000, "198.19.0.11", 443, kSyn, 100, 0);
  ASSERT_EQ(h.run(syn, 0), Verdict::kForward);
  Bytes fin = seg("203.0.113.5", 40000, "198.19.0.11", 443, kFin, 101, 0);
  ASSERT_EQ(h.run(fin, 0), Verdict::kForward);
  Bytes synfin = seg("203.0.113.6", 40000, "198.19.0.11", 443, kSyn | kFin, 100, 0);
  ASSERT_EQ(h.run(synfin, 0), Verdict::kForward);
  EXPECT_EQ(h.nat.tracker().list_size(conntrack::TimeoutClass::kTcpEmbryonic), 2u);
  EXPECT_EQ(h.nat.tracker().table().conn(0).state, conntrack::ConnState::kTcpSynSent);
  const std::uint32_t embryonic = conntrack::Timeouts::kDefaultTcpEmbryonicMs;
  EXPECT_EQ(h.nat.expire(embryonic, 100), 2u);
}

// A router between the NVA and the backend cannot forward the (SNATed)
// SYN without fragmenting: its "fragmentation needed" goes to the SNAT
// address and must reach the client about the packet the client sent.
TEST(Translator, FragNeededFromTheBackendSideReachesTheClient) {
  Harness h;
  Bytes syn = tcp("203.0.113.5", 40000, "198.19.0.11", 443, kSyn, 64, "hello");
  ASSERT_EQ(h.run(syn), Verdict::kForward);
  ParsedPacket out;
  ASSERT_EQ(packet::parse(syn, out), packet::DropReason::kNone);
  const std::uint16_t snat_port = out.src_port;
  const Bytes sent_ip(syn.begin() + 14, syn.end());  // what left the NVA
  for (const std::size_t quote_len : {std::size_t{28}, sent_ip.size()}) {
    Bytes err = PacketBuilder()
                    .Eth()
                    .IPv4("198.18.9.1", "198.18.1.1", {.ttl = 60})
                    .ICMP(3, 4, 0, 1400)
                    .Payload(std::span(sent_ip).first(quote_len))
                    .Build();
    ASSERT_EQ(h.run(err), Verdict::kForward) << quote_len;
    // The client's own SYN (as sent, TTL aside) is quoted back to it.
    const Bytes original = PacketBuilder()
                               .IPv4("203.0.113.5", "198.19.0.11", {.ttl = 63})
                               .TCP(40000, 443, {.flags = kSyn})
                               .Payload("hello")
                               .Build();
    const Bytes want = PacketBuilder()
                           .Eth()
                           .IPv4("198.18.9.1", "203.0.113.5", {.ttl = 59})
                           .ICMP(3, 4, 0, 1400)
                           .Payload(std::span(original).first(quote_len))
                           .Build();
    EXPECT_EQ(err, want) << "quote of " << quote_len
                         << " bytes: " << first_diff(err, want);
  }
  EXPECT_EQ(h.nat.counters().icmp_errors, 2u);
  (void)snat_port;
}

// A router on the client side cannot deliver a reply: its error goes to
// the VIP and must reach the backend about the packet the backend sent.
TEST(Translator, ErrorFromTheClientSideReachesTheBackend) {
  Harness h;
  Bytes syn = tcp("203.0.113.5", 40000, "198.19.0.10", 80, kSyn);
  ASSERT_EQ(h.run(syn), Verdict::kForward);
  ParsedPacket out;
  ASSERT_EQ(packet::parse(syn, out), packet::DropReason::kNone);
  const std::string be = addr(out.ipv4_dst);
  Bytes synack = tcp(be, 8080, "203.0.113.5", 40000, kSyn | kAck);
  ASSERT_EQ(h.run(synack), Verdict::kForward);
  const Bytes sent_ip(synack.begin() + 14, synack.end());  // VIP -> client
  Bytes err = PacketBuilder()
                  .Eth()
                  .IPv4("192.0.2.1", "198.19.0.10")
                  .ICMP(11, 0)
                  .Payload(std::span(sent_ip).first(28))
                  .Build();
  ASSERT_EQ(h.run(err), Verdict::kForward);
  const Bytes original = PacketBuilder()
                             .IPv4(be, "203.0.113.5", {.ttl = 63})
                             .TCP(8080, 40000, {.flags = kSyn | kAck})
                             .Build();
  const Bytes want = PacketBuilder()
                         .Eth()
                         .IPv4("192.0.2.1", be, {.ttl = 63})
                         .ICMP(11, 0)
                         .Payload(std::span(original).first(28))
                         .Build();
  EXPECT_EQ(err, want) << first_diff(err, want);
}

TEST(Translator, UntrackedOrMalformedErrorsAreCounted) {
  Harness h;
  const Bytes stranger =
      PacketBuilder().IPv4("198.18.1.1", "198.18.3.1").TCP(1111, 443).Build();
  Bytes err = PacketBuilder()
                  .Eth()
                  .IPv4("198.18.9.1", "198.18.1.1")
                  .ICMP(3, 4)
                  .Payload(std::span(stranger).first(28))
                  .Build();
  EXPECT_EQ(h.run(err), Verdict::kDrop);
  EXPECT_EQ(h.nat.last_drop(), NatDrop::kIcmpErrorUntracked);
  Bytes junk = PacketBuilder()
                   .Eth()
                   .IPv4("198.18.9.1", "198.19.0.10")
                   .ICMP(3, 1)
                   .Payload(Bytes{0x45, 0, 0})
                   .Build();
  EXPECT_EQ(h.run(junk), Verdict::kDrop);
  EXPECT_EQ(h.nat.last_drop(), NatDrop::kIcmpErrorUntracked);
  Bytes elsewhere = PacketBuilder()
                        .Eth()
                        .IPv4("198.18.9.1", "198.18.77.7")
                        .ICMP(3, 1)
                        .Payload(std::span(stranger).first(28))
                        .Build();
  EXPECT_EQ(h.run(elsewhere), Verdict::kException);  // not about our traffic
}

// Two workers dispatching by owner(): every packet of every connection
// (both directions) lands on the worker that created the connection.
TEST(Translator, OwnerKeepsBothDirectionsOnTheCreatingWorker) {
  const auto svc = services();
  for (std::uint32_t workers : {2u, 3u, 4u}) {
    std::vector<std::unique_ptr<Translator>> w;
    for (std::uint32_t i = 0; i < workers; ++i) {
      TranslatorConfig cfg;
      cfg.worker = i;
      cfg.workers = workers;
      cfg.capacity = 10000;
      w.push_back(std::make_unique<Translator>(cfg));
    }
    const steer::OwnerParams op{workers, 99};
    std::mt19937 rng(workers);
    for (int n = 0; n < 2000; ++n) {
      const std::string client = "203.0.113." + std::to_string(rng() % 250 + 1);
      const auto cport = static_cast<std::uint16_t>(1024 + rng() % 60000);
      const bool snat = rng() % 2;
      Bytes fwd =
          tcp(client, cport, snat ? "198.19.0.11" : "198.19.0.10", snat ? 443 : 80, kSyn);
      ParsedPacket p;
      ASSERT_EQ(packet::parse(fwd, p), packet::DropReason::kNone);
      const std::uint32_t o = steer::owner(fwd, p, svc, op);
      ASSERT_LT(o, workers);
      if (w[o]->process(fwd, p, svc, 0) != Verdict::kForward) continue;  // e.g. reuse
      ASSERT_EQ(packet::parse(fwd, p), packet::DropReason::kNone);
      Bytes rev =
          tcp(addr(p.ipv4_dst), p.dst_port, addr(p.ipv4_src), p.src_port, kSyn | kAck);
      ParsedPacket r;
      ASSERT_EQ(packet::parse(rev, r), packet::DropReason::kNone);
      ASSERT_EQ(steer::owner(rev, r, svc, op), o)
          << "reply of a connection made on worker " << o;
      ASSERT_EQ(w[o]->process(rev, r, svc, 0), Verdict::kForward);
    }
  }
}

// The worker's key, read from the headers, equals key_of() of the parsed
// packet: TCP and UDP, with and without VLAN tags and IPv4 options.
TEST(Translator, KeyFromHeadersEqualsKeyOfParsed) {
  std::mt19937_64 rng(5);
  for (int iter = 0; iter < 2000; ++iter) {
    PacketBuilder b;
    b.Eth();
    for (std::uint64_t v = rng() % 3; v > 0; --v)
      b.Vlan(static_cast<std::uint16_t>(rng() % 4095));
    packet::Ipv4Opts o{.ttl = 64};
    if (rng() % 2 == 0) o.options = {1, 1, 1, 0};
    const auto sa = static_cast<std::uint32_t>(rng()),
               da = static_cast<std::uint32_t>(rng());
    const auto sp = static_cast<std::uint16_t>(rng()),
               dp = static_cast<std::uint16_t>(rng());
    b.IPv4(packet::ipv4_to_string(sa), packet::ipv4_to_string(da), o);
    if (rng() % 2 == 0) {
      b.TCP(sp, dp);
    } else {
      b.UDP(sp, dp);
    }
    const Bytes f = b.Build();
    ParsedPacket p;
    ASSERT_EQ(packet::parse(f, p), packet::DropReason::kNone);
    const conntrack::ConnKey k = Translator::key_of_headers(f, p);
    EXPECT_EQ(k, Translator::key_of(p)) << "iteration " << iter;
    EXPECT_EQ(k.src_addr, sa);
    EXPECT_EQ(k.dst_port, dp);
  }
}

}  // namespace
}  // namespace nva::nat
