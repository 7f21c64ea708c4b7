// The pipeline benchmarks' packet generator: one cached 60-byte TCP packet
// from client 10.0.0.0 to the VIP, rewritten per flow (client 10.0.0.0 + f)
// with incremental checksum fixes, so the generator's cost stays small and
// the same in every benchmark (it is inside every figure).
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"
#include "tests/support/packet_builder.h"

namespace nva::bench {

inline constexpr std::uint32_t kClientBase =
    0x0A000000;  // flows: 10.0.0.0 + i (test data)

// Every flow's sequence numbers: the client's SYN carries kClientIsn, the
// backend's SYN-ACK kBackendIsn (and acknowledges the SYN), and the
// client's segments acknowledge the SYN-ACK, as the connection tracking's
// sequence checks require of a handshake (dataplane/conntrack/state.h).
inline constexpr std::uint32_t kClientIsn = 1000, kBackendIsn = 5000;

class FlowPackets {
 public:
  FlowPackets(const char* vip, std::uint16_t port)
      : tmpl_(packet::PacketBuilder()
                  .Eth()
                  .IPv4("10.0.0.0", vip)
                  .TCP(40000, port,
                       {.flags = 0x10, .seq = kClientIsn, .ack = kBackendIsn + 1})
                  .PadTo(60)
                  .Build()) {}

  std::size_t size() const { return tmpl_.size(); }
  const std::vector<std::uint8_t>& bytes() const { return tmpl_; }

  // Writes flow `f`'s packet (client 10.0.0.0 + f, TCP flags) into m, whose
  // data length is size().
  void write(rte_mbuf* m, std::uint32_t f, std::uint8_t flags) const {
    std::uint8_t* d = rte_pktmbuf_mtod(m, std::uint8_t*);
    std::memcpy(d, tmpl_.data(), tmpl_.size());
    const std::uint32_t src = kClientBase + f;
    packet::store_be32(d + 26, src);
    packet::store_be16(
        d + 24, packet::csum_replace32(packet::load_be16(d + 24), kClientBase, src));
    d[47] = flags;
    std::uint16_t tcp_ck =
        packet::csum_replace32(packet::load_be16(d + 50), kClientBase, src);
    tcp_ck = packet::csum_replace16(tcp_ck, 0x10, flags);
    packet::store_be16(d + 50, tcp_ck);
  }

 private:
  std::vector<std::uint8_t> tmpl_;
};

}  // namespace nva::bench
