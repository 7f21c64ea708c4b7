// Table-driven parser tests: valid packets of each kind and hostile ones.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "dataplane/packet/headers.h"
#include "dataplane/packet/parse.h"
#include "tests/support/packet_builder.h"

namespace nva::packet {
namespace {

using Bytes = std::vector<std::uint8_t>;

struct Case {
  std::string name;
  Bytes frame;
  DropReason want;
  // Extra checks on a successful parse.
  std::function<void(const ParsedPacket&)> check = nullptr;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string reason_str(DropReason r) { return std::string(drop_reason_name(r)); }

// --- valid packets ---------------------------------------------------------

std::vector<Case> valid_cases() {
  std::vector<Case> v;
  v.push_back({"ipv4_tcp",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1")
                   .TCP(40000, 80, {.flags = 0x12})
                   .Payload("hello")
                   .Build(),
               DropReason::kNone, [](const ParsedPacket& p) {
                 EXPECT_EQ(p.l3, L3Kind::kIpv4);
                 EXPECT_EQ(p.l3_offset, 14u);
                 EXPECT_EQ(p.l4_offset, 34u);
                 EXPECT_EQ(p.l3_end, 14u + 20 + 20 + 5);
                 EXPECT_EQ(p.l4_proto, ipproto::kTcp);
                 EXPECT_TRUE(p.has_ports);
                 EXPECT_EQ(p.src_port, 40000);
                 EXPECT_EQ(p.dst_port, 80);
                 EXPECT_EQ(p.tcp_flags, 0x12);
                 EXPECT_EQ(p.ipv4_src, ipv4_from_string("198.18.0.1"));
                 EXPECT_EQ(p.ipv4_dst, ipv4_from_string("198.19.0.1"));
                 EXPECT_EQ(p.ttl, 64);
                 EXPECT_EQ(p.frag, FragState::kNone);
               }});
  v.push_back({"ipv4_udp_padded",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1")
                   .UDP(5353, 53)
                   .Payload("q")
                   .PadTo(60)
                   .Build(),
               DropReason::kNone, [](const ParsedPacket& p) {
                 EXPECT_EQ(p.l4_proto, ipproto::kUdp);
                 EXPECT_EQ(p.l3_end, 14u + 20 + 8 + 1);  // not the padded 60
                 EXPECT_EQ(p.src_port, 5353);
                 EXPECT_EQ(p.dst_port, 53);
               }});
  v.push_back({"ipv4_udp_no_checksum",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1")
                   .UDP(1, 2, {.no_checksum = true})
                   .Build(),
               DropReason::kNone});
  v.push_back({"ipv4_icmp_echo",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1")
                   .ICMP(icmp::kEchoRequest, 0, 0x4242, 7)
                   .Payload(16, 0xAB)
                   .Build(),
               DropReason::kNone, [](const ParsedPacket& p) {
                 EXPECT_EQ(p.l4_proto, ipproto::kIcmp);
                 EXPECT_FALSE(p.has_ports);
                 EXPECT_TRUE(p.is_icmp_echo);
                 EXPECT_EQ(p.icmp_type, icmp::kEchoRequest);
                 EXPECT_EQ(p.icmp_echo_id, 0x4242);
               }});
  v.push_back(
      {"ipv4_icmp_frag_needed",
       PacketBuilder()
           .Eth()
           .IPv4("198.18.0.254", "198.18.0.1")
           .ICMP(icmp::kDestUnreachable, icmp::kFragNeededCode)
           .Payload(
               PacketBuilder().IPv4("198.18.0.1", "198.19.0.1").TCP(40000, 80).Build())
           .Build(),
       DropReason::kNone, [](const ParsedPacket& p) {
         EXPECT_FALSE(p.is_icmp_echo);
         EXPECT_EQ(p.icmp_code, icmp::kFragNeededCode);
       }});
  v.push_back({"ipv4_options",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1",
                         {.options = {1, 1, 7, 7, 4, 0, 0, 0, 0}})  // NOP NOP RR
                   .TCP(1, 2)
                   .Build(),
               DropReason::kNone, [](const ParsedPacket& p) {
                 EXPECT_EQ(p.l4_offset, 14u + 32);
                 EXPECT_EQ(p.src_port, 1);
               }});
  v.push_back({"ipv4_options_eol_then_garbage",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1", {.options = {0, 0xFF, 0xFF, 0xFF}})
                   .UDP(1, 2)
                   .Build(),
               DropReason::kNone});
  v.push_back(
      {"vlan_tcp",
       PacketBuilder().Eth().Vlan(100).IPv4("198.18.0.1", "198.19.0.1").TCP(1, 2).Build(),
       DropReason::kNone, [](const ParsedPacket& p) {
         EXPECT_EQ(p.vlan_depth, 1);
         EXPECT_EQ(p.vlan_tci[0] & 0xFFF, 100);
         EXPECT_EQ(p.l3_offset, 18u);
       }});
  v.push_back({"qinq_udp",
               PacketBuilder()
                   .Eth()
                   .Vlan(10, ethertype::kQinQ)
                   .Vlan(20)
                   .IPv4("198.18.0.1", "198.19.0.1")
                   .UDP(1, 2)
                   .Build(),
               DropReason::kNone, [](const ParsedPacket& p) {
                 EXPECT_EQ(p.vlan_depth, 2);
                 EXPECT_EQ(p.vlan_tci[0] & 0xFFF, 10);
                 EXPECT_EQ(p.vlan_tci[1] & 0xFFF, 20);
                 EXPECT_EQ(p.l3_offset, 22u);
                 EXPECT_EQ(p.ethertype, ethertype::kIpv4);
               }});
  v.push_back({"ipv4_first_fragment",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1", {.id = 77, .mf = true})
                   .UDP(1, 2, {.length = 1000})
                   .Payload(64, 0)
                   .Build(),
               DropReason::kNone, [](const ParsedPacket& p) {
                 EXPECT_EQ(p.frag, FragState::kFirst);
                 EXPECT_EQ(p.frag_id, 77u);
                 EXPECT_TRUE(p.has_ports);
               }});
  v.push_back({"ipv4_later_fragment",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1",
                         {.id = 77, .frag_offset = 72, .protocol = ipproto::kUdp})
                   .Payload(3, 0)
                   .Build(),
               DropReason::kNone, [](const ParsedPacket& p) {
                 EXPECT_EQ(p.frag, FragState::kLater);
                 EXPECT_EQ(p.frag_offset, 72u);
                 EXPECT_EQ(p.l4_proto, ipproto::kUdp);
                 EXPECT_FALSE(p.has_ports);  // 3 bytes of payload, no header
               }});
  v.push_back({"ipv4_other_protocol",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1", {.protocol = 47})
                   .Payload(4, 0)
                   .Build(),
               DropReason::kNone, [](const ParsedPacket& p) {
                 EXPECT_EQ(p.l4_proto, 47);
                 EXPECT_FALSE(p.has_ports);
               }});
  v.push_back(
      {"ipv6_tcp",
       PacketBuilder().Eth().IPv6("2001:db8::1", "2001:db8::2").TCP(443, 50000).Build(),
       DropReason::kNone, [](const ParsedPacket& p) {
         EXPECT_EQ(p.l3, L3Kind::kIpv6);
         EXPECT_EQ(p.l4_offset, 14u + 40);
         EXPECT_EQ(p.src_port, 443);
         EXPECT_EQ(p.ttl, 64);
       }});
  v.push_back({"ipv6_hbh_dstopts_udp",
               PacketBuilder()
                   .Eth()
                   .IPv6("2001:db8::1", "2001:db8::2")
                   .Ipv6Ext(ipproto::kHopByHop)
                   .Ipv6Ext(ipproto::kDestOpts, Bytes(10, 1))
                   .UDP(1, 2)
                   .Build(),
               DropReason::kNone, [](const ParsedPacket& p) {
                 EXPECT_EQ(p.l4_proto, ipproto::kUdp);
                 EXPECT_EQ(p.l4_offset, 14u + 40 + 8 + 16);
               }});
  v.push_back({"ipv6_routing_ah_tcp",
               PacketBuilder()
                   .Eth()
                   .IPv6("2001:db8::1", "2001:db8::2")
                   .Ipv6Ext(ipproto::kRouting, Bytes(6, 0))
                   .Ipv6Ext(ipproto::kAh, Bytes(14, 0))
                   .TCP(1, 2)
                   .Build(),
               DropReason::kNone, [](const ParsedPacket& p) {
                 EXPECT_EQ(p.l4_proto, ipproto::kTcp);
                 EXPECT_EQ(p.l4_offset, 14u + 40 + 8 + 16);
               }});
  v.push_back({"ipv6_icmpv6_echo",
               PacketBuilder()
                   .Eth()
                   .IPv6("2001:db8::1", "2001:db8::2")
                   .ICMPv6(icmpv6::kEchoRequest, 0, 9, 1)
                   .Build(),
               DropReason::kNone, [](const ParsedPacket& p) {
                 EXPECT_EQ(p.l4_proto, ipproto::kIcmpv6);
                 EXPECT_TRUE(p.is_icmp_echo);
                 EXPECT_EQ(p.icmp_echo_id, 9);
               }});
  v.push_back({"ipv6_first_fragment",
               PacketBuilder()
                   .Eth()
                   .IPv6("2001:db8::1", "2001:db8::2")
                   .Ipv6Frag(0, true, 0xABCD)
                   .UDP(1, 2, {.length = 2000})
                   .Build(),
               DropReason::kNone, [](const ParsedPacket& p) {
                 EXPECT_EQ(p.frag, FragState::kFirst);
                 EXPECT_EQ(p.frag_id, 0xABCDu);
                 EXPECT_EQ(p.ipv6_frag_hdr_offset, 14u + 40);
                 EXPECT_TRUE(p.has_ports);
               }});
  v.push_back({"ipv6_later_fragment",
               PacketBuilder()
                   .Eth()
                   .IPv6("2001:db8::1", "2001:db8::2")
                   .Ipv6Frag(1448, false, 5, ipproto::kUdp)
                   .Payload(8, 0)
                   .Build(),
               DropReason::kNone, [](const ParsedPacket& p) {
                 EXPECT_EQ(p.frag, FragState::kLater);
                 EXPECT_EQ(p.frag_offset, 1448u);
                 EXPECT_FALSE(p.has_ports);
                 EXPECT_EQ(p.l4_proto, ipproto::kUdp);
               }});
  v.push_back({"ipv6_atomic_fragment",
               PacketBuilder()
                   .Eth()
                   .IPv6("2001:db8::1", "2001:db8::2")
                   .Ipv6Frag(0, false, 5)
                   .TCP(7, 8)
                   .Build(),
               DropReason::kNone, [](const ParsedPacket& p) {
                 EXPECT_EQ(p.frag, FragState::kNone);
                 EXPECT_EQ(p.src_port, 7);
               }});
  v.push_back({"ipv6_no_next_header",
               PacketBuilder().Eth().IPv6("2001:db8::1", "2001:db8::2").Build(),
               DropReason::kNone,
               [](const ParsedPacket& p) { EXPECT_EQ(p.l4_proto, ipproto::kNoNext); }});
  return v;
}

class ValidParse : public ::testing::TestWithParam<Case> {};

TEST_P(ValidParse, ParsesAndReports) {
  const Case& c = GetParam();
  ParsedPacket p;
  ASSERT_EQ(reason_str(parse(c.frame, p)), reason_str(c.want));
  if (c.check) c.check(p);
}

// Every prefix that ends inside the IP datagram is rejected with a reason,
// and reading it stays inside the (exactly sized) buffer: ASan would catch
// a single byte read past the end.
TEST_P(ValidParse, TruncatedAtEveryOffsetIsRejected) {
  const Case& c = GetParam();
  ParsedPacket full;
  ASSERT_EQ(parse(c.frame, full), DropReason::kNone);
  for (std::size_t n = 0; n < full.l3_end; ++n) {
    const Bytes prefix(c.frame.begin(), c.frame.begin() + static_cast<long>(n));
    ParsedPacket p;
    const DropReason r = parse(prefix, p);
    EXPECT_NE(r, DropReason::kNone) << c.name << " cut to " << n << " bytes";
  }
  // Cutting only Ethernet padding keeps the packet valid.
  for (std::size_t n = full.l3_end; n <= c.frame.size(); ++n) {
    const Bytes prefix(c.frame.begin(), c.frame.begin() + static_cast<long>(n));
    ParsedPacket p;
    EXPECT_EQ(reason_str(parse(prefix, p)), "none") << c.name << " cut to " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Packets, ValidParse, ::testing::ValuesIn(valid_cases()),
                         [](const auto& tp) { return tp.param.name; });

// --- hostile packets ---------------------------------------------------------

// Parses IP-only bytes as a whole packet (behind a made-up Ethernet header).
DropReason parse_ip_for_test(const Bytes& ip) {
  Bytes f = PacketBuilder().Eth().Build();
  f[12] = (ip.at(0) >> 4) == 6 ? 0x86 : 0x08;
  f[13] = (ip.at(0) >> 4) == 6 ? 0xDD : 0x00;
  f.insert(f.end(), ip.begin(), ip.end());
  ParsedPacket p;
  return parse(f, p);
}

Bytes ipv4_tcp() {
  return PacketBuilder().Eth().IPv4("198.18.0.1", "198.19.0.1").TCP(1, 2).Build();
}

Bytes with_byte(Bytes b, std::size_t at, std::uint8_t v) {
  b.at(at) = v;
  return b;
}

std::vector<Case> hostile_cases() {
  std::vector<Case> v;
  v.push_back({"empty", {}, DropReason::kEthTruncated});
  v.push_back({"eth_13_bytes", Bytes(13, 0), DropReason::kEthTruncated});
  v.push_back({"arp",
               PacketBuilder().Eth({.ethertype = ethertype::kArp}).Payload(28, 0).Build(),
               DropReason::kNotIp});
  v.push_back({"vlan_stack_too_deep",
               PacketBuilder()
                   .Eth()
                   .Vlan(1, ethertype::kQinQ)
                   .Vlan(2, ethertype::kQinQ)
                   .Vlan(3)
                   .IPv4("198.18.0.1", "198.19.0.1")
                   .TCP(1, 2)
                   .Build(),
               DropReason::kVlanTooDeep});
  {
    // 1,000 stacked tags: still stops at the cap, no walk over all of them.
    PacketBuilder b;
    b.Eth();
    for (int i = 0; i < 1000; ++i) b.Vlan(static_cast<std::uint16_t>(i));
    v.push_back({"vlan_stack_1000", b.IPv4("198.18.0.1", "198.19.0.1").Build(),
                 DropReason::kVlanTooDeep});
  }
  v.push_back({"vlan_truncated", Bytes{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0, 0, 1},
               DropReason::kVlanTruncated});
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
    v.push_back({"ipv4_ihl_" + std::to_string(ihl),
                 with_byte(ipv4_tcp(), 14, static_cast<std::uint8_t>(0x40 | ihl)),
                 DropReason::kIpv4BadIhl});
  }
  v.push_back({"ipv4_ihl_15_beyond_total_length",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1", {.ihl = 15})
                   .Payload(10, 0)
                   .Build(),
               DropReason::kIpv4BadTotalLength});
  v.push_back({"ipv4_ihl_15_beyond_frame",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1", {.ihl = 15, .total_length = 60})
                   .Payload(10, 0)
                   .Build(),
               DropReason::kIpv4BadTotalLength});
  v.push_back(
      {"ipv4_fragment_header_past_64k",
       PacketBuilder()
           .Eth()
           .IPv4("198.18.0.1", "198.19.0.1", {.frag_offset = 65512, .protocol = 17})
           .Payload(8, 0)
           .Build(),
       DropReason::kIpv4BadFragment});
  v.push_back({"ipv4_tcp_fragment_offset_8",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1",
                         {.frag_offset = 8, .protocol = ipproto::kTcp})
                   .Payload(16, 0)
                   .Build(),
               DropReason::kTcpFragmentOverlap});
  v.push_back({"ipv6_tcp_fragment_offset_8",
               PacketBuilder()
                   .Eth()
                   .IPv6("2001:db8::1", "2001:db8::2")
                   .Ipv6Frag(8, false, 1, ipproto::kTcp)
                   .Payload(16, 0)
                   .Build(),
               DropReason::kTcpFragmentOverlap});
  v.push_back({"ipv6_ah_8_bytes",
               PacketBuilder()
                   .Eth()
                   .IPv6("2001:db8::1", "2001:db8::2")
                   .Ipv6Ext(ipproto::kAh)
                   .TCP(1, 2)
                   .Build(),
               DropReason::kIpv6BadExtLength});
  {
    // Unfragmentable headers count towards the 65535-byte reassembled size.
    PacketBuilder b;
    b.Eth().IPv6("2001:db8::1", "2001:db8::2").Ipv6Ext(ipproto::kHopByHop, Bytes(246, 1));
    v.push_back({"ipv6_fragment_past_64k_with_ext",
                 b.Ipv6Frag(65280, false, 3, ipproto::kUdp).Payload(8, 0).Build(),
                 DropReason::kIpv6BadFragment});
  }
  v.push_back({"ipv4_version_6_in_ipv4_ethertype", with_byte(ipv4_tcp(), 14, 0x65),
               DropReason::kIpv4BadVersion});
  v.push_back({"ipv4_total_length_beyond_buffer",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1", {.total_length = 1500})
                   .TCP(1, 2)
                   .Build(),
               DropReason::kIpv4BadTotalLength});
  v.push_back({"ipv4_total_length_below_header",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1", {.total_length = 19})
                   .TCP(1, 2)
                   .Build(),
               DropReason::kIpv4BadTotalLength});
  v.push_back({"ipv4_option_length_zero",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1", {.options = {7, 0, 0, 0}})
                   .TCP(1, 2)
                   .Build(),
               DropReason::kIpv4BadOptions});
  v.push_back({"ipv4_option_past_header",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1", {.options = {1, 7, 9, 0}})
                   .TCP(1, 2)
                   .Build(),
               DropReason::kIpv4BadOptions});
  v.push_back({"ipv4_option_no_length_byte",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1", {.options = {1, 1, 1, 0x83}})
                   .TCP(1, 2)
                   .Build(),
               DropReason::kIpv4BadOptions});
  v.push_back(
      {"ipv4_fragment_past_64k",
       PacketBuilder()
           .Eth()
           .IPv4("198.18.0.1", "198.19.0.1", {.frag_offset = 65528, .protocol = 17})
           .Payload(16, 0)
           .Build(),
       DropReason::kIpv4BadFragment});
  v.push_back({"tcp_data_offset_4",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1")
                   .TCP(1, 2, {.data_offset = 4})
                   .Build(),
               DropReason::kTcpBadDataOffset});
  v.push_back({"tcp_data_offset_beyond_payload",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1")
                   .TCP(1, 2, {.data_offset = 15})
                   .Payload(8, 0)
                   .Build(),
               DropReason::kTcpBadDataOffset});
  v.push_back(
      {"tcp_in_tiny_first_fragment",
       PacketBuilder()
           .Eth()
           .IPv4("198.18.0.1", "198.19.0.1", {.mf = true, .protocol = ipproto::kTcp})
           .Payload(8, 0)
           .Build(),
       DropReason::kTcpTruncated});
  v.push_back({"udp_length_below_8",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1")
                   .UDP(1, 2, {.length = 7})
                   .Build(),
               DropReason::kUdpBadLength});
  v.push_back({"udp_length_beyond_payload",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1")
                   .UDP(1, 2, {.length = 100})
                   .Payload(10, 0)
                   .Build(),
               DropReason::kUdpBadLength});
  v.push_back({"icmp_truncated",
               PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.1", "198.19.0.1", {.protocol = ipproto::kIcmp})
                   .Payload(4, 0)
                   .Build(),
               DropReason::kIcmpTruncated});
  v.push_back(
      {"ipv6_version_4_in_ipv6_ethertype",
       with_byte(
           PacketBuilder().Eth().IPv6("2001:db8::1", "2001:db8::2").TCP(1, 2).Build(), 14,
           0x40),
       DropReason::kIpv6BadVersion});
  v.push_back({"ipv6_payload_length_beyond_buffer",
               PacketBuilder()
                   .Eth()
                   .IPv6("2001:db8::1", "2001:db8::2", {.payload_length = 200})
                   .TCP(1, 2)
                   .Build(),
               DropReason::kIpv6BadPayloadLength});
  v.push_back({"ipv6_jumbogram",
               PacketBuilder()
                   .Eth()
                   .IPv6("2001:db8::1", "2001:db8::2", {.payload_length = 0})
                   .Ipv6Ext(ipproto::kHopByHop, {0xC2, 4, 0, 1, 0, 0})
                   .Build(),
               DropReason::kIpv6BadPayloadLength});
  {
    // An extension-header chain longer than the cap (an "extension loop").
    PacketBuilder b;
    b.Eth().IPv6("2001:db8::1", "2001:db8::2");
    for (int i = 0; i < 9; ++i) b.Ipv6Ext(ipproto::kDestOpts);
    v.push_back({"ipv6_ext_chain_9", b.TCP(1, 2).Build(), DropReason::kIpv6ExtTooMany});
  }
  {
    // Destination options that name themselves as next header, as many as
    // fit in a jumbo frame: stops at the cap.
    PacketBuilder b;
    b.Eth().IPv6("2001:db8::1", "2001:db8::2");
    for (int i = 0; i < 1000; ++i) b.Ipv6Ext(ipproto::kDestOpts);
    v.push_back({"ipv6_ext_chain_1000", b.Build(), DropReason::kIpv6ExtTooMany});
  }
  v.push_back({"ipv6_hop_by_hop_second",
               PacketBuilder()
                   .Eth()
                   .IPv6("2001:db8::1", "2001:db8::2")
                   .Ipv6Ext(ipproto::kDestOpts)
                   .Ipv6Ext(ipproto::kHopByHop)
                   .TCP(1, 2)
                   .Build(),
               DropReason::kIpv6HopByHopNotFirst});
  v.push_back({"ipv6_two_fragment_headers",
               PacketBuilder()
                   .Eth()
                   .IPv6("2001:db8::1", "2001:db8::2")
                   .Ipv6Frag(0, true, 1)
                   .Ipv6Frag(0, true, 1)
                   .UDP(1, 2)
                   .Build(),
               DropReason::kIpv6BadFragment});
  v.push_back({"ipv6_ext_length_beyond_payload",
               with_byte(PacketBuilder()
                             .Eth()
                             .IPv6("2001:db8::1", "2001:db8::2")
                             .Ipv6Ext(ipproto::kDestOpts)
                             .TCP(1, 2)
                             .Build(),
                         14 + 40 + 1, 200),
               DropReason::kIpv6ExtTruncated});
  v.push_back({"icmpv6_truncated",
               PacketBuilder()
                   .Eth()
                   .IPv6("2001:db8::1", "2001:db8::2", {.next_header = ipproto::kIcmpv6})
                   .Payload(4, 0)
                   .Build(),
               DropReason::kIcmpv6Truncated});
  return v;
}

