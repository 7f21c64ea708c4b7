// Parsing packets in real rte_mbufs (single and chained), the mbuf helpers,
// and the packet core's checksums cross-checked against DPDK's own.
#include <gtest/gtest.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <random>

#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"
#include "dataplane/packet/mbuf.h"
#include "dataplane/packet/rewrite.h"
#include "tests/support/eal.h"
#include "tests/support/mbuf_util.h"
#include "tests/support/packet_builder.h"

namespace nva::packet {
namespace {

using test::bytes_from_mbuf;
using test::mbuf_from_bytes;

class MbufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test::EalEnvironment::running());
    pool_ = test::make_pktmbuf_pool();
  }
  test::MempoolPtr pool_;
};

TEST_F(MbufTest, RoundTripSingleAndChained) {
  const auto f = PacketBuilder()
                     .Eth()
                     .IPv4("198.18.0.1", "198.19.0.1")
                     .UDP(1, 2)
                     .Payload(300, 0x77)
                     .Build();
  for (std::size_t seg :
       {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{64}, f.size()}) {
    auto m = mbuf_from_bytes(pool_.get(), f, seg);
    ASSERT_TRUE(m) << seg;
    EXPECT_EQ(m->pkt_len, f.size());
    if (seg != 0) {
      EXPECT_EQ(m->nb_segs, (f.size() + seg - 1) / seg) << seg;
    }
    EXPECT_EQ(bytes_from_mbuf(m.get()), f) << "segments of " << seg;
  }
}

TEST_F(MbufTest, EmptyPacket) {
  auto m = mbuf_from_bytes(pool_.get(), {});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->pkt_len, 0u);
  EXPECT_TRUE(bytes_from_mbuf(m.get()).empty());
  ParsedPacket p;
  EXPECT_EQ(parse_mbuf(m.get(), p), DropReason::kEthTruncated);
}

TEST_F(MbufTest, TooLargeForOneSegmentIsRefused) {
  const std::vector<std::uint8_t> big(RTE_MBUF_DEFAULT_BUF_SIZE + 1, 0);
  EXPECT_FALSE(mbuf_from_bytes(pool_.get(), big));
  EXPECT_TRUE(mbuf_from_bytes(pool_.get(), big, 1024));
}

TEST_F(MbufTest, ParseChainedMbuf) {
  const auto f = PacketBuilder()
                     .Eth()
                     .IPv4("198.18.0.1", "198.19.0.1")
                     .TCP(1234, 80)
                     .Payload(1000, 1)
                     .Build();
  // Headers in the first 128-byte segment: parses, L3 end from pkt_len.
  auto m = mbuf_from_bytes(pool_.get(), f, 128);
  ASSERT_TRUE(m);
  ASSERT_GT(m->nb_segs, 1);
  ParsedPacket p;
  ASSERT_EQ(parse_mbuf(m.get(), p), DropReason::kNone);
  EXPECT_EQ(p.l3_end, f.size());
  EXPECT_EQ(p.dst_port, 80);
  // Headers cut by a 40-byte first segment: reported, not misparsed.
  auto split = mbuf_from_bytes(pool_.get(), f, 40);
  ASSERT_TRUE(split);
  EXPECT_EQ(parse_mbuf(split.get(), p), DropReason::kHeadersSplit);
}

TEST_F(MbufTest, RewriteInMbufFirstSegment) {
  const auto f = PacketBuilder()
                     .Eth()
                     .IPv4("198.18.0.1", "198.19.0.1")
                     .TCP(1234, 80)
                     .Payload("x")
                     .Build();
  auto m = mbuf_from_bytes(pool_.get(), f);
  ParsedPacket p;
  ASSERT_EQ(parse_mbuf(m.get(), p), DropReason::kNone);
  rewrite_ipv4(first_segment(m.get()), p,
               {.fields = kRewriteDstAddr, .dst_addr = ipv4_from_string("198.18.5.5")});
  EXPECT_EQ(bytes_from_mbuf(m.get()), PacketBuilder()
                                          .Eth()
                                          .IPv4("198.18.0.1", "198.18.5.5")
                                          .TCP(1234, 80)
                                          .Payload("x")
                                          .Build());
}

// Our full checksums agree with DPDK's rte_ipv4_cksum and
// rte_ipv4_udptcp_cksum on random packets.
TEST_F(MbufTest, ChecksumsAgreeWithDpdk) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const bool tcp = rng() % 2 == 0;
    PacketBuilder b;
    const std::string src =
        "198.18." + std::to_string(rng() % 256) + "." + std::to_string(rng() % 256);
    b.Eth().IPv4(src, "198.19.0.1", {.ttl = static_cast<std::uint8_t>(rng())});
    if (tcp) {
      b.TCP(static_cast<std::uint16_t>(rng()), 443);
    } else {
      b.UDP(static_cast<std::uint16_t>(rng()), 53);
    }
    std::vector<std::uint8_t> payload(rng() % 300);
    for (auto& x : payload) x = static_cast<std::uint8_t>(rng());
    auto f = b.Payload(payload).Build();
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f.data() + 14);
    const std::uint16_t ours_ip = load_be16(f.data() + 24);
    ip->hdr_checksum = 0;
    EXPECT_EQ(rte_be_to_cpu_16(rte_ipv4_cksum(ip)), ours_ip) << i;
    ip->hdr_checksum = rte_cpu_to_be_16(ours_ip);
    std::uint8_t* l4 = f.data() + 34;
    const std::size_t field = tcp ? 16 : 6;
    const std::uint16_t ours_l4 = load_be16(l4 + field);
    store_be16(l4 + field, 0);
    std::uint16_t dpdk = rte_be_to_cpu_16(rte_ipv4_udptcp_cksum(ip, l4));
    EXPECT_EQ(dpdk, ours_l4) << i;  // both map a UDP zero to 0xFFFF
  }
}

}  // namespace
}  // namespace nva::packet
