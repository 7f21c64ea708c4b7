// Parsing and rewriting packets held in DPDK rte_mbufs.
#pragma once

#include <rte_mbuf.h>

#include <span>

#include "dataplane/packet/parse.h"

namespace nva::packet {

// The bytes of the first segment: where the parser and rewrites work.
inline std::span<std::uint8_t> first_segment(rte_mbuf* m) noexcept {
  return {rte_pktmbuf_mtod(m, std::uint8_t*), m->data_len};
}

// Parses the headers of `m`. They must lie in the first segment (every PMD
// here receives headers contiguously); a multi-segment packet whose headers
// run past the first segment gives kHeadersSplit rather than a misparse.
// The IP datagram may extend into later segments: l3_end is then checked
// against the whole packet length.
// Inline, with parse()'s common case (parse_fast()) in the caller's loop.
inline DropReason parse_mbuf(const rte_mbuf* m, ParsedPacket& out) noexcept {
  const std::span<const std::uint8_t> seg{rte_pktmbuf_mtod(m, const std::uint8_t*),
                                          m->data_len};
  const std::size_t total = m->pkt_len > seg.size() ? m->pkt_len : seg.size();
  if (parse_fast(seg, total, out)) return DropReason::kNone;
  return parse_full(seg, total, out);
}

}  // namespace nva::packet
