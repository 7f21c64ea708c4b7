// The DataPlane as built from options: ports by name, run on the calling
// thread, counters, and a service-table update through RCU that keeps
// existing connections on their backend.
#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include <set>
#include <string>
#include <vector>

#include "dataplane/dataplane.h"
#include "dataplane/packet/parse.h"
#include "tests/support/eal.h"
#include "tests/support/mbuf_util.h"
#include "tests/support/packet_builder.h"

namespace nva {
namespace {

using Bytes = std::vector<std::uint8_t>;
using packet::ipv4_from_string;
using packet::PacketBuilder;

lb::Service web(const char* backend) {
  lb::Service s;
  s.name = "web";
  s.vip = ipv4_from_string("198.19.0.10");
  s.port = 80;
  s.backends = {{ipv4_from_string(backend), 8080, 1, true}};
  return s;
}

class RingPair {
 public:
  explicit RingPair(const std::string& name) {
    rx_ = rte_ring_create((name + "_rx").c_str(), 256, SOCKET_ID_ANY, 0);
    tx_ = rte_ring_create((name + "_tx").c_str(), 256, SOCKET_ID_ANY, 0);
    const int port = rte_eth_from_rings(name.c_str(), &rx_, 1, &tx_, 1, SOCKET_ID_ANY);
    EXPECT_GE(port, 0);
    char dev[RTE_ETH_NAME_MAX_LEN] = {};
    rte_eth_dev_get_name_by_port(static_cast<std::uint16_t>(port), dev);
    name_ = dev;  // the ethdev's name, as the configuration would give it
  }
  const std::string& name() const { return name_; }
  ~RingPair() {
    void* m = nullptr;
    for (rte_ring* r : {rx_, tx_}) {
      while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
      rte_ring_free(r);
    }
  }
  void inject(rte_mempool* mp, const Bytes& f) {
    ASSERT_EQ(rte_ring_enqueue(rx_, test::mbuf_from_bytes(mp, f).release()), 0);
  }
  std::vector<packet::ParsedPacket> sent() {
    std::vector<packet::ParsedPacket> out;
    void* m = nullptr;
    while (rte_ring_dequeue(tx_, &m) == 0) {
      const Bytes b = test::bytes_from_mbuf(static_cast<rte_mbuf*>(m));
      rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
      packet::ParsedPacket p;
      EXPECT_EQ(packet::parse(b, p), packet::DropReason::kNone);
      out.push_back(p);
    }
    return out;
  }

 private:
  rte_ring* rx_ = nullptr;
  rte_ring* tx_ = nullptr;
  std::string name_;
};

// Four rings (two RX, two TX queues) and two-queue net_ring ports made on
// them: a DataPlane closes its ports, so each DataPlane gets a new port.
class TwoQueueRings {
 public:
  explicit TwoQueueRings(const std::string& name) {
    for (int i = 0; i < 4; ++i) {
      rings_[i] =
          rte_ring_create((name + std::to_string(i)).c_str(), 256, SOCKET_ID_ANY, 0);
      EXPECT_NE(rings_[i], nullptr);
    }
  }
  ~TwoQueueRings() {
    for (rte_ring* r : rings_) rte_ring_free(r);
  }
  // A new port on the rings; its ethdev name.
  std::string port(const std::string& name) {
    const int port =
        rte_eth_from_rings(name.c_str(), rings_, 2, rings_ + 2, 2, SOCKET_ID_ANY);
    EXPECT_GE(port, 0);
    char dev[RTE_ETH_NAME_MAX_LEN] = {};
    rte_eth_dev_get_name_by_port(static_cast<std::uint16_t>(port), dev);
    return dev;
  }