class HostileParse : public ::testing::TestWithParam<Case> {};

TEST_P(HostileParse, RejectedWithReason) {
  const Case& c = GetParam();
  ParsedPacket p;
  EXPECT_EQ(reason_str(parse(c.frame, p)), reason_str(c.want));
}

INSTANTIATE_TEST_SUITE_P(Packets, HostileParse, ::testing::ValuesIn(hostile_cases()),
                         [](const auto& tp) { return tp.param.name; });

// --- multi-segment view (headers in the first `n` bytes only) ---------------

TEST(ParseSplit, HeadersPastFirstSegmentAreReportedAsSplit) {
  const Bytes f = PacketBuilder()
                      .Eth()
                      .Vlan(5)
                      .IPv4("198.18.0.1", "198.19.0.1", {.options = {1, 1, 1, 1}})
                      .TCP(1, 2)
                      .Payload(100, 0)
                      .Build();
  ParsedPacket full;
  ASSERT_EQ(parse(f, full), DropReason::kNone);
  const std::size_t headers_end = full.l4_offset + kTcpMinHeaderLen;
  for (std::size_t n = 0; n < headers_end; ++n) {
    ParsedPacket p;
    const DropReason r = parse(std::span(f).first(n), f.size(), p);
    EXPECT_EQ(reason_str(r), "headers_split") << "first segment of " << n;
  }
  for (std::size_t n = headers_end; n <= f.size(); ++n) {
    ParsedPacket p;
    ASSERT_EQ(reason_str(parse(std::span(f).first(n), f.size(), p)), "none") << n;
    EXPECT_EQ(p.l3_end, full.l3_end);
    EXPECT_EQ(p.dst_port, 2);
  }
}

