// Frame parser: Ethernet, VLAN stack, IPv4/IPv6 (options, extension headers),
// TCP/UDP/ICMP/ICMPv6, all through bounded views.
#include "dataplane/packet/parse.h"

#include "dataplane/packet/headers.h"

namespace nva::packet {

namespace {

// The bytes the parser may read (`buf`, contiguous) and the packet's whole
// length (`total`, >= buf.size(); larger only for multi-segment mbufs).
// Length fields are checked against `total`, header reads against `buf`; a
// header that fits `total` but not `buf` is split across segments.
struct Frame {
  std::span<const std::uint8_t> buf;
  std::size_t total;
  // An IP packet quoted in an ICMP error: usually cut short by the sender
  // (RFC 792 guarantees the IP header and 8 bytes), so the datagram end is
  // clamped to the buffer and only the first 8 L4 bytes are required.
  bool quoted = false;

  // Why `need` bytes from the start could not be read: split when the packet
  // (bounded by `limit`, e.g. the IP datagram's end) does have them.
  DropReason cut(DropReason truncated, std::size_t need,
                 std::size_t limit) const noexcept {
    return need > buf.size() && need <= limit && need <= total ? DropReason::kHeadersSplit
                                                               : truncated;
  }
  std::span<const std::uint8_t> upto(std::size_t end) const noexcept {
    return buf.first(end < buf.size() ? end : buf.size());
  }
};

bool is_vlan_tpid(std::uint16_t et) noexcept {
  return et == ethertype::kVlan || et == ethertype::kQinQ || et == ethertype::kQinQOld;
}

// IPv4 options are TLVs: EOL (0) ends the list, NOP (1) is one byte, every
// other option has a length byte >= 2 that must stay inside the header.
bool ipv4_options_ok(const std::uint8_t* opt, std::size_t len) noexcept {
  std::size_t i = 0;
  while (i < len) {
    const std::uint8_t type = opt[i];
    if (type == 0) return true;
    if (type == 1) {
      ++i;
      continue;
    }
    if (len - i < 2) return false;
    const std::uint8_t olen = opt[i + 1];
    if (olen < 2 || olen > len - i) return false;
    i += olen;
  }
  return true;
}

// Fills the L4 facts of `out` from the header at out.l4_offset, bounded by
// out.l3_end. A first fragment must hold the whole L4 header.
DropReason parse_l4(const Frame& f, ParsedPacket& out) noexcept {
  const auto l3 = f.upto(out.l3_end);
  const std::uint32_t avail = out.l3_end - out.l4_offset;
  switch (out.l4_proto) {
    case ipproto::kTcp: {
      if (f.quoted) break;  // ports only: see below
      const auto tcp = TcpView::at(l3, out.l4_offset);
      if (!tcp) {
        return f.cut(DropReason::kTcpTruncated, out.l4_offset + kTcpMinHeaderLen,
                     out.l3_end);
      }
      if (tcp->data_offset() < 5 || tcp->header_len() > avail) {
        return DropReason::kTcpBadDataOffset;
      }
      // Options, too, must be readable where the header starts.
      if (tcp->header_len() > l3.size() - out.l4_offset) return DropReason::kHeadersSplit;
      out.has_ports = true;
      out.src_port = tcp->src_port();
      out.dst_port = tcp->dst_port();
      out.tcp_flags = tcp->flags();
      return DropReason::kNone;
    }
    case ipproto::kUdp: {
      if (f.quoted) break;
      const auto udp = UdpView::at(l3, out.l4_offset);
      if (!udp)
        return f.cut(DropReason::kUdpTruncated, out.l4_offset + kUdpHeaderLen,
                     out.l3_end);
      // In a first fragment the UDP length covers the whole datagram.
      if (udp->length() < kUdpHeaderLen ||
          (out.frag == FragState::kNone && udp->length() > avail)) {
        return DropReason::kUdpBadLength;
      }
      out.has_ports = true;
      out.src_port = udp->src_port();
      out.dst_port = udp->dst_port();
      return DropReason::kNone;
    }
    case ipproto::kIcmp:
    case ipproto::kIcmpv6: {
      const bool v6 = out.l4_proto == ipproto::kIcmpv6;
      // ICMP belongs to IPv4 and ICMPv6 to IPv6; the other way round it is
      // an unknown protocol.
      if (v6 != (out.l3 == L3Kind::kIpv6)) return DropReason::kNone;
      const auto icmp = IcmpView::at(l3, out.l4_offset);
      if (!icmp) {
        return f.cut(v6 ? DropReason::kIcmpv6Truncated : DropReason::kIcmpTruncated,
                     out.l4_offset + kIcmpHeaderLen, out.l3_end);
      }
      out.icmp_type = icmp->type();
      out.icmp_code = icmp->code();
      out.is_icmp_echo =
          v6 ? (out.icmp_type == icmpv6::kEchoRequest ||
                out.icmp_type == icmpv6::kEchoReply)
             : (out.icmp_type == icmp::kEchoRequest || out.icmp_type == icmp::kEchoReply);
      if (out.is_icmp_echo) out.icmp_echo_id = icmp->echo_id();
      return DropReason::kNone;
    }
    default:
      return DropReason::kNone;  // other protocols: no L4 facts, not an error
  }
  // A quoted TCP or UDP header: its first 8 bytes hold both ports.
  const auto head = UdpView::at(l3, out.l4_offset);
  if (!head) {
    return out.l4_proto == ipproto::kTcp ? DropReason::kTcpTruncated
                                         : DropReason::kUdpTruncated;
  }
  out.has_ports = true;
  out.src_port = head->src_port();
  out.dst_port = head->dst_port();
  return DropReason::kNone;
}

DropReason parse_ipv4(const Frame& f, std::size_t off, ParsedPacket& out) noexcept {
  const auto ip = Ipv4View::at(f.buf, off);
  if (!ip) return f.cut(DropReason::kIpv4Truncated, off + kIpv4MinHeaderLen, f.total);
  if (ip->version() != 4) return DropReason::kIpv4BadVersion;
  if (ip->ihl() < 5) return DropReason::kIpv4BadIhl;
  const std::size_t hlen = ip->header_len();
  std::size_t total = ip->total_length();
  if (total < hlen) return DropReason::kIpv4BadTotalLength;
  if (total > f.total - off) {
    if (!f.quoted) return DropReason::kIpv4BadTotalLength;
    total = f.total - off;  // the quote ends where the ICMP message ends
    if (total < hlen) return DropReason::kIpv4Truncated;
  }
  if (f.buf.size() - off < hlen) {
    return f.cut(DropReason::kIpv4Truncated, off + hlen, f.total);
  }
  if (!ipv4_options_ok(f.buf.data() + off + kIpv4MinHeaderLen,
                       hlen - kIpv4MinHeaderLen)) {
    return DropReason::kIpv4BadOptions;
  }
  out.l3 = L3Kind::kIpv4;
  out.l3_offset = static_cast<std::uint32_t>(off);
  out.l4_offset = static_cast<std::uint32_t>(off + hlen);
  out.l3_end = static_cast<std::uint32_t>(off + total);
  out.l4_proto = ip->protocol();
  out.ttl = ip->ttl();
  out.ipv4_src = ip->src();
  out.ipv4_dst = ip->dst();
  out.frag_id = ip->id();
  out.frag_offset = ip->fragment_offset();
  out.more_fragments = ip->more_fragments();
  // The reassembled datagram (header included) may not exceed 65535 bytes.
  if (out.frag_offset + ip->total_length() > 65535) return DropReason::kIpv4BadFragment;
  // RFC 1858: a TCP fragment at offset 8 can overwrite the first fragment's
  // ports and flags; drop it.
  if (out.frag_offset == 8 && out.l4_proto == ipproto::kTcp) {
    return DropReason::kTcpFragmentOverlap;
  }
  if (out.frag_offset > 0) {
    out.frag = FragState::kLater;
    return DropReason::kNone;
  }
  out.frag = ip->more_fragments() ? FragState::kFirst : FragState::kNone;
  return parse_l4(f, out);
}

bool is_ipv6_ext(std::uint8_t nh) noexcept {
  switch (nh) {
    case ipproto::kHopByHop:
    case ipproto::kRouting:
    case ipproto::kFragment:
    case ipproto::kDestOpts:
    case ipproto::kAh:
    case ipproto::kMobility:
      return true;
    default:
      return false;
  }
}

DropReason parse_ipv6(const Frame& f, std::size_t off, ParsedPacket& out) noexcept {
  const auto ip = Ipv6View::at(f.buf, off);
  if (!ip) return f.cut(DropReason::kIpv6Truncated, off + kIpv6HeaderLen, f.total);
  if (ip->version() != 6) return DropReason::kIpv6BadVersion;
  const std::size_t plen = ip->payload_length();
  // plen == 0 would be a jumbogram (RFC 2675), which Ethernet cannot carry.
  if (plen == 0 && ip->next_header() == ipproto::kHopByHop) {
    return DropReason::kIpv6BadPayloadLength;
  }
  std::size_t datagram = kIpv6HeaderLen + plen;
  if (datagram > f.total - off) {
    if (!f.quoted) return DropReason::kIpv6BadPayloadLength;
    datagram = f.total - off;  // the quote ends where the ICMPv6 message ends
  }
  out.l3 = L3Kind::kIpv6;
  out.l3_offset = static_cast<std::uint32_t>(off);
  out.l3_end = static_cast<std::uint32_t>(off + datagram);
  out.ttl = ip->hop_limit();

  const std::uint8_t* const base = f.buf.data();
  const std::size_t end = out.l3_end;
  const std::size_t readable = f.upto(end).size();
  std::size_t pos = off + kIpv6HeaderLen;
  std::uint8_t nh = ip->next_header();
  unsigned count = 0;
  bool later_fragment = false;
  while (is_ipv6_ext(nh)) {
    if (count == kMaxIpv6ExtHeaders) return DropReason::kIpv6ExtTooMany;
    if (nh == ipproto::kHopByHop && count != 0) {
      return DropReason::kIpv6HopByHopNotFirst;
    }
    if (end - pos < 8) return DropReason::kIpv6ExtTruncated;  // all are >= 8
    if (readable - pos < 8) return DropReason::kHeadersSplit;
    const std::uint8_t* h = base + pos;
    std::size_t hlen;
    if (nh == ipproto::kFragment) {
      if (out.ipv6_frag_hdr_offset != 0) return DropReason::kIpv6BadFragment;
      hlen = 8;
      out.ipv6_frag_hdr_offset = static_cast<std::uint32_t>(pos);
      out.frag_offset = load_be16(h + 2) & 0xFFF8u;
      out.frag_id = load_be32(h + 4);
      const bool more = (h[3] & 1) != 0;
      out.more_fragments = more;
      // RFC 8200 4.5: the reassembled payload (unfragmentable headers, then
      // offset plus this fragment's data) may not exceed 65535 bytes.
      const std::size_t unfragmentable = pos - (off + kIpv6HeaderLen);
      if (unfragmentable + out.frag_offset + (end - pos - hlen) > 65535) {
        return DropReason::kIpv6BadFragment;
      }
      if (out.frag_offset == 8 && h[0] == ipproto::kTcp) {
        return DropReason::kTcpFragmentOverlap;  // RFC 1858, as for IPv4
      }
      if (out.frag_offset > 0) {
        out.frag = FragState::kLater;
        later_fragment = true;
      } else {
        out.frag = more ? FragState::kFirst : FragState::kNone;
      }
    } else if (nh == ipproto::kAh) {
      hlen = (std::size_t{h[1]} + 2) * 4;  // RFC 4302: 4-octet units, minus 2
      // At least the 12 fixed bytes, and 8-octet aligned in IPv6.
      if (hlen < 12 || hlen % 8 != 0) return DropReason::kIpv6BadExtLength;
    } else {
      hlen = (std::size_t{h[1]} + 1) * 8;  // RFC 8200: 8-octet units, minus 1
    }
    if (hlen > end - pos) return DropReason::kIpv6ExtTruncated;
    if (hlen > readable - pos) return DropReason::kHeadersSplit;
    nh = h[0];
    pos += hlen;
    ++count;
    // A later fragment's payload is not a header: stop walking here.
    if (later_fragment) break;
  }
  out.l4_proto = nh;
  out.l4_offset = static_cast<std::uint32_t>(pos);
  if (later_fragment || nh == ipproto::kNoNext) return DropReason::kNone;
  return parse_l4(f, out);
}

DropReason parse_walk(const Frame& f, ParsedPacket& out) noexcept;

DropReason parse_frame(const Frame& f, ParsedPacket& out) noexcept {
  if (parse_fast(f.buf, f.total, out)) return DropReason::kNone;
  return parse_walk(f, out);
}

DropReason parse_walk(const Frame& f, ParsedPacket& out) noexcept {
  out = ParsedPacket{};
  const auto eth = EthView::at(f.buf, 0);
  if (!eth) return f.cut(DropReason::kEthTruncated, kEthHeaderLen, f.total);
  std::uint16_t et = eth->ethertype();
  std::size_t off = kEthHeaderLen;
  while (is_vlan_tpid(et)) {
    if (out.vlan_depth == kMaxVlanTags) return DropReason::kVlanTooDeep;
    const auto tag = VlanView::at(f.buf, off);
    if (!tag) return f.cut(DropReason::kVlanTruncated, off + kVlanTagLen, f.total);
    out.vlan_tci[out.vlan_depth++] = tag->tci();
    et = tag->ethertype();
    off += kVlanTagLen;
  }
  out.ethertype = et;
  out.l3_offset = static_cast<std::uint32_t>(off);
  switch (et) {
    case ethertype::kIpv4:
      return parse_ipv4(f, off, out);
    case ethertype::kIpv6:
      return parse_ipv6(f, off, out);
    default:
      return DropReason::kNotIp;
  }
}

}  // namespace

DropReason parse_quoted_ip(std::span<const std::uint8_t> buf, std::size_t l3_offset,
                           ParsedPacket& out) noexcept {
  out = ParsedPacket{};
  if (l3_offset >= buf.size()) return DropReason::kNotIp;
  const Frame f{buf, buf.size(), /*quoted=*/true};
  switch (buf[l3_offset] >> 4) {
    case 4:
      out.ethertype = ethertype::kIpv4;
      return parse_ipv4(f, l3_offset, out);
    case 6:
      out.ethertype = ethertype::kIpv6;
      return parse_ipv6(f, l3_offset, out);
    default:
      return DropReason::kNotIp;
  }
}

DropReason parse(std::span<const std::uint8_t> frame, ParsedPacket& out) noexcept {
  return parse_frame(Frame{frame, frame.size(), false}, out);
}

DropReason parse_full(std::span<const std::uint8_t> frame, ParsedPacket& out) noexcept {
  return parse_walk(Frame{frame, frame.size(), false}, out);
}

DropReason parse_full(std::span<const std::uint8_t> headers, std::size_t total_len,
                      ParsedPacket& out) noexcept {
  if (total_len < headers.size()) total_len = headers.size();
  return parse_walk(Frame{headers, total_len, false}, out);
}

DropReason parse(std::span<const std::uint8_t> headers, std::size_t total_len,
                 ParsedPacket& out) noexcept {
  if (total_len < headers.size()) total_len = headers.size();
  return parse_frame(Frame{headers, total_len, false}, out);
}

}  // namespace nva::packet
