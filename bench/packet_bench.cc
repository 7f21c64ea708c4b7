// Packet-core micro benchmarks: parse and NAT rewrite, ns per packet.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"
#include "dataplane/packet/parse.h"
#include "dataplane/packet/rewrite.h"
#include "tests/support/packet_builder.h"

namespace nva::packet {
namespace {

// A minimum-size TCP frame: 60 bytes here, 64 on the wire with the FCS.
std::vector<std::uint8_t> tcp64() {
  return PacketBuilder()
      .Eth()
      .IPv4("198.18.0.10", "198.19.255.1")
      .TCP(40000, 443, {.flags = 0x10})
      .PadTo(60)
      .Build();
}

void BM_ParseTcp64(benchmark::State& state) {
  const auto frame = tcp64();
  ParsedPacket p;
  for (auto _ : state) {
    benchmark::DoNotOptimize(frame.data());
    const DropReason r = parse(frame, p);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * 64);
}
BENCHMARK(BM_ParseTcp64);

// DNAT+SNAT of a parsed packet: two addresses, two ports, incremental IPv4
// and TCP checksums. Alternates between two rewrites so every iteration
// really changes the bytes.
void BM_RewriteIncremental(benchmark::State& state) {
  auto frame = tcp64();
  ParsedPacket p;
  (void)parse(frame, p);
  const Ipv4Rewrite fwd{
      .fields = kRewriteSrcAddr | kRewriteDstAddr | kRewriteSrcPort | kRewriteDstPort,
      .src_addr = ipv4_from_string("198.18.1.1"),
      .dst_addr = ipv4_from_string("198.18.2.20"),
      .src_port = 1025,
      .dst_port = 8443};
  const Ipv4Rewrite back{.fields = fwd.fields,
                         .src_addr = p.ipv4_src,
                         .dst_addr = p.ipv4_dst,
                         .src_port = p.src_port,
                         .dst_port = p.dst_port};
  bool flip = false;
  for (auto _ : state) {
    rewrite_ipv4(frame, p, flip ? back : fwd);
    flip = !flip;
    benchmark::DoNotOptimize(frame.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RewriteIncremental);

// The same four-field rewrite with full checksum recomputation instead, for
// comparison; its cost grows with the payload (argument: frame length).
void BM_RewriteFullRecompute(benchmark::State& state) {
  const auto len = static_cast<std::size_t>(state.range(0));
  auto frame = PacketBuilder()
                   .Eth()
                   .IPv4("198.18.0.10", "198.19.255.1")
                   .TCP(40000, 443, {.flags = 0x10})
                   .Payload(len - 54, 0xAB)
                   .Build();
  ParsedPacket p;
  (void)parse(frame, p);
  std::uint32_t src = ipv4_from_string("198.18.1.1");
  const std::uint32_t dst = ipv4_from_string("198.18.2.20");
  for (auto _ : state) {
    std::uint8_t* ip = frame.data() + p.l3_offset;
    std::uint8_t* tcp = frame.data() + p.l4_offset;
    src ^= 1;
    store_be32(ip + 12, src);
    store_be32(ip + 16, dst);
    store_be16(tcp, 1025);
    store_be16(tcp + 2, 8443);
    store_be16(ip + 10, ipv4_header_checksum(ip, 20));
    store_be16(tcp + 16, ipv4_l4_checksum(tcp, p.l3_end - p.l4_offset, 16, src, dst, 6));
    benchmark::DoNotOptimize(frame.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RewriteFullRecompute)->Arg(60)->Arg(1514);

// The per-packet work of a lookup hit: parse, TTL decrement, DNAT rewrite.
// Each iteration starts from a fresh copy of the frame (a 60-byte memcpy,
// included in the figure) so the TTL never runs out.
void BM_ParseTtlRewrite(benchmark::State& state) {
  const auto pristine = tcp64();
  auto frame = pristine;
  ParsedPacket p;
  const std::uint32_t backend = ipv4_from_string("198.18.2.20");
  for (auto _ : state) {
    std::copy(pristine.begin(), pristine.end(), frame.begin());
    if (parse(frame, p) != DropReason::kNone) state.SkipWithError("parse failed");
    if (!ipv4_decrement_ttl(frame, p)) state.SkipWithError("ttl");
    rewrite_ipv4(frame, p, {.fields = kRewriteDstAddr, .dst_addr = backend});
    benchmark::DoNotOptimize(frame.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseTtlRewrite);

}  // namespace
}  // namespace nva::packet
