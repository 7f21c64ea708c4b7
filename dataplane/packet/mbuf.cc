// Parsing of packets in rte_mbufs (single- and multi-segment).
#include "dataplane/packet/mbuf.h"

namespace nva::packet {

DropReason parse_mbuf(const rte_mbuf* m, ParsedPacket& out) noexcept {
  return parse({rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len}, m->pkt_len, out);
}

}  // namespace nva::packet
