// The NAT of one worker: lookup, create, rewrite (see translator.h).
#include "dataplane/nat/translator.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"
#include "dataplane/packet/headers.h"
#include "dataplane/packet/rewrite.h"

namespace nva::nat {

using conntrack::ConnKey;
using conntrack::ConnRef;
using conntrack::ConnState;
using conntrack::Dir;
using packet::ParsedPacket;

namespace {

constexpr std::uint8_t kSyn = 0x02, kAck = 0x10, kRst = 0x04, kFin = 0x01;
// SNAT port search: give up after this many candidates (counted).
constexpr unsigned kSnatTries = 128;
// The SYN proxy's packets: TCP headers of 20 bytes, 24 with the MSS option.
constexpr std::size_t kTcpHdr = 20, kTcpHdrMss = 24;
// The window the cookie SYN-ACK offers (unscaled: no window scaling).
constexpr std::uint16_t kSynAckWindow = 65535;
// How long after the last cookie sent ACKs are checked for one (kAuto):
// a cookie's longest life (syn_cookie.h).
constexpr std::uint32_t kCookieLifeMs = 2u << SynCookies::kMinuteShift;

// The MSS option of a TCP header whose bytes from `t` to `end` are at hand;
// 0 if it has none.
std::uint16_t tcp_mss_option(const std::uint8_t* t, const std::uint8_t* end) noexcept {
  const std::size_t hdr = static_cast<std::size_t>(t[12] >> 4) * 4;
  if (hdr <= kTcpHdr) return 0;
  const std::uint8_t* o = t + kTcpHdr;
  const std::uint8_t* stop = std::min(t + hdr, end);
  while (o < stop) {
    if (o[0] == 0) break;  // end of options
    if (o[0] == 1) {       // no-op
      ++o;
      continue;
    }
    if (o + 2 > stop || o[1] < 2 || o + o[1] > stop) break;
    if (o[0] == 2 && o[1] == 4) return packet::load_be16(o + 2);
    o += o[1];
  }
  return 0;
}

// Writes a TCP header of 20 bytes (or 24 with an MSS option, `mss` != 0)
// at `t` with no payload, sets the IPv4 header at `ip` to match (total
// length, no fragment bits but DF, `ttl` unless 0) and both checksums in
// full, for the addresses the IPv4 header holds. Ports are left as found.
std::size_t write_tcp(std::uint8_t* ip, std::uint8_t* t, std::uint32_t seq,
                      std::uint32_t ack, std::uint8_t flags, std::uint16_t window,
                      std::uint16_t mss, std::uint8_t ttl) noexcept {
  const std::size_t len = mss != 0 ? kTcpHdrMss : kTcpHdr;
  packet::store_be32(t + 4, seq);
  packet::store_be32(t + 8, ack);
  t[12] = static_cast<std::uint8_t>((len / 4) << 4);
  t[13] = flags;
  packet::store_be16(t + 14, window);
  packet::store_be16(t + 16, 0);
  packet::store_be16(t + 18, 0);  // urgent pointer
  if (mss != 0) {
    t[20] = 2;  // MSS
    t[21] = 4;
    packet::store_be16(t + 22, mss);
  }
  const std::size_t ihl = static_cast<std::size_t>(t - ip);
  packet::store_be16(ip + 2, static_cast<std::uint16_t>(ihl + len));
  ip[6] &= 0x40;  // DF kept, no MF, offset 0
  ip[7] = 0;
  if (ttl != 0) ip[8] = ttl;
  packet::store_be16(ip + 10, packet::ipv4_header_checksum(ip, ihl));
  packet::store_be16(t + 16, packet::ipv4_l4_checksum(
                                 t, len, 16, packet::load_be32(ip + 12),
                                 packet::load_be32(ip + 16), packet::ipproto::kTcp));
  return len;
}

// Swaps a packet's addresses and ports (IPv4 header at `ip`, TCP/UDP at `l4`).
void swap_endpoints(std::uint8_t* ip, std::uint8_t* l4) noexcept {
  std::uint8_t tmp[4];
  std::memcpy(tmp, ip + 12, 4);
  std::memmove(ip + 12, ip + 16, 4);
  std::memcpy(ip + 16, tmp, 4);
  std::memcpy(tmp, l4, 2);
  std::memmove(l4, l4 + 2, 2);
  std::memcpy(l4 + 2, tmp, 2);
}

}  // namespace

ConnKey Translator::key_of(const ParsedPacket& p) noexcept {
  ConnKey k;
  k.src_addr = p.ipv4_src;
  k.dst_addr = p.ipv4_dst;
  k.src_port = p.src_port;
  k.dst_port = p.dst_port;
  k.proto = p.l4_proto;
  return k;
}

std::string_view nat_drop_name(NatDrop d) noexcept {
  switch (d) {
#define NVA_X(name, value, metric) \
  case NatDrop::name:              \
    return metric;
    NVA_NAT_DROP_REASONS(NVA_X)
#undef NVA_X
  }
  return "unknown";
}

Translator::Translator(const TranslatorConfig& cfg)
    : cfg_(cfg),
      tracker_(cfg.capacity, cfg.timeouts, cfg.table_key),
      snat_cursor_(cfg.worker),
      cookies_(cfg.syn_cookie_key),
      proxy_(cfg.syn_proxy == SynProxyMode::kOff ? 0 : cfg.capacity),
      high_water_(std::max<std::uint32_t>(1, cfg.capacity / 4)) {
  if (cfg.workers == 0 || cfg.worker >= cfg.workers) {
    throw std::invalid_argument("translator: worker " + std::to_string(cfg.worker) +
                                " of " + std::to_string(cfg.workers));
  }
  if (cfg.snat_port_min == 0) throw std::invalid_argument("translator: SNAT port 0");
  // This worker's static partition: ports p >= min with p % workers ==
  // worker, the first of them and how many.
  const std::uint32_t w = cfg.workers;
  const std::uint32_t first =
      (cfg.snat_port_min + w - 1 - cfg.worker) / w * w + cfg.worker;
  snat_first_ = first;
  snat_slots_ = first > 65535 ? 0 : (65535 - first) / w + 1;
  if (cfg.rss != nullptr && cfg.rss->workers() != cfg.workers) {
    throw std::invalid_argument("translator: RSS steering for " +
                                std::to_string(cfg.rss->workers()) + " workers, not " +
                                std::to_string(cfg.workers));
  }
}

Verdict Translator::drop(NatDrop why) noexcept {
  ++counters_.drops[static_cast<std::size_t>(why)];
  last_drop_ = why;
  return Verdict::kDrop;
}

Verdict Translator::drop(packet::DropReason why) noexcept {
  ++counters_.packet_drops[static_cast<std::size_t>(why)];
  last_drop_ = NatDrop::kNone;
  return Verdict::kDrop;
}

inline bool Translator::checksums_ok(std::span<const std::uint8_t> frame,
                                     const ParsedPacket& p) noexcept {
  const std::uint8_t* ip = frame.data() + p.l3_offset;
  if ((p.rx_csum & packet::kRxCsumIpBad) != 0 ||
      ((p.rx_csum & packet::kRxCsumIpGood) == 0 &&
       !packet::ipv4_header_checksum_ok(ip, p.l4_offset - p.l3_offset))) {
    drop(packet::DropReason::kIpv4BadChecksum);
    return false;
  }
  if (p.frag != packet::FragState::kNone) return true;  // covers the datagram
  if ((p.rx_csum & packet::kRxCsumL4Good) != 0) return true;
  // Without the NIC's word the bytes must be here; a caller holding only
  // part of the datagram (a chained mbuf) gives its own verdict instead
  // (the worker does), so a packet that has neither cannot be verified
  // and does not create state.
  if ((p.rx_csum & packet::kRxCsumL4Bad) != 0 || frame.size() < p.l3_end ||
      !packet::ipv4_l4_checksum_ok(frame.data() + p.l4_offset, p.l4_len(), p.ipv4_src,
                                   p.ipv4_dst, p.l4_proto)) {
    drop(packet::DropReason::kL4BadChecksum);
    return false;
  }
  return true;
}

Verdict Translator::process(std::span<std::uint8_t> frame, const ParsedPacket& p,
                            const lb::ServiceTable& services,
                            std::uint32_t now_ms) noexcept {
  if (p.l3 != packet::L3Kind::kIpv4) {
    ++counters_.exceptions;
    return Verdict::kException;  // IPv6 (no IPv6 services), ARP, ...: the kernel's
  }
  if (p.l4_proto == packet::ipproto::kIcmp) {
    if (p.is_icmp_echo && p.icmp_type == packet::icmp::kEchoRequest &&
        services.is_vip(p.ipv4_dst)) {
      if (!cfg_.answer_vip_ping) return drop(NatDrop::kUnsupportedProtocol);
      return answer_ping(frame, p);
    }
    if (packet::icmp::is_error(p.icmp_type) && p.frag == packet::FragState::kNone) {
      return icmp_error(frame, p, services, now_ms);
    }
    if (services.is_vip(p.ipv4_dst) || services.is_snat_addr(p.ipv4_dst)) {
      return drop(NatDrop::kUnsupportedProtocol);
    }
    ++counters_.exceptions;
    return Verdict::kException;
  }
  const bool ours_by_dst =
      services.is_vip(p.ipv4_dst) || services.is_snat_addr(p.ipv4_dst);
  if (p.frag != packet::FragState::kNone) {
    if (ours_by_dst) return drop(NatDrop::kFragment);
    ++counters_.exceptions;
    return Verdict::kException;
  }
  if (!p.has_ports) {
    if (ours_by_dst) return drop(NatDrop::kUnsupportedProtocol);
    ++counters_.exceptions;
    return Verdict::kException;
  }

  return process_l4(frame, p, services, now_ms);
}

Verdict Translator::process_fragment(std::span<std::uint8_t> frame, const ParsedPacket& p,
                                     std::uint16_t src_port, std::uint16_t dst_port,
                                     const lb::ServiceTable& services,
                                     std::uint32_t now_ms) noexcept {
  if (p.l3 != packet::L3Kind::kIpv4 ||
      (p.l4_proto != packet::ipproto::kTcp && p.l4_proto != packet::ipproto::kUdp)) {
    return drop(NatDrop::kFragment);
  }
  ParsedPacket q = p;
  q.has_ports = true;
  q.src_port = src_port;
  q.dst_port = dst_port;
  return process_l4(frame, q, services, now_ms);
}

Verdict Translator::process_l4(std::span<std::uint8_t> frame, const ParsedPacket& p,
                               const lb::ServiceTable& services,
                               std::uint32_t now_ms) noexcept {
  const ConnKey key = key_of(p);
  const ConnRef ref = tracker_.table().lookup(key);
  if (ref.found()) {
    if (services.has_dead_backends()) [[unlikely]] {
      return translate_checked(frame, p, ref, services, now_ms);
    }
    return translate(frame, p, ref, now_ms);
  }
  // A later fragment cannot start a connection: its first was not let in.
  if (p.frag == packet::FragState::kLater) return drop(NatDrop::kFragmentNoConn);
  return process_miss(frame, p, key, services, now_ms);
}

// Out of line: the worker's burst loop calls it only after a slow path
// changed the table, and inlining it there made the hit path longer.
Verdict Translator::process_key(std::span<std::uint8_t> frame, const ParsedPacket& p,
                                const ConnKey& key, const lb::ServiceTable& services,
                                std::uint32_t now_ms) noexcept {
  const ConnRef ref = tracker_.table().lookup(key);
  if (ref.found()) return process_hit(frame, p, ref, services, now_ms);
  return process_miss(frame, p, key, services, now_ms);
}

Verdict Translator::process_miss(std::span<std::uint8_t> frame, const ParsedPacket& p,
                                 const ConnKey& key, const lb::ServiceTable& services,
                                 std::uint32_t now_ms) noexcept {
  if (const lb::Service* svc = services.find(p.l4_proto, p.ipv4_dst, p.dst_port)) {
    return slow_path(frame, p, key, *svc, now_ms);
  }
  if (services.is_vip(p.ipv4_dst)) return drop(NatDrop::kNoService);
  if (services.is_snat_addr(p.ipv4_dst) ||
      services.is_dnat_backend(p.ipv4_src, p.src_port)) {
    return drop(NatDrop::kUnknownReturn);
  }
  ++counters_.exceptions;
  return Verdict::kException;
}

void Translator::consider_victim(ConnRef r, std::uint16_t port, std::uint32_t now_ms,
                                 SnatVictim& victim) const noexcept {
  if (r.dir() != Dir::kReply || !tracker_.evictable(r.index())) return;
  const std::uint32_t idle = tracker_.idle_ms(r.index(), now_ms);
  if (victim.idx == ConnRef::kNone ||
      static_cast<std::int32_t>(idle - victim.idle_ms) > 0) {
    victim = {r.index(), port, idle};
  }
}

// RSS pre-calculation: candidates of this worker for the reply's fixed
// part (its hash with port 0), each O(1) (see steer/rss.h).
std::uint16_t Translator::pick_snat_port_rss(ConnKey& reply, std::uint32_t now_ms,
                                             SnatVictim& victim) noexcept {
  const steer::RssSteering& rss = *cfg_.rss;
  const std::uint32_t n = rss.candidates(cfg_.worker);
  if (n == 0) return 0;  // no reta entry sends anything to this worker
  const std::uint32_t fixed = rss.hash(reply.src_addr, reply.dst_addr, reply.src_port, 0);
  for (unsigned t = 0; t < kSnatTries; ++t) {
    snat_cursor_ = snat_cursor_ + 1 >= n ? 0 : snat_cursor_ + 1;
    const std::uint16_t port = rss.candidate(fixed, cfg_.worker, snat_cursor_);
    if (port < cfg_.snat_port_min) continue;  // also 0: unreachable entry
    if (port == kAzureReservedUdpPort && reply.proto == packet::ipproto::kUdp) continue;
    reply.dst_port = port;
    const ConnRef r = tracker_.table().lookup(reply);
    if (!r.found()) return port;
    consider_victim(r, port, now_ms, victim);
  }
  return 0;
}

std::uint16_t Translator::pick_snat_port(ConnKey& reply, std::uint32_t now_ms,
                                         SnatVictim& victim) noexcept {
  if (cfg_.rss != nullptr) return pick_snat_port_rss(reply, now_ms, victim);
  // Ports of this worker's partition (snat_first_, every workers-th).
  if (snat_slots_ == 0) return 0;
  for (unsigned t = 0; t < kSnatTries; ++t) {
    snat_cursor_ = snat_cursor_ + 1 >= snat_slots_ ? 0 : snat_cursor_ + 1;
    const auto port =
        static_cast<std::uint16_t>(snat_first_ + snat_cursor_ * cfg_.workers);
    if (port == kAzureReservedUdpPort && reply.proto == packet::ipproto::kUdp) continue;
    reply.dst_port = port;
    const ConnRef r = tracker_.table().lookup(reply);
    if (!r.found()) return port;
    consider_victim(r, port, now_ms, victim);
  }
  return 0;
}

Verdict Translator::slow_path(std::span<std::uint8_t> frame, const ParsedPacket& p,
                              const ConnKey& key, const lb::Service& svc,
                              std::uint32_t now_ms, bool check_checksums) noexcept {
  // A packet that cannot be forwarded must not create state.
  if (p.ttl <= 1) return drop(NatDrop::kTtlExceeded);
  ConnState state = ConnState::kUdp;
  bool proxied = false;  // the client's ACK of a SYN cookie
  std::uint8_t mss_idx = 0;
  const bool tcp = p.l4_proto == packet::ipproto::kTcp;
  const conntrack::TcpSegment seg = tcp ? tcp_segment(frame, p) : conntrack::TcpSegment{};
  // The flow's hash (Maglev, SNAT address), once a packet has passed the
  // checks that drop floods.
  auto flow_hash = [&p, &svc] {
    return lb::flow_hash({p.ipv4_src, p.ipv4_dst, p.src_port, p.dst_port, p.l4_proto},
                         svc.seed);
  };
  if (tcp) {
    const bool syn = (p.tcp_flags & (kSyn | kAck | kRst)) == kSyn;
    // The SYN proxy: a SYN gets a cookie, an ACK may return one. Checksums
    // first here too (a cookie answers only an intact SYN), and only for a
    // service with a backend to open the connection to: the client of one
    // without would be "connected" to nothing until its retransmissions
    // give up; it is dropped as without the proxy.
    if (syn && syn_cookies_active(now_ms) && p.frag == packet::FragState::kNone) {
      if (check_checksums && !checksums_ok(frame, p)) return Verdict::kDrop;
      if (svc.maglev.lookup(flow_hash()) == lb::MaglevTable::kNoBackend) {
        return drop(NatDrop::kNoBackend);
      }
      return answer_syn_cookie(frame, p, now_ms);
    }
    if ((p.tcp_flags & (kSyn | kAck | kRst | kFin)) == kAck &&
        p.frag == packet::FragState::kNone &&
        (cfg_.syn_proxy == SynProxyMode::kOn ||
         (cfg_.syn_proxy == SynProxyMode::kAuto && cookie_sent_ &&
          now_ms - cookie_sent_ms_ < kCookieLifeMs))) {
      if (check_checksums && !checksums_ok(frame, p)) return Verdict::kDrop;
      check_checksums = false;  // done
      if (const auto idx =
              cookies_.check({p.ipv4_src, p.ipv4_dst, p.src_port, p.dst_port},
                             seg.seq - 1, seg.ack - 1, now_ms)) {
        proxied = true;
        mss_idx = *idx;
        ++counters_.syn_cookies_valid;
      } else {
        ++counters_.syn_cookies_invalid;
      }
    }
    if (syn || proxied) {
      state = ConnState::kTcpSynSent;
    } else if ((p.tcp_flags & kRst) == 0 && cfg_.tcp_pickup &&
               svc.mode == lb::NatMode::kDnat) {
      // Picked up mid-stream: not assured until the backend answers, so
      // embryonic (short, evictable) until then (conntrack/state.h).
      state =
          (p.tcp_flags & kFin) != 0 ? ConnState::kTcpFinWait : ConnState::kTcpEstablished;
    } else {
      return drop(NatDrop::kMidstreamNoConn);
    }
  }
  // Nor may a corrupt (or forged without care) one: checksums first.
  if (check_checksums && !checksums_ok(frame, p)) return Verdict::kDrop;
  const std::uint64_t fh = flow_hash();
  const std::uint32_t bi = svc.maglev.lookup(fh);
  if (bi == lb::MaglevTable::kNoBackend) return drop(NatDrop::kNoBackend);
  const lb::Backend& be = svc.backends[bi];

  ConnKey reply;
  reply.src_addr = be.addr;
  reply.src_port = be.port != 0 ? be.port : p.dst_port;
  reply.proto = p.l4_proto;
  std::uint8_t flags = 0;
  if (svc.mode == lb::NatMode::kDnatSnat) {
    if (svc.snat_addrs.empty()) return drop(NatDrop::kSnatPortsExhausted);
    // The flow hash's upper half scaled to the address count (no division).
    reply.dst_addr = svc.snat_addrs[((fh >> 32) * svc.snat_addrs.size()) >> 32];
    SnatVictim victim;
    if (pick_snat_port(reply, now_ms, victim) == 0) {
      exhaustion_.record(reply.src_addr, reply.src_port, reply.dst_addr);
      note_pressure(now_ms);
      if (victim.idx == ConnRef::kNone) return drop(NatDrop::kSnatPortsExhausted);
      // Every port tried is taken: the longest idle of the embryonic or
      // unassured ones among them gives its port up (the pair's own: all
      // these reply tuples share backend and SNAT address).
      tracker_.remove(victim.idx);
      ++counters_.snat_evicted;
      reply.dst_port = victim.port;
    }
    flags |= conntrack::kConnSnat;
  } else {
    reply.dst_addr = p.ipv4_src;
    reply.dst_port = p.src_port;
    if (tracker_.table().lookup(reply).found()) return drop(NatDrop::kReplyTupleInUse);
  }

  // The creating packet's state step is done here: its state above, and
  // for TCP the client's first sequence number (SYN or picked-up segment)
  // and a FIN it carries (state.h: noted, the connection stays embryonic).
  // A proxied connection's client sent its SYN with the ISN one below this
  // ACK's sequence: that SYN is the one the backend gets.
  std::uint32_t seq_next = 0;
  if (tcp) {
    seq_next = proxied ? seg.seq : conntrack::seg_end(seg);
    flags |= conntrack::kConnSeqOrig;
    if (proxied) flags |= conntrack::kConnSynProxy;
    if ((p.tcp_flags & kFin) != 0) flags |= conntrack::kConnFinOrig;
  }
  const std::uint64_t evicted = tracker_.evicted();
  const std::uint32_t idx = tracker_.create(key, reply, state, now_ms, flags);
  if (idx == ConnRef::kNone || tracker_.evicted() != evicted) {
    note_pressure(now_ms);  // the table is full: SYN cookies (kAuto)
  }
  if (idx == ConnRef::kNone) return drop(NatDrop::kTableFull);
  tracker_.table().conn(idx).seq_next[0] = seq_next;
  ++counters_.created;
  if (proxied) {
    std::uint32_t* cookie = proxy_.insert(idx, [this](std::uint32_t i) {
      const conntrack::Conn& o = tracker_.table().conn(i);
      return o.state != ConnState::kNone && (o.flags & conntrack::kConnSynProxy) != 0;
    });
    if (cookie == nullptr) {
      tracker_.remove(idx);
      return drop(NatDrop::kSynProxyFull);
    }
    *cookie = seg.ack - 1;
    tracker_.table().conn(idx).seq_next[1] =
        std::uint32_t{packet::load_be16(frame.data() + p.l4_offset + 14)} << 8 | mss_idx;
    if (!write_proxy_syn(frame, p, idx)) {
      tracker_.remove(idx);
      return drop(NatDrop::kSynProxyNoRoom);
    }
    (void)rewrite_cold(frame, p, ConnRef{idx << 1});
    return Verdict::kForwardResized;
  }
  return rewrite(frame, p, ConnRef{idx << 1});
}

Verdict Translator::rewrite_cold(std::span<std::uint8_t> frame, const ParsedPacket& p,
                                 ConnRef ref) noexcept {
  return rewrite(frame, p, ref);
}

Verdict Translator::answer_syn_cookie(std::span<std::uint8_t> frame,
                                      const ParsedPacket& p,
                                      std::uint32_t now_ms) noexcept {
  const std::size_t need = p.l4_offset + kTcpHdrMss;
  if (need > std::max<std::size_t>(frame.size(), p.frame_room)) {
    return drop(NatDrop::kSynProxyNoRoom);
  }
  std::uint8_t* ip = frame.data() + p.l3_offset;
  std::uint8_t* t = frame.data() + p.l4_offset;
  const std::uint32_t client_isn = packet::load_be32(t + 4);
  const std::uint8_t mss_idx =
      SynCookies::mss_index(tcp_mss_option(t, frame.data() + frame.size()));
  const std::uint32_t cookie = cookies_.make(
      {p.ipv4_src, p.ipv4_dst, p.src_port, p.dst_port}, client_isn, mss_idx, now_ms);
  swap_endpoints(ip, t);
  write_tcp(ip, t, cookie, client_isn + 1, kSyn | kAck, kSynAckWindow,
            kSynCookieMss[mss_idx], 64);
  reply_len_ = need;
  cookie_sent_ = true;
  cookie_sent_ms_ = now_ms;
  ++counters_.syn_cookies_sent;
  ++counters_.replied_local;
  return Verdict::kReplyLocal;
}

bool Translator::write_proxy_syn(std::span<std::uint8_t> frame, const ParsedPacket& p,
                                 std::uint32_t idx) noexcept {
  if (frame.size() < p.l4_offset + kTcpHdr) return false;
  // With the MSS option where the buffer has room for it. A client segment
  // on the hit path (the SYN sent again) may come without frame_room; in
  // a frame of 54 bytes (not padded to 60, as veth delivers it) the SYN
  // then goes without the option and the backend assumes 536.
  const bool mss =
      p.l4_offset + kTcpHdrMss <= std::max<std::size_t>(frame.size(), p.frame_room);
  const conntrack::Conn& c = tracker_.table().conn(idx);
  reply_len_ =
      p.l4_offset + write_tcp(frame.data() + p.l3_offset, frame.data() + p.l4_offset,
                              c.seq_next[0] - 1, 0, kSyn,
                              static_cast<std::uint16_t>(c.seq_next[1] >> 8),
                              mss ? kSynCookieMss[c.seq_next[1] & 3] : 0, 0);
  return true;
}

Verdict Translator::translate_proxied(std::span<std::uint8_t> frame,
                                      const ParsedPacket& p, ConnRef ref,
                                      std::uint32_t now_ms) noexcept {
  const std::uint32_t idx = ref.index();
  conntrack::Conn& c = tracker_.table().conn(idx);
  std::uint32_t* ps = proxy_.find(idx);                    // the cookie, then the offset
  if (ps == nullptr) return drop(NatDrop::kSynProxyFull);  // cannot be: taken over live
  const Dir dir = ref.dir();
  std::uint8_t* ip = frame.data() + p.l3_offset;
  std::uint8_t* t = frame.data() + p.l4_offset;
  conntrack::TcpSegment s = tcp_segment(frame, p);
  using conntrack::SegmentVerdict;

  if (c.state == ConnState::kTcpSynSent) {  // the backend has not answered
    const std::uint32_t client_isn = c.seq_next[0] - 1;
    if (dir == Dir::kOriginal) {
      if ((s.flags & kRst) != 0) {  // the client gives up: the backend too
        if (tracker_.on_tcp(idx, dir, s, now_ms) == SegmentVerdict::kDrop) {
          return drop(NatDrop::kTcpOutOfWindow);
        }
        const Verdict v = rewrite_cold(frame, p, ref);
        if (c.state == ConnState::kTcpClosed) tracker_.remove(idx);
        return v;
      }
      if (p.frag != packet::FragState::kNone) return drop(NatDrop::kFragment);
      // Its first data (a request right after the handshake, which beats
      // the backend's SYN-ACK in most cases) is kept by the worker and
      // comes again when the backend has answered; without it the client
      // would resend it only after its retransmission timeout (~200 ms).
      if (s.end != s.seq && (c.seq_next[1] & kProxyHeld) == 0) {
        c.seq_next[1] |= kProxyHeld;
        held_conn_ = idx;
        ++counters_.syn_proxy_held;
        return Verdict::kHold;
      }
      // Anything else from the client: it waits for the backend, whose
      // SYN may have been lost. Send it again (the client resends data).
      (void)tracker_.on_tcp(
          idx, dir, {.flags = kSyn, .seq = client_isn, .end = client_isn}, now_ms);
      if (!write_proxy_syn(frame, p, idx)) return drop(NatDrop::kSynProxyNoRoom);
      (void)rewrite_cold(frame, p, ref);
      return Verdict::kForwardResized;
    }
    if ((s.flags & (kSyn | kAck | kRst)) == (kSyn | kAck) && s.ack == client_isn + 1 &&
        p.frag == packet::FragState::kNone) {
      // The backend's SYN-ACK: the handshake on both sides is done. The
      // NVA answers it with the client's last ACK; the client has had its
      // SYN-ACK (the cookie) already.
      const auto window = static_cast<std::uint16_t>(c.seq_next[1] >> 8);
      const bool held = (c.seq_next[1] & kProxyHeld) != 0;
      if (tracker_.on_tcp(idx, dir, s, now_ms) != SegmentVerdict::kAccept) {
        return drop(NatDrop::kTcpOutOfWindow);
      }
      (void)tracker_.on_tcp(
          idx, Dir::kOriginal,
          {.flags = kAck, .seq = client_isn + 1, .end = client_isn + 1, .ack = s.seq + 1},
          now_ms);
      *ps = s.seq - *ps;  // backend ISN - cookie
      swap_endpoints(ip, t);
      write_tcp(ip, t, client_isn + 1, s.seq + 1, kAck, window, 0, 64);
      reply_len_ = p.l4_offset + kTcpHdr;
      if (held) release_ = idx + 1;  // the client's first data, after this ACK
      ++counters_.syn_proxy_established;
      ++counters_.replied_local;
      return Verdict::kReplyLocal;
    }
    if ((s.flags & kRst) != 0 && p.frag == packet::FragState::kNone) {
      // Refused (an RST that acknowledges the SYN, tcp_track() checks):
      // the client, established with the cookie, accepts an RST whose
      // sequence is exactly the cookie + 1.
      if (tracker_.on_tcp(idx, dir, s, now_ms) != SegmentVerdict::kAccept) {
        return drop(NatDrop::kTcpOutOfWindow);
      }
      write_tcp(ip, t, *ps + 1, 0, kRst, 0, 0, 0);
      (void)rewrite_cold(frame, p, ref);
      reply_len_ = p.l4_offset + kTcpHdr;
      ++counters_.syn_proxy_refused;
      return Verdict::kForwardResized;
    }
    return drop(NatDrop::kTcpOutOfWindow);
  }

  // Synchronized: the client sees the backend's sequence less the offset.
  // Tracking works in the backend's space (the client's ACK moved first).
  const std::uint32_t delta = *ps;
  std::uint16_t ck = packet::load_be16(t + 16);
  if (dir == Dir::kOriginal) {
    if ((s.flags & kAck) != 0) {
      const std::uint32_t ack = s.ack + delta;
      ck = packet::csum_replace32(ck, s.ack, ack);
      packet::store_be32(t + 8, ack);
      packet::store_be16(t + 16, ck);
      s.ack = ack;
    }
    if (tracker_.on_tcp(idx, dir, s, now_ms) == SegmentVerdict::kDrop) {
      return drop(NatDrop::kTcpOutOfWindow);
    }
  } else {
    if (tracker_.on_tcp(idx, dir, s, now_ms) == SegmentVerdict::kDrop) {
      return drop(NatDrop::kTcpOutOfWindow);
    }
    const std::uint32_t seq = s.seq - delta;
    packet::store_be32(t + 4, seq);
    packet::store_be16(t + 16, packet::csum_replace32(ck, s.seq, seq));
  }
  return rewrite_cold(frame, p, ref);
}

Verdict Translator::translate_checked(std::span<std::uint8_t> frame,
                                      const ParsedPacket& p, ConnRef ref,
                                      const lb::ServiceTable& services,
                                      std::uint32_t now_ms) noexcept {
  const conntrack::Conn& c = tracker_.table().conn(ref.index());
  // The reply tuple's source is the backend in both NAT modes.
  const ConnKey& reply = c.key[static_cast<unsigned>(Dir::kReply)];
  if (ref.dir() != Dir::kOriginal ||
      !services.is_dead_backend(reply.src_addr, reply.src_port)) {
    return translate(frame, p, ref, now_ms);
  }
  tracker_.remove(ref.index());
  ++counters_.dead_backend_resets;
  if (p.frag != packet::FragState::kNone) return drop(NatDrop::kDeadBackend);
  if (p.l4_proto == packet::ipproto::kTcp) {
    if ((p.tcp_flags & kRst) != 0) return drop(NatDrop::kDeadBackend);
    return answer_rst(frame, p);
  }
  // UDP: the flow starts again on a healthy backend. Its packets were
  // accepted once; a chained one without the NIC's word (the worker sums
  // chains on misses only) is taken as it comes.
  if (const lb::Service* svc = services.find(p.l4_proto, p.ipv4_dst, p.dst_port)) {
    return slow_path(frame, p, key_of(p), *svc, now_ms,
                     /*check_checksums=*/p.rx_csum != 0 || frame.size() >= p.l3_end);
  }
  return drop(NatDrop::kDeadBackend);
}

// RFC 9293 section 3.10.7.1: to a segment with ACK, RST with seq = its
// ack; otherwise RST+ACK acknowledging everything it carried.
Verdict Translator::answer_rst(std::span<std::uint8_t> frame,
                               const ParsedPacket& p) noexcept {
  constexpr std::size_t kTcpLen = 20;
  if (p.l4_len() < kTcpLen || frame.size() < p.l4_offset + kTcpLen) {
    return drop(NatDrop::kDeadBackend);
  }
  std::uint8_t* ip = frame.data() + p.l3_offset;
  std::uint8_t* tcp = frame.data() + p.l4_offset;
  const std::size_t hdr_len = static_cast<std::size_t>(tcp[12] >> 4) * 4;
  const std::uint32_t seq = packet::load_be32(tcp + 4);
  const std::uint32_t ack = packet::load_be32(tcp + 8);
  const std::uint32_t payload =
      p.l4_len() > hdr_len ? static_cast<std::uint32_t>(p.l4_len() - hdr_len) : 0;
  const bool had_ack = (p.tcp_flags & kAck) != 0;
  const std::uint32_t seg_len =
      payload + ((p.tcp_flags & kSyn) != 0 ? 1 : 0) + ((p.tcp_flags & kFin) != 0 ? 1 : 0);

  packet::store_be16(tcp, p.dst_port);
  packet::store_be16(tcp + 2, p.src_port);
  packet::store_be32(tcp + 4, had_ack ? ack : 0);
  packet::store_be32(tcp + 8, had_ack ? 0 : seq + seg_len);
  tcp[12] = 5 << 4;
  tcp[13] = had_ack ? kRst : (kRst | kAck);
  packet::store_be16(tcp + 14, 0);  // window
  packet::store_be16(tcp + 18, 0);  // urgent pointer
  const std::size_t ip_len = p.l4_offset - p.l3_offset + kTcpLen;
  packet::store_be16(ip + 2, static_cast<std::uint16_t>(ip_len));
  packet::store_be16(ip + 6, 0);  // no fragment flags
  ip[8] = 64;                     // a fresh TTL, as any host answering
  packet::store_be32(ip + 12, p.ipv4_dst);
  packet::store_be32(ip + 16, p.ipv4_src);
  packet::store_be16(ip + 10,
                     packet::ipv4_header_checksum(ip, p.l4_offset - p.l3_offset));
  packet::store_be16(tcp + 16,
                     packet::ipv4_l4_checksum(tcp, kTcpLen, 16, p.ipv4_dst, p.ipv4_src,
                                              packet::ipproto::kTcp));
  reply_len_ = p.l4_offset + kTcpLen;
  ++counters_.replied_local;
  return Verdict::kReplyLocal;
}

// An ICMP error quoting a packet of a tracked connection (path MTU discovery
// depends on it): the quoted packet, reversed, is a packet of the
// connection in direction d; the error travels like a packet of direction
// d, so its destination becomes the one such a packet gets, and the quote is
// restored to the untranslated packet of the other direction, key[1-d].
// Inner checksums are updated incrementally where the quote holds them, and
// so is the ICMP checksum: only the first segment of a chained mbuf is read.
Verdict Translator::icmp_error(std::span<std::uint8_t> frame, const ParsedPacket& p,
                               const lb::ServiceTable& services,
                               std::uint32_t now_ms) noexcept {
  const bool ours = services.is_vip(p.ipv4_dst) || services.is_snat_addr(p.ipv4_dst);
  ParsedPacket in;
  const std::size_t quote = p.l4_offset + packet::kIcmpHeaderLen;
  // `frame` is the first segment; a long error (a chained mbuf) continues in
  // later ones. The quoted headers must lie in the first segment (the
  // parser clamps the quote to it); nothing past it is read or written.
  const std::size_t in_frame = std::min<std::size_t>(p.l3_end, frame.size());
  if (packet::parse_quoted_ip(frame.first(in_frame), quote, in) !=
          packet::DropReason::kNone ||
      in.l3 != packet::L3Kind::kIpv4 || !in.has_ports) {
    if (ours) return drop(NatDrop::kIcmpErrorUntracked);
    ++counters_.exceptions;
    return Verdict::kException;
  }
  ConnKey k;
  k.src_addr = in.ipv4_dst;
  k.dst_addr = in.ipv4_src;
  k.src_port = in.dst_port;
  k.dst_port = in.src_port;
  k.proto = in.l4_proto;
  const ConnRef ref = tracker_.table().lookup(k);
  if (!ref.found()) {
    if (ours) return drop(NatDrop::kIcmpErrorUntracked);
    ++counters_.exceptions;
    return Verdict::kException;
  }
  if (p.ttl <= 1) return drop(NatDrop::kTtlExceeded);
  const conntrack::Conn& c = tracker_.table().conn(ref.index());
  const unsigned d = static_cast<unsigned>(ref.dir());
  const ConnKey& restored = c.key[1 - d];
  // Where a packet of direction d goes after translation: the other
  // direction's source.
  const std::uint32_t outer_dst = c.key[1 - d].src_addr;

  std::uint8_t* ip_in = frame.data() + in.l3_offset;
  std::uint8_t* l4_in = frame.data() + in.l4_offset;
  const std::size_t l4_have = in.l3_end - in.l4_offset;
  // The bytes this rewrites: the inner IP header and the inner L4 header up
  // to its checksum. They start at an even offset in the ICMP message, so
  // their one's-complement sum before and after updates the ICMP checksum
  // (RFC 1624) without reading the rest of the message, wherever it is.
  const std::size_t changed_len =
      (in.l4_offset - in.l3_offset) + std::min<std::size_t>(l4_have, 18);
  const std::uint64_t sum_before = packet::csum_add_bytes(0, ip_in, changed_len);
  const std::uint32_t old_src = in.ipv4_src, old_dst = in.ipv4_dst;
  const std::uint16_t old_sport = in.src_port, old_dport = in.dst_port;
  // Inner IP header: addresses and its checksum.
  std::uint16_t ck = packet::load_be16(ip_in + 10);
  ck = packet::csum_replace32(ck, old_src, restored.src_addr);
  ck = packet::csum_replace32(ck, old_dst, restored.dst_addr);
  packet::store_be16(ip_in + 10, ck);
  packet::store_be32(ip_in + 12, restored.src_addr);
  packet::store_be32(ip_in + 16, restored.dst_addr);
  // Inner L4: ports, and the checksum if the quote reaches it.
  const std::size_t ck_at = in.l4_proto == packet::ipproto::kTcp ? 16 : 6;
  if (l4_have >= ck_at + 2) {
    std::uint16_t l4ck = packet::load_be16(l4_in + ck_at);
    if (in.l4_proto == packet::ipproto::kTcp || l4ck != 0) {
      l4ck = packet::csum_replace32(l4ck, old_src, restored.src_addr);
      l4ck = packet::csum_replace32(l4ck, old_dst, restored.dst_addr);
      l4ck = packet::csum_replace16(l4ck, old_sport, restored.src_port);
      l4ck = packet::csum_replace16(l4ck, old_dport, restored.dst_port);
      if (in.l4_proto == packet::ipproto::kUdp && l4ck == 0) l4ck = 0xFFFF;
      packet::store_be16(l4_in + ck_at, l4ck);
    }
  }
  packet::store_be16(l4_in, restored.src_port);
  packet::store_be16(l4_in + 2, restored.dst_port);
  // A connection of the SYN proxy: the quote's backend sequence number
  // (a packet the backend sent) or the client's acknowledgement of one (a
  // packet to the backend) as its sender wrote it.
  if ((c.flags & conntrack::kConnSynProxy) != 0 && c.state != ConnState::kTcpSynSent &&
      in.l4_proto == packet::ipproto::kTcp) {
    const std::uint32_t* off = proxy_.find(ref.index());
    const std::uint32_t delta = off != nullptr ? *off : 0;
    const bool from_backend = 1 - d == static_cast<unsigned>(Dir::kReply);
    const std::size_t at = from_backend ? 4 : 8;
    if (off != nullptr && l4_have >= at + 4) {
      const std::uint32_t old_v = packet::load_be32(l4_in + at);
      const std::uint32_t new_v = from_backend ? old_v + delta : old_v - delta;
      packet::store_be32(l4_in + at, new_v);
      if (l4_have >= ck_at + 2) {
        packet::store_be16(
            l4_in + ck_at,
            packet::csum_replace32(packet::load_be16(l4_in + ck_at), old_v, new_v));
      }
    }
  }
  // ICMP checksum: the change of the rewritten bytes.
  std::uint8_t* icmp = frame.data() + p.l4_offset;
  const std::uint16_t before = packet::csum_fold(sum_before);
  const std::uint16_t after =
      packet::csum_fold(packet::csum_add_bytes(0, ip_in, changed_len));
  packet::store_be16(icmp + 2,
                     packet::csum_replace16(packet::load_be16(icmp + 2), before, after));
  // Outer header: destination and TTL.
  (void)packet::ipv4_decrement_ttl(frame, p);
  packet::rewrite_ipv4(frame, p,
                       {.fields = packet::kRewriteDstAddr, .dst_addr = outer_dst});
  (void)now_ms;  // errors do not refresh the connection's idle timer
  ++counters_.icmp_errors;
  ++counters_.forwarded;
  return Verdict::kForward;
}

// Echo request to a VIP: turn it into the reply in place. The addresses
// swap (the checksum is unchanged by a swap), type 8 -> 0 changes the ICMP
// checksum by one word.
Verdict Translator::answer_ping(std::span<std::uint8_t> frame,
                                const ParsedPacket& p) noexcept {
  std::uint8_t* ip = frame.data() + p.l3_offset;
  std::uint8_t* icmp = frame.data() + p.l4_offset;
  packet::store_be32(ip + 12, p.ipv4_dst);
  packet::store_be32(ip + 16, p.ipv4_src);
  const std::uint16_t old_word = packet::load_be16(icmp);
  const auto new_word = static_cast<std::uint16_t>(old_word & 0x00FF);  // type 0
  icmp[0] = packet::icmp::kEchoReply;
  packet::store_be16(
      icmp + 2, packet::csum_replace16(packet::load_be16(icmp + 2), old_word, new_word));
  // A fresh TTL, as any host answering.
  const std::uint16_t old_ttl_word = packet::load_be16(ip + 8);
  ip[8] = 64;
  packet::store_be16(ip + 10,
                     packet::csum_replace16(packet::load_be16(ip + 10), old_ttl_word,
                                            packet::load_be16(ip + 8)));
  reply_len_ = kWholeFrame;
  ++counters_.replied_local;
  return Verdict::kReplyLocal;
}

}  // namespace nva::nat
