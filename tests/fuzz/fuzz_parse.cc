// libFuzzer target for the packet parser and the NAT rewrite.
//
// Besides "no crash, no read out of bounds" (ASan/UBSan), it checks the
// parser's promises on every input it accepts: offsets are ordered and
// inside the frame, a split view agrees with the whole, and a rewrite keeps
// valid checksums valid. A broken promise aborts, which libFuzzer reports.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"
#include "dataplane/packet/parse.h"
#include "dataplane/packet/rewrite.h"

using namespace nva::packet;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

bool l4_checksum_ok(const std::vector<std::uint8_t>& f, const ParsedPacket& p) {
  const std::uint8_t* l4 = f.data() + p.l4_offset;
  const std::size_t len = p.l3_end - p.l4_offset;
  if (p.l4_proto == ipproto::kTcp) {
    return load_be16(l4 + 16) ==
           ipv4_l4_checksum(l4, len, 16, p.ipv4_src, p.ipv4_dst, ipproto::kTcp);
  }
  const std::uint16_t got = load_be16(l4 + 6);
  if (got == 0) return true;
  std::uint16_t want =
      ipv4_l4_checksum(l4, len, 6, p.ipv4_src, p.ipv4_dst, ipproto::kUdp);
  if (want == 0) want = 0xFFFF;
  return got == want;
}

bool same(const ParsedPacket& a, const ParsedPacket& b) {
  return a.l3_offset == b.l3_offset && a.l4_offset == b.l4_offset &&
         a.l3_end == b.l3_end && a.ethertype == b.ethertype &&
         a.vlan_depth == b.vlan_depth && a.vlan_tci[0] == b.vlan_tci[0] &&
         a.vlan_tci[1] == b.vlan_tci[1] && a.l3 == b.l3 && a.l4_proto == b.l4_proto &&
         a.ttl == b.ttl && a.ipv4_src == b.ipv4_src && a.ipv4_dst == b.ipv4_dst &&
         a.frag == b.frag && a.frag_offset == b.frag_offset &&
         a.more_fragments == b.more_fragments && a.frag_id == b.frag_id &&
         a.ipv6_frag_hdr_offset == b.ipv6_frag_hdr_offset && a.has_ports == b.has_ports &&
         a.src_port == b.src_port && a.dst_port == b.dst_port &&
         a.tcp_flags == b.tcp_flags && a.icmp_type == b.icmp_type &&
         a.icmp_code == b.icmp_code && a.icmp_echo_id == b.icmp_echo_id &&
         a.is_icmp_echo == b.is_icmp_echo;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  ParsedPacket p;
  const DropReason r = parse(in, p);
  require(static_cast<std::size_t>(r) < kDropReasonCount);
  // The common-case shortcut agrees with the full walk on every field.
  ParsedPacket walked;
  require(parse_full(in, walked) == r);
  if (r == DropReason::kNone) require(same(walked, p));

  // A view of only the first n bytes (a chained mbuf) never reads further
  // and, when it succeeds, agrees with the whole-frame parse.
  if (size > 0) {
    const std::size_t n = data[0] % (size + 1);
    ParsedPacket q;
    const DropReason rs = parse(in.first(n), size, q);
    if (rs == DropReason::kNone) {
      require(r == DropReason::kNone);
      require(q.l4_offset == p.l4_offset && q.l3_end == p.l3_end);
      require(q.src_port == p.src_port && q.dst_port == p.dst_port);
      // Every header the parser read lies inside the first n bytes.
      require(q.l4_offset <= n || q.frag == FragState::kLater ||
              q.l4_proto == ipproto::kNoNext || q.l4_offset == q.l3_end);
      if (q.has_ports || q.is_icmp_echo) require(q.l4_offset + 8 <= n);
      if (q.has_ports && q.l4_proto == ipproto::kTcp) {
        require(q.l4_offset + std::size_t{(data[q.l4_offset + 12] >> 4) * 4u} <= n);
      }
    }
  }

  // The same bytes as the quote inside an ICMP error.
  ParsedPacket quoted;
  const std::size_t qoff = size > 14 ? 14 : 0;
  if (parse_quoted_ip(in, qoff, quoted) == DropReason::kNone) {
    require(quoted.l3_offset == qoff);
    require(quoted.l3_offset <= quoted.l4_offset && quoted.l4_offset <= quoted.l3_end);
    require(quoted.l3_end <= size);
    if (quoted.has_ports) require(quoted.l4_offset + 8 <= size);
  }

  if (r != DropReason::kNone) return 0;
  require(p.l3_offset <= p.l4_offset);
  require(p.l4_offset <= p.l3_end);
  require(p.l3_end <= size);

  if (p.l3 != L3Kind::kIpv4) return 0;
  std::vector<std::uint8_t> f(in.begin(), in.end());
  const std::uint8_t* ip = f.data() + p.l3_offset;
  const bool ip_ok =
      load_be16(ip + 10) == ipv4_header_checksum(ip, p.l4_offset - p.l3_offset);
  const bool l4_checked = p.frag == FragState::kNone &&
                          (p.l4_proto == ipproto::kTcp || p.l4_proto == ipproto::kUdp);
  const bool l4_ok = l4_checked && l4_checksum_ok(f, p);

  Ipv4Rewrite rw;
  rw.fields = static_cast<std::uint8_t>(size % 16);
  rw.src_addr = 0xC6120000u ^ static_cast<std::uint32_t>(size * 2654435761u);
  rw.dst_addr = ~rw.src_addr;
  rw.src_port = static_cast<std::uint16_t>(size * 40503u);
  rw.dst_port = static_cast<std::uint16_t>(~rw.src_port);
  rewrite_ipv4(f, p, rw);
  (void)ipv4_decrement_ttl(f, p);

  ParsedPacket after;
  require(parse(f, after) == DropReason::kNone);
  require(after.l4_offset == p.l4_offset && after.l3_end == p.l3_end);
  ip = f.data() + p.l3_offset;
  if (ip_ok) {
    require(load_be16(ip + 10) == ipv4_header_checksum(ip, p.l4_offset - p.l3_offset));
  }
  if (l4_ok) require(l4_checksum_ok(f, after));
  return 0;
}