TEST(ParseSplit, TotalLengthStillCheckedAgainstWholePacket) {
  const Bytes f = PacketBuilder()
                      .Eth()
                      .IPv4("198.18.0.1", "198.19.0.1", {.total_length = 1000})
                      .TCP(1, 2)
                      .Payload(100, 0)
                      .Build();
  ParsedPacket p;
  EXPECT_EQ(reason_str(parse(std::span(f).first(60), f.size(), p)),
            "ipv4_bad_total_length");
}

TEST(ParseQuoted, ShortQuoteOfALargeTcpPacket) {
  // What a router sends back in "fragmentation needed": the IP header and
  // the first 8 bytes of a 1500-byte TCP segment.
  const Bytes full = PacketBuilder()
                         .IPv4("198.18.0.1", "198.19.0.1", {.df = true})
                         .TCP(40000, 443)
                         .Payload(1460, 0)
                         .Build();
  const Bytes quote(full.begin(), full.begin() + 28);
  ParsedPacket p;
  ASSERT_EQ(reason_str(parse_quoted_ip(quote, 0, p)), "none");
  EXPECT_EQ(p.l3_offset, 0u);
  EXPECT_EQ(p.l3_end, 28u);  // clamped to the quote
  EXPECT_TRUE(p.has_ports);
  EXPECT_EQ(p.src_port, 40000);
  EXPECT_EQ(p.dst_port, 443);
  EXPECT_EQ(p.ipv4_dst, ipv4_from_string("198.19.0.1"));
  // The same bytes as a packet of their own are malformed.
  EXPECT_EQ(reason_str(parse_ip_for_test(quote)), "ipv4_bad_total_length");
}