 private:
  rte_ring* rings_[4] = {};
};

// Options of the steering tests: two workers, small tables.
DataplaneOptions two_small_workers() {
  DataplaneOptions opts;
  opts.workers = 2;
  opts.connections = 64;
  opts.maglev_table_size = 307;
  return opts;
}

Bytes syn(std::uint16_t sport, std::uint8_t flags = 0x02) {
  return PacketBuilder()
      .Eth()
      .IPv4("203.0.113.5", "198.19.0.10")
      .TCP(sport, 80, {.flags = flags})
      .Build();
}

TEST(DataPlane, ServiceUpdateKeepsExistingConnections) {
  ASSERT_TRUE(test::EalEnvironment::running());
  RingPair port("nvat_dp0");
  auto pool = test::make_pktmbuf_pool();
  DataplaneOptions opts;
  opts.connections = 1024;
  opts.maglev_table_size = 307;
  opts.gateway_mac = "12:34:56:78:9a:bc";
  DataPlane dp(opts, conntrack::Timeouts{}, {web("198.18.2.1")}, {port.name()});

  port.inject(pool.get(), syn(1000));
  dp.run_until_idle(10);
  auto out = port.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ipv4_dst, ipv4_from_string("198.18.2.1"));

  dp.update_services({web("198.18.2.2")});   // backend replaced
  port.inject(pool.get(), syn(1000, 0x10));  // the existing connection
  port.inject(pool.get(), syn(2000));        // a new one
  dp.run_until_idle(10);
  out = port.sent();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].ipv4_dst, ipv4_from_string("198.18.2.1"));
  EXPECT_EQ(out[1].ipv4_dst, ipv4_from_string("198.18.2.2"));

  const CounterSnapshot s = dp.snapshot().total;
  EXPECT_EQ(s["rx"], 3u);
  EXPECT_EQ(s["tx"], 3u);
  EXPECT_EQ(s["connections_created"], 2u);
  EXPECT_EQ(s["connections"], 2u);
  EXPECT_EQ(s.dropped(), 0u);
  EXPECT_THROW((void)s["no_such_counter"], std::out_of_range);
}

// Every drop table of a worker by name (worker_drops(): what /nva/workers
// publishes), each name once, and snapshot() giving the same in the same
// order, per worker and summed: a parse fault, a checksum the translator refuses, a NAT
// drop and a fragment flushed at the end.
TEST(DataPlane, DropsAreNamedOncePerWorkerAndSummedByStats) {
  ASSERT_TRUE(test::EalEnvironment::running());
  RingPair port("nvat_dp_drops");
  auto pool = test::make_pktmbuf_pool();
  DataplaneOptions opts;
  opts.connections = 64;
  opts.maglev_table_size = 307;
  opts.gateway_mac = "12:34:56:78:9a:bc";
  DataPlane dp(opts, conntrack::Timeouts{}, {web("198.18.2.1")}, {port.name()});

  Bytes cut = syn(1000);
  cut.resize(cut.size() - 8);  // the IP total length now runs past the frame
  packet::ParsedPacket p;
  const packet::DropReason why = packet::parse(cut, p);
  ASSERT_NE(why, packet::DropReason::kNone);
  const Bytes bad_sum = PacketBuilder()
                            .Eth()
                            .IPv4("203.0.113.5", "198.19.0.10")
                            .TCP(1001, 80, {.checksum = 0x1234})
                            .Build();
  const Bytes wrong_port =
      PacketBuilder().Eth().IPv4("203.0.113.5", "198.19.0.10").TCP(1002, 81).Build();
  const Bytes lone_fragment =
      PacketBuilder()
          .Eth()
          .IPv4("203.0.113.5", "198.19.0.10", {.frag_offset = 1480, .protocol = 17})
          .Payload(64, 0x78)
          .Build();
  for (const Bytes& f : {cut, bad_sum, wrong_port, lone_fragment})
    port.inject(pool.get(), f);
  dp.run_until_idle(10);
  dp.flush_held();
  EXPECT_TRUE(port.sent().empty());

  const auto drops = worker_drops(dp.worker(0));
  std::set<std::string_view> names;
  std::uint64_t total = 0;
  for (const auto& [name, n] : drops) {
    EXPECT_TRUE(names.insert(name).second) << name << " twice";
    total += n;
  }
  // Every reason of the four tables ("none" is in two of them, once here)
  // and the worker's four (handoff_ring_full, tx_full and the SYN proxy's
  // held segments dropped: syn_proxy_held_full, syn_proxy_held_timeout).
  EXPECT_EQ(drops.size(), packet::kDropReasonCount + nat::kNatDropCount +
                              nat::kFragmentDropCount + 4 - 1);
  auto count = [&drops](std::string_view name) {
    for (const auto& [have, n] : drops)
      if (have == name) return n;
    ADD_FAILURE() << "no drop named " << name;
    return std::uint64_t{0};
  };
  EXPECT_EQ(count(packet::drop_reason_name(why)), 1u);
  EXPECT_EQ(count("l4_bad_checksum"), 1u);
  EXPECT_EQ(count("no_service"), 1u);
  EXPECT_EQ(count("fragment_timeout"), 1u);
  EXPECT_EQ(total, 4u);

  const DataPlaneSnapshot s = dp.snapshot();
  ASSERT_EQ(s.workers.size(), 1u);
  EXPECT_EQ(s.workers[0].drops, drops);
  EXPECT_EQ(s.total.drops, drops);
  EXPECT_EQ(s.total.dropped(), 4u);
  EXPECT_EQ(s.total["rx"], 4u);
  EXPECT_EQ(s.total.counters, worker_counters(dp.worker(0)));
}

