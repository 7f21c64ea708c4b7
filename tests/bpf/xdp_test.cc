// The XDP program through its libbpf skeleton: verifier load and test runs.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "nva_xdp.skel.h"
#include "tests/support/packet_builder.h"

namespace nva::bpf {
namespace {

struct SkelFree {
  void operator()(nva_xdp* s) const noexcept { nva_xdp__destroy(s); }
};

struct Counter {
  __u64 packets;
  __u64 bytes;
};

class XdpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "loading BPF programs needs root";
    skel_.reset(nva_xdp__open_and_load());
    ASSERT_TRUE(skel_) << "open/load (verifier) failed: " << std::strerror(errno);
  }

  int run(std::vector<std::uint8_t> frame, int repeat) {
    // LIBBPF_OPTS in plain C++ (the macro is a C compound literal).
    bpf_test_run_opts opts{};
    opts.sz = sizeof(opts);
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<__u32>(frame.size());
    opts.repeat = repeat;
    const int err =
        bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.nva_xdp_main), &opts);
    EXPECT_EQ(err, 0) << std::strerror(errno);
    return static_cast<int>(opts.retval);
  }

  Counter pass_counter() {
    const int ncpu = libbpf_num_possible_cpus();
    std::vector<Counter> per_cpu(static_cast<std::size_t>(ncpu));
    const __u32 key = 0;
    EXPECT_EQ(bpf_map__lookup_elem(skel_->maps.nva_xdp_stats, &key, sizeof key,
                                   per_cpu.data(), per_cpu.size() * sizeof(Counter), 0),
              0);
    Counter sum{};
    for (const auto& c : per_cpu) {
      sum.packets += c.packets;
      sum.bytes += c.bytes;
    }
    return sum;
  }

  std::unique_ptr<nva_xdp, SkelFree> skel_;
};

TEST_F(XdpTest, PassesAndCountsPackets) {
  const auto frame = packet::PacketBuilder()
                         .Eth()
                         .IPv4("198.18.0.1", "198.19.0.1")
                         .UDP(1, 2)
                         .Payload("xdp")
                         .Build();
  EXPECT_EQ(run(frame, 1), XDP_PASS);
  EXPECT_EQ(run(frame, 9), XDP_PASS);
  const Counter c = pass_counter();
  EXPECT_EQ(c.packets, 10u);
  EXPECT_EQ(c.bytes, 10u * frame.size());
}

TEST_F(XdpTest, PassesNonIpAndTinyFrames) {
  EXPECT_EQ(run(std::vector<std::uint8_t>(14, 0), 1), XDP_PASS);
  EXPECT_EQ(
      run(packet::PacketBuilder().Eth({.ethertype = 0x0806}).Payload(28, 0).Build(), 1),
      XDP_PASS);
  EXPECT_EQ(pass_counter().packets, 2u);
}

}  // namespace
}  // namespace nva::bpf