TEST(ParseQuoted, InsideAnIcmpError) {
  const Bytes inner = PacketBuilder()
                          .IPv4("198.18.0.1", "198.19.0.1")
                          .UDP(1111, 53)
                          .Payload(100, 0)
                          .Build();
  const Bytes icmp_err = PacketBuilder()
                             .Eth()
                             .IPv4("198.18.0.254", "198.18.0.1")
                             .ICMP(icmp::kDestUnreachable, icmp::kFragNeededCode)
                             .Payload(std::span(inner).first(28))
                             .Build();
  ParsedPacket outer;
  ASSERT_EQ(parse(icmp_err, outer), DropReason::kNone);
  ParsedPacket q;
  ASSERT_EQ(reason_str(parse_quoted_ip(icmp_err, outer.l4_offset + 8, q)), "none");
  EXPECT_EQ(q.src_port, 1111);
  EXPECT_EQ(q.dst_port, 53);
}

TEST(ParseQuoted, Ipv6AndHostileQuotes) {
  const Bytes v6 = PacketBuilder()
                       .IPv6("2001:db8::1", "2001:db8::2")
                       .TCP(5, 6)
                       .Payload(1000, 0)
                       .Build();
  ParsedPacket p;
  ASSERT_EQ(reason_str(parse_quoted_ip(std::span(v6).first(48), 0, p)), "none");
  EXPECT_EQ(p.src_port, 5);
  // Fewer than 8 L4 bytes: the ports are not all there.
  EXPECT_EQ(reason_str(parse_quoted_ip(std::span(v6).first(46), 0, p)), "tcp_truncated");
  // A header that does not fit the quote is still an error.
  const Bytes v4 = PacketBuilder()
                       .IPv4("198.18.0.1", "198.19.0.1", {.options = {1, 1, 1, 1}})
                       .UDP(1, 2)
                       .Build();
  EXPECT_EQ(reason_str(parse_quoted_ip(std::span(v4).first(22), 0, p)), "ipv4_truncated");
  EXPECT_EQ(reason_str(parse_quoted_ip(Bytes{0x10, 0}, 0, p)), "not_ip");
  EXPECT_EQ(reason_str(parse_quoted_ip(Bytes{}, 0, p)), "not_ip");
}