// A port whose RSS cannot be read (net_ring has none) falls back to
// handoff, and says why; so does dataplane.rss_precalc = off.
TEST(DataPlane, SteeringFallsBackToHandoffWithTheReason) {
  ASSERT_TRUE(test::EalEnvironment::running());
  TwoQueueRings rings("nvat_dps");
  DataplaneOptions opts = two_small_workers();
  {
    const std::string dev = rings.port("nvat_dps0");
    DataPlane dp(opts, conntrack::Timeouts{}, {web("198.18.2.1")}, {dev});
    EXPECT_FALSE(dp.rss_precalc());
    EXPECT_EQ(dp.steering().rfind("software handoff (port " + dev, 0), 0u)
        << dp.steering();
    EXPECT_NE(dp.steering().find("no RSS"), std::string::npos) << dp.steering();
  }
  opts.rss_precalc = RssPrecalc::kOff;
  {
    DataPlane dp(opts, conntrack::Timeouts{}, {web("198.18.2.1")},
                 {rings.port("nvat_dps1")});
    EXPECT_EQ(dp.steering(), "software handoff (dataplane.rss_precalc = off)");
  }
}

// What the control plane's health check samples: the link of a port (set
// down and up through the ethdev API), free buffers, handoff drops.
TEST(DataPlane, HealthSamplesFollowTheLinkAndThePool) {
  ASSERT_TRUE(test::EalEnvironment::running());
  RingPair port("nvat_dph0");
  DataplaneOptions opts;
  opts.connections = 64;
  opts.maglev_table_size = 307;
  DataPlane dp(opts, conntrack::Timeouts{}, {web("198.18.2.1")}, {port.name()});
  const std::uint16_t id = dp.ports()[0].port_id;
  EXPECT_TRUE(dp.link_up(0));
  ASSERT_EQ(rte_eth_dev_set_link_down(id), 0);
  EXPECT_FALSE(dp.link_up(0));
  ASSERT_EQ(rte_eth_dev_set_link_up(id), 0);
  EXPECT_TRUE(dp.link_up(0));
  EXPECT_EQ(dp.mbufs_total(), dp.mbuf_budget().auto_size());
  EXPECT_GT(dp.mbufs_free(), 0u);
  EXPECT_LE(dp.mbufs_free(), dp.mbufs_total());
  EXPECT_EQ(dp.handoff_dropped(), 0u);
  EXPECT_EQ(dp.active_connections(), 0u);
}

