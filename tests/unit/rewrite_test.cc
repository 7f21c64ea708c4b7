// NAT rewrite tests: exact bytes for fixed cases, and a property test over
// thousands of random packets that incremental checksums equal full ones.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"
#include "dataplane/packet/parse.h"
#include "dataplane/packet/rewrite.h"
#include "tests/support/packet_builder.h"

namespace nva::packet {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::string addr(std::uint32_t a) { return packet::ipv4_to_string(a); }

// Checks every checksum of an IPv4 frame against a full recomputation.
void expect_checksums_valid(const Bytes& f, const std::string& ctx) {
  ParsedPacket p;
  ASSERT_EQ(parse(f, p), DropReason::kNone) << ctx;
  const std::uint8_t* ip = f.data() + p.l3_offset;
  const std::size_t ihl = (ip[0] & 0xF) * 4u;
  EXPECT_EQ(load_be16(ip + 10), ipv4_header_checksum(ip, ihl)) << ctx;
  if (p.frag != FragState::kNone) return;  // L4 checksum spans fragments
  const std::uint8_t* l4 = f.data() + p.l4_offset;
  const std::size_t len = p.l3_end - p.l4_offset;
  if (p.l4_proto == ipproto::kTcp) {
    EXPECT_EQ(load_be16(l4 + 16),
              ipv4_l4_checksum(l4, len, 16, p.ipv4_src, p.ipv4_dst, ipproto::kTcp))
        << ctx;
  } else if (p.l4_proto == ipproto::kUdp && load_be16(l4 + 6) != 0) {
    std::uint16_t want =
        ipv4_l4_checksum(l4, len, 6, p.ipv4_src, p.ipv4_dst, ipproto::kUdp);
    if (want == 0) want = 0xFFFF;
    EXPECT_EQ(load_be16(l4 + 6), want) << ctx;
  }
}

TEST(Rewrite, DnatTcpMatchesFreshlyBuiltPacket) {
  Bytes f = PacketBuilder()
                .Eth()
                .IPv4("198.18.0.10", "198.19.255.1")
                .TCP(40000, 443, {.flags = 0x10})
                .Payload("GET /")
                .Build();
  ParsedPacket p;
  ASSERT_EQ(parse(f, p), DropReason::kNone);
  rewrite_ipv4(f, p,
               {.fields = kRewriteDstAddr | kRewriteDstPort,
                .dst_addr = ipv4_from_string("198.18.2.20"),
                .dst_port = 8443});
  const Bytes want = PacketBuilder()
                         .Eth()
                         .IPv4("198.18.0.10", "198.18.2.20")
                         .TCP(40000, 8443, {.flags = 0x10})
                         .Payload("GET /")
                         .Build();
  EXPECT_EQ(f, want);
}

TEST(Rewrite, SnatUdpMatchesFreshlyBuiltPacket) {
  Bytes f = PacketBuilder()
                .Eth()
                .Vlan(7)
                .IPv4("198.18.0.10", "198.19.255.1")
                .UDP(5000, 53)
                .Payload("query")
                .Build();
  ParsedPacket p;
  ASSERT_EQ(parse(f, p), DropReason::kNone);
  rewrite_ipv4(f, p,
               {.fields = kRewriteSrcAddr | kRewriteSrcPort,
                .src_addr = ipv4_from_string("198.18.1.1"),
                .src_port = 61000});
  EXPECT_EQ(f, PacketBuilder()
                   .Eth()
                   .Vlan(7)
                   .IPv4("198.18.1.1", "198.19.255.1")
                   .UDP(61000, 53)
                   .Payload("query")
                   .Build());
}

TEST(Rewrite, UdpZeroChecksumStaysZero) {
  Bytes f = PacketBuilder()
                .Eth()
                .IPv4("198.18.0.10", "198.19.255.1")
                .UDP(5000, 53, {.no_checksum = true})
                .Payload("q")
                .Build();
  ParsedPacket p;
  ASSERT_EQ(parse(f, p), DropReason::kNone);
  rewrite_ipv4(f, p,
               {.fields = kRewriteDstAddr | kRewriteDstPort,
                .dst_addr = ipv4_from_string("198.18.9.9"),
                .dst_port = 5353});
  EXPECT_EQ(load_be16(f.data() + p.l4_offset + 6), 0);
  EXPECT_EQ(f, PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.10", "198.18.9.9")
                   .UDP(5000, 5353, {.no_checksum = true})
                   .Payload("q")
                   .Build());
}

// A UDP datagram whose rewritten checksum computes to 0 must carry 0xFFFF,
// never 0 (which would mean "no checksum").
TEST(Rewrite, UdpComputedZeroIsSentAsAllOnes) {
  const Bytes base = PacketBuilder()
                         .Eth()
                         .IPv4("198.18.0.10", "198.19.0.1")
                         .UDP(5000, 53)
                         .Payload("zz")
                         .Build();
  ParsedPacket p;
  ASSERT_EQ(parse(base, p), DropReason::kNone);
  // Find a destination address for which the true checksum is zero (about
  // one in 65535), then rewrite to it.
  Bytes probe = base;
  std::uint8_t* probe_l4 = probe.data() + p.l4_offset;
  std::uint32_t dst = 0;
  for (std::uint32_t d = 1; d < 1u << 20; ++d) {
    const std::uint32_t cand = 0xC6130000u + d;
    if (ipv4_l4_checksum(probe_l4, p.l4_len(), 6, p.ipv4_src, cand, ipproto::kUdp) == 0) {
      dst = cand;
      break;
    }
  }
  ASSERT_NE(dst, 0u) << "no zero-checksum destination found";
  Bytes f = base;
  rewrite_ipv4(f, p, {.fields = kRewriteDstAddr, .dst_addr = dst});
  EXPECT_EQ(load_be16(f.data() + p.l4_offset + 6), 0xFFFF) << addr(dst);
  expect_checksums_valid(f, addr(dst));
}

TEST(Rewrite, LaterFragmentChangesOnlyTheIpHeader) {
  Bytes f = PacketBuilder()
                .Eth()
                .IPv4("198.18.0.10", "198.19.255.1",
                      {.frag_offset = 1480, .protocol = ipproto::kUdp})
                .Payload(40, 0x5A)
                .Build();
  const Bytes before = f;
  ParsedPacket p;
  ASSERT_EQ(parse(f, p), DropReason::kNone);
  rewrite_ipv4(f, p,
               {.fields = kRewriteDstAddr | kRewriteDstPort,
                .dst_addr = ipv4_from_string("198.18.2.20"),
                .dst_port = 1});
  EXPECT_TRUE(
      std::equal(before.begin() + p.l4_offset, before.end(), f.begin() + p.l4_offset));
  expect_checksums_valid(f, "later fragment");
  EXPECT_EQ(load_be32(f.data() + p.l3_offset + 16), ipv4_from_string("198.18.2.20"));
}

TEST(Rewrite, IcmpGetsAddressRewriteOnly) {
  Bytes f = PacketBuilder()
                .Eth()
                .IPv4("198.18.0.10", "198.19.255.1")
                .ICMP(8, 0, 77, 1)
                .Payload("ping")
                .Build();
  ParsedPacket p;
  ASSERT_EQ(parse(f, p), DropReason::kNone);
  rewrite_ipv4(f, p,
               {.fields = kRewriteDstAddr, .dst_addr = ipv4_from_string("198.18.2.2")});
  EXPECT_EQ(f, PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.10", "198.18.2.2")
                   .ICMP(8, 0, 77, 1)
                   .Payload("ping")
                   .Build());
}

TEST(Ttl, DecrementUpdatesChecksumAndStopsAtOne) {
  Bytes f = PacketBuilder()
                .Eth()
                .IPv4("198.18.0.10", "198.19.255.1", {.ttl = 3})
                .TCP(1, 2)
                .Build();
  ParsedPacket p;
  ASSERT_EQ(parse(f, p), DropReason::kNone);
  EXPECT_TRUE(ipv4_decrement_ttl(f, p));
  EXPECT_EQ(f, PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.10", "198.19.255.1", {.ttl = 2})
                   .TCP(1, 2)
                   .Build());
  EXPECT_TRUE(ipv4_decrement_ttl(f, p));
  const Bytes at_one = f;
  EXPECT_FALSE(ipv4_decrement_ttl(f, p));
  EXPECT_EQ(f, at_one);  // unchanged: the caller drops it
}

// Property: thousands of random packets (TCP/UDP, options, VLANs, payload
// sizes, zero UDP checksums) and random rewrites; afterwards every checksum
// equals a full recomputation, and the packet equals one built from scratch
// with the new fields.
TEST(RewriteProperty, RandomPacketsAndRewrites) {
  std::mt19937_64 rng(42);
  for (int iter = 0; iter < 5000; ++iter) {
    const bool tcp = rng() % 2 == 0;
    const bool vlan = rng() % 4 == 0;
    const bool udp_nocsum = !tcp && rng() % 5 == 0;
    const std::uint8_t ttl = static_cast<std::uint8_t>(1 + rng() % 255);
    std::vector<std::uint8_t> opts;
    if (rng() % 4 == 0) opts.assign(4 * (1 + rng() % 4), 1);  // NOPs
    Bytes payload(rng() % 1400);
    for (auto& x : payload) x = static_cast<std::uint8_t>(rng());
    std::uint32_t src = static_cast<std::uint32_t>(rng());
    std::uint32_t dst = static_cast<std::uint32_t>(rng());
    std::uint16_t sport = static_cast<std::uint16_t>(rng());
    std::uint16_t dport = static_cast<std::uint16_t>(rng());

    auto build = [&](std::uint32_t s, std::uint32_t d, std::uint16_t sp,
                     std::uint16_t dp) {
      PacketBuilder b;
      b.Eth();
      if (vlan) b.Vlan(42);
      b.IPv4(addr(s), addr(d), {.ttl = ttl, .options = opts});
      if (tcp) {
        b.TCP(sp, dp, {.flags = 0x18, .seq = 7});
      } else {
        b.UDP(sp, dp, {.no_checksum = udp_nocsum});
      }
      return b.Payload(payload).Build();
    };
    Bytes f = build(src, dst, sport, dport);
    ParsedPacket p;
    ASSERT_EQ(parse(f, p), DropReason::kNone);

    Ipv4Rewrite rw;
    rw.fields = static_cast<std::uint8_t>(rng() % 16);
    rw.src_addr = static_cast<std::uint32_t>(rng());
    rw.dst_addr = static_cast<std::uint32_t>(rng());
    rw.src_port = static_cast<std::uint16_t>(rng());
    rw.dst_port = static_cast<std::uint16_t>(rng());
    if (iter % 10 == 0) rw.dst_addr = 0;
    if (iter % 13 == 0) rw.src_port = 0xFFFF;
    rewrite_ipv4(f, p, rw);

    if (rw.fields & kRewriteSrcAddr) src = rw.src_addr;
    if (rw.fields & kRewriteDstAddr) dst = rw.dst_addr;
    if (rw.fields & kRewriteSrcPort) sport = rw.src_port;
    if (rw.fields & kRewriteDstPort) dport = rw.dst_port;
    const std::string ctx = "iteration " + std::to_string(iter);
    expect_checksums_valid(f, ctx);
    ASSERT_EQ(f, build(src, dst, sport, dport)) << ctx;
  }
}

// The fast path's one-pass rewrite with the precomputed delta equals TTL
// decrement plus the general rewrite, byte for byte, on random packets
// (fragments and no-checksum UDP included).
TEST(RewriteProperty, TupleRewriteEqualsGeneralRewrite) {
  std::mt19937_64 rng(77);
  for (int iter = 0; iter < 3000; ++iter) {
    const bool tcp = rng() % 2 == 0;
    const int frag = static_cast<int>(rng() % 4);  // 0,1: none, 2: first, 3: later
    PacketBuilder b;
    b.Eth().IPv4(addr(static_cast<std::uint32_t>(rng())),
                 addr(static_cast<std::uint32_t>(rng())),
                 {.ttl = static_cast<std::uint8_t>(2 + rng() % 250),
                  .mf = frag == 2,
                  .frag_offset = static_cast<std::uint16_t>(frag == 3 ? 1480 : 0),
                  .protocol = static_cast<std::uint8_t>(tcp ? 6 : 17)});
    if (frag != 3) {
      if (tcp) {
        b.TCP(static_cast<std::uint16_t>(rng()), static_cast<std::uint16_t>(rng()));
      } else {
        b.UDP(static_cast<std::uint16_t>(rng()), static_cast<std::uint16_t>(rng()),
              {.no_checksum = rng() % 4 == 0});
      }
    }
    Bytes f = b.Payload(rng() % 200, static_cast<std::uint8_t>(rng())).Build();
    ParsedPacket p;
    ASSERT_EQ(parse(f, p), DropReason::kNone);
    const auto sa = static_cast<std::uint32_t>(rng()),
               da = static_cast<std::uint32_t>(rng());
    const auto sp = static_cast<std::uint16_t>(rng()),
               dp = static_cast<std::uint16_t>(rng());
    Bytes general = f;
    ASSERT_TRUE(ipv4_decrement_ttl(general, p));
    rewrite_ipv4(
        general, p,
        {.fields = kRewriteSrcAddr | kRewriteDstAddr | kRewriteSrcPort | kRewriteDstPort,
         .src_addr = sa,
         .dst_addr = da,
         .src_port = sp,
         .dst_port = dp});
    // The new tuple as it goes on the wire, and the mapping's delta.
    std::uint8_t wire[12];
    store_be32(wire, sa);
    store_be32(wire + 4, da);
    store_be16(wire + 8, sp);
    store_be16(wire + 10, dp);
    rewrite_ipv4_tuple(
        f, p, load_raw<std::uint64_t>(wire), load_raw<std::uint32_t>(wire + 8),
        tuple_delta({p.ipv4_src, p.ipv4_dst, p.src_port, p.dst_port}, {sa, da, sp, dp}));
    ASSERT_EQ(f, general) << "iteration " << iter;
  }
}

}  // namespace
}  // namespace nva::packet