TEST(ParseSplit, TcpOptionsMustBeInTheFirstSegment) {
  const Bytes f = PacketBuilder()
                      .Eth()
                      .IPv4("198.18.0.1", "198.19.0.1")
                      .TCP(1, 2, {.options = std::vector<std::uint8_t>(40, 1)})
                      .Payload(100, 0)
                      .Build();
  ParsedPacket p;
  ASSERT_EQ(parse(f, p), DropReason::kNone);
  for (std::size_t n = 34; n < 34 + 60; ++n) {
    EXPECT_EQ(reason_str(parse(std::span(f).first(n), f.size(), p)), "headers_split")
        << n;
  }
  EXPECT_EQ(reason_str(parse(std::span(f).first(94), f.size(), p)), "none");
}

TEST(Parse, IcmpOnlyInItsOwnFamily) {
  ParsedPacket p;
  const Bytes v6_with_icmp4 =
      PacketBuilder()
          .Eth()
          .IPv6("2001:db8::1", "2001:db8::2", {.next_header = ipproto::kIcmp})
          .Payload(Bytes{8, 0, 0, 0, 0, 1, 0, 1})
          .Build();
  ASSERT_EQ(parse(v6_with_icmp4, p), DropReason::kNone);
  EXPECT_FALSE(p.is_icmp_echo);
  const Bytes v4_with_icmp6 =
      PacketBuilder()
          .Eth()
          .IPv4("198.18.0.1", "198.19.0.1", {.protocol = ipproto::kIcmpv6})
          .Payload(Bytes{128, 0, 0, 0, 0, 1, 0, 1})
          .Build();
  ASSERT_EQ(parse(v4_with_icmp6, p), DropReason::kNone);
  EXPECT_FALSE(p.is_icmp_echo);
}

}  // namespace
}  // namespace nva::packet