// The pool is sized from, or checked against, everything that can hold
// packet buffers at once; too few is refused with the sum spelled out.
TEST(DataPlane, PacketPoolIsSizedForWhatCanHoldBuffers) {
  ASSERT_TRUE(test::EalEnvironment::running());
  TwoQueueRings rings("nvat_dpm");
  DataplaneOptions opts = two_small_workers();
  {
    DataPlane dp(opts, conntrack::Timeouts{}, {web("198.18.2.1")},
                 {rings.port("nvat_dpm0")});
    const MbufBudget& b = dp.mbuf_budget();
    EXPECT_EQ(b.rx_descriptors, 2u * 1024u);  // two queues of 1024
    EXPECT_EQ(b.tx_descriptors, 2u * 1024u);
    EXPECT_EQ(b.handoff_rings, 2u * opts.handoff_ring_size);
    EXPECT_EQ(b.fragments, 2u * DataplaneOptions::kFragmentMbufsPerWorker);
    EXPECT_GE(dp.mbufs_total(), b.total() + b.total() / 4);
    EXPECT_EQ(dp.mbufs_total(), b.auto_size());
  }
  opts.mbufs = 1023;
  try {
    DataPlane dp(opts, conntrack::Timeouts{}, {web("198.18.2.1")},
                 {rings.port("nvat_dpm1")});
    ADD_FAILURE() << "a pool of 1023 for two workers was accepted";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("dataplane.mbufs = 1023 is fewer packet buffers", 0), 0u)
        << what;
    EXPECT_NE(what.find("handoff rings 8192"), std::string::npos) << what;
    EXPECT_NE(what.find("raise it to at least"), std::string::npos) << what;
  }
}

// net_ring has no rte_flow: one line per port says every class falls back
// and why (the PMD's rejection), the steering line is unchanged; with
// dataplane.rss_flow = off the line says so.
TEST(DataPlane, RteFlowFallsBackPerClassWithTheReason) {
  ASSERT_TRUE(test::EalEnvironment::running());
  TwoQueueRings rings("nvat_dpf");
  DataplaneOptions opts = two_small_workers();
  {
    const std::string dev = rings.port("nvat_dpf0");
    DataPlane dp(opts, conntrack::Timeouts{}, {web("198.18.2.1")}, {dev});
    ASSERT_EQ(dp.flow_lines().size(), 1u);
    const std::string& l = dp.flow_lines()[0];
    EXPECT_EQ(
        l.rfind("rte_flow on port " + dev +
                    " (net_ring): steers none; falls back: "
                    "vip -> handoff, snat-return -> handoff, dnat-return -> handoff (",
                0),
        0u)
        << l;
    EXPECT_NE(l.find("rte_flow_validate: "), std::string::npos) << l;
    EXPECT_FALSE(dp.rss_flow(steer::FlowClass::kVip));
    EXPECT_FALSE(dp.rss_flow(steer::FlowClass::kSnatReturn));
    EXPECT_FALSE(dp.rss_flow(steer::FlowClass::kDnatReturn));
    EXPECT_EQ(dp.steering().rfind("software handoff (port " + dev, 0), 0u)
        << dp.steering();
    dp.update_services({web("198.18.2.2")});  // nothing installed: nothing to update
  }
  opts.rss_flow = RssFlow::kOff;
  {
    const std::string dev = rings.port("nvat_dpf1");
    DataPlane dp(opts, conntrack::Timeouts{}, {web("198.18.2.1")}, {dev});
    ASSERT_EQ(dp.flow_lines().size(), 1u);
    EXPECT_EQ(dp.flow_lines()[0],
              "rte_flow on port " + dev + " (net_ring): off (dataplane.rss_flow = off)");
  }
}

TEST(DataPlane, UnknownPortIsNamedInTheError) {
  ASSERT_TRUE(test::EalEnvironment::running());
  DataplaneOptions opts;
  opts.connections = 64;
  opts.maglev_table_size = 307;
  try {
    DataPlane dp(opts, conntrack::Timeouts{}, {web("198.18.2.1")}, {"net_nosuch0"});
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no ethdev named 'net_nosuch0'"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace nva
