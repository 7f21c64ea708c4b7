// Builder tests: the bytes it makes for known packets, field by field.
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"
#include "tests/support/packet_builder.h"

namespace nva::packet {
namespace {

TEST(Builder, Ipv4TcpLayout) {
  const auto f = PacketBuilder()
                     .Eth()
                     .IPv4("198.18.0.1", "198.19.0.2", {.ttl = 9})
                     .TCP(0x1234, 80, {.flags = 0x02, .seq = 0x01020304})
                     .Payload("ab")
                     .Build();
  ASSERT_EQ(f.size(), 14u + 20 + 20 + 2);
  EXPECT_EQ(load_be16(&f[12]), 0x0800);
  EXPECT_EQ(f[14], 0x45);
  EXPECT_EQ(load_be16(&f[16]), 42);  // total length
  EXPECT_EQ(f[22], 9);               // TTL
  EXPECT_EQ(f[23], 6);               // protocol
  EXPECT_EQ(load_be16(&f[24]), ipv4_header_checksum(&f[14], 20));
  EXPECT_EQ(load_be32(&f[26]), 0xC6120001u);
  EXPECT_EQ(load_be32(&f[30]), 0xC6130002u);
  EXPECT_EQ(load_be16(&f[34]), 0x1234);
  EXPECT_EQ(load_be32(&f[38]), 0x01020304u);
  EXPECT_EQ(f[46], 0x50);  // data offset 5
  EXPECT_EQ(f[47], 0x02);
  // The TCP checksum verifies: the sum over pseudo-header and segment is -0.
  std::uint64_t acc = csum_add_bytes(0, &f[34], 22);
  acc += 0xC612 + 0x0001 + 0xC613 + 0x0002 + 6 + 22;
  EXPECT_EQ(csum_fold(acc), 0xFFFF);
  EXPECT_EQ(f[54], 'a');
}

TEST(Builder, VlanAndPadding) {
  const auto f = PacketBuilder()
                     .Eth()
                     .Vlan(300, 0x88A8, 5)
                     .Vlan(7)
                     .IPv4("198.18.0.1", "198.19.0.2")
                     .UDP(1, 2)
                     .PadTo(64)
                     .Build();
  ASSERT_EQ(f.size(), 64u);
  EXPECT_EQ(load_be16(&f[12]), 0x88A8);
  EXPECT_EQ(load_be16(&f[14]), (5 << 13) | 300);
  EXPECT_EQ(load_be16(&f[16]), 0x8100);
  EXPECT_EQ(load_be16(&f[20]), 0x0800);
  EXPECT_EQ(load_be16(&f[24]), 28);  // IP total length excludes padding
  EXPECT_EQ(load_be16(&f[46]), 8);   // UDP length
}

TEST(Builder, Ipv6ExtensionChain) {
  const auto f = PacketBuilder()
                     .Eth()
                     .IPv6("2001:db8::1", "2001:db8::2")
                     .Ipv6Ext(0)
                     .Ipv6Frag(8, true, 99)
                     .UDP(1, 2)
                     .Build();
  EXPECT_EQ(load_be16(&f[12]), 0x86DD);
  EXPECT_EQ(f[14] >> 4, 6);
  EXPECT_EQ(load_be16(&f[18]), 8 + 8 + 8);  // payload length
  EXPECT_EQ(f[20], 0);                      // next: hop-by-hop
  EXPECT_EQ(f[54], 44);                     // hop-by-hop -> fragment
  EXPECT_EQ(f[55], 0);                      // hdr ext len
  EXPECT_EQ(f[62], 17);                     // fragment -> UDP
  EXPECT_EQ(load_be16(&f[64]), 8 | 1);
  EXPECT_EQ(load_be32(&f[66]), 99u);
}

TEST(Builder, OverridesMakeHostilePackets) {
  const auto f = PacketBuilder()
                     .Eth()
                     .IPv4("198.18.0.1", "198.19.0.2",
                           {.version = 5,
                            .ihl = 3,
                            .total_length = 9,
                            .protocol = 99,
                            .checksum = 0xBEEF})
                     .Build();
  EXPECT_EQ(f[14], 0x53);
  EXPECT_EQ(load_be16(&f[16]), 9);
  EXPECT_EQ(f[23], 99);
  EXPECT_EQ(load_be16(&f[24]), 0xBEEF);
}

TEST(Builder, BadAddressThrows) {
  EXPECT_THROW(PacketBuilder().IPv4("198.18.0.256", "1.2.3.4"), std::invalid_argument);
  EXPECT_THROW(PacketBuilder().IPv6("2001:db8::g", "::1"), std::invalid_argument);
}

}  // namespace
}  // namespace nva::packet
