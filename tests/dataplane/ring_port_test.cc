// A real ethdev (net_ring vdev, looped back): configure, send packets built
// by the builder, receive them, parse them from the mbufs.
#include <gtest/gtest.h>
#include <rte_ethdev.h>

#include <chrono>
#include <thread>

#include "dataplane/packet/mbuf.h"
#include "tests/support/eal.h"
#include "tests/support/mbuf_util.h"
#include "tests/support/packet_builder.h"

namespace nva::packet {
namespace {

TEST(RingPort, LoopbackCarriesParsedPackets) {
  ASSERT_TRUE(test::EalEnvironment::running());
  std::uint16_t port = 0;
  ASSERT_EQ(rte_eth_dev_get_port_by_name("net_ring0", &port), 0);
  auto pool = test::make_pktmbuf_pool();

  rte_eth_conf conf{};
  ASSERT_EQ(rte_eth_dev_configure(port, 1, 1, &conf), 0);
  ASSERT_EQ(rte_eth_rx_queue_setup(port, 0, 128, rte_eth_dev_socket_id(port), nullptr,
                                   pool.get()),
            0);
  ASSERT_EQ(rte_eth_tx_queue_setup(port, 0, 128, rte_eth_dev_socket_id(port), nullptr),
            0);
  ASSERT_EQ(rte_eth_dev_start(port), 0);

  constexpr int kPackets = 32;
  rte_mbuf* tx[kPackets];
  for (int i = 0; i < kPackets; ++i) {
    const auto f = PacketBuilder()
                       .Eth()
                       .IPv4("198.18.0.1", "198.19.0.1")
                       .UDP(static_cast<std::uint16_t>(10000 + i), 53)
                       .Payload("probe")
                       .Build();
    tx[i] = test::mbuf_from_bytes(pool.get(), f).release();
    ASSERT_NE(tx[i], nullptr);
  }
  ASSERT_EQ(rte_eth_tx_burst(port, 0, tx, kPackets), kPackets);

  rte_mbuf* rx[kPackets];
  int got = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (got < kPackets && std::chrono::steady_clock::now() < deadline) {
    const int n =
        rte_eth_rx_burst(port, 0, rx + got, static_cast<std::uint16_t>(kPackets - got));
    if (n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    got += n;
  }
  ASSERT_EQ(got, kPackets);
  for (int i = 0; i < got; ++i) {
    ParsedPacket p;
    EXPECT_EQ(parse_mbuf(rx[i], p), DropReason::kNone);
    EXPECT_EQ(p.src_port, 10000 + i);  // a ring keeps order
    EXPECT_EQ(p.dst_port, 53);
    rte_pktmbuf_free(rx[i]);
  }

  rte_eth_stats st{};
  ASSERT_EQ(rte_eth_stats_get(port, &st), 0);
  EXPECT_EQ(st.opackets, static_cast<std::uint64_t>(kPackets));
  EXPECT_EQ(st.ipackets, static_cast<std::uint64_t>(kPackets));
  ASSERT_EQ(rte_eth_dev_stop(port), 0);
  // The port is closed by rte_eal_cleanup(); all mbufs are back in the pool
  // before it is freed.
  EXPECT_EQ(rte_mempool_in_use_count(pool.get()), 0u);
}

}  // namespace
}  // namespace nva::packet
