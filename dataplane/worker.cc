// The worker loop (see worker.h).
#include "dataplane/worker.h"

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf_dyn.h>

#include <cstring>
#include <stdexcept>

#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"
#include "dataplane/packet/mbuf.h"
#include "dataplane/packet/protocols.h"

namespace nva {

namespace {

// A fragment handed to its connection's owner carries the datagram's ports
// in an mbuf dynamic field, marked by a dynamic flag.
struct FragPortsField {
  int offset = -1;
  std::uint64_t flag = 0;
};

const FragPortsField& frag_ports_field() {
  static const FragPortsField f = [] {
    FragPortsField r;
    const rte_mbuf_dynfield field = {"nva_frag_ports", sizeof(std::uint32_t),
                                     alignof(std::uint32_t), 0};
    const rte_mbuf_dynflag flag = {"nva_frag_ports_valid", 0};
    r.offset = rte_mbuf_dynfield_register(&field);
    const int bit = rte_mbuf_dynflag_register(&flag);
    if (r.offset < 0 || bit < 0) {
      throw std::runtime_error(
          "cannot register the mbuf dynamic field for fragment ports");
    }
    r.flag = 1ull << bit;
    return r;
  }();
  return f;
}

void set_frag_ports(rte_mbuf* m, std::uint16_t src, std::uint16_t dst) noexcept {
  const FragPortsField& f = frag_ports_field();
  *RTE_MBUF_DYNFIELD(m, f.offset, std::uint32_t*) = (std::uint32_t{src} << 16) | dst;
  m->ol_flags |= f.flag;
}

bool get_frag_ports(rte_mbuf* m, nat::FragmentTracker::Ports& out) noexcept {
  const FragPortsField& f = frag_ports_field();
  if ((m->ol_flags & f.flag) == 0) return false;
  const std::uint32_t v = *RTE_MBUF_DYNFIELD(m, f.offset, const std::uint32_t*);
  out = {true, static_cast<std::uint16_t>(v >> 16), static_cast<std::uint16_t>(v)};
  m->ol_flags &= ~f.flag;  // consumed: nothing of ours reaches the PMD
  return true;
}

// What the first buffer of `m` can hold from the frame's start (its data
// and the room after it), for the translator's longer answers (the SYN
// proxy's); the slow paths only.
std::uint16_t frame_room_of(const rte_mbuf* m) noexcept {
  return static_cast<std::uint16_t>(m->buf_len - m->data_off);
}

// The NIC's word on a packet's checksums (the mbuf's ol_flags), for the
// translator's check before the packet creates a connection. For a chained
// packet the NIC did not check, also the L4 sum over all its segments: the
// translator sees only the first. Called on the slow paths only.
std::uint8_t rx_csum_of(const rte_mbuf* m, const packet::ParsedPacket& p) noexcept {
  std::uint8_t r = 0;
  switch (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
    case RTE_MBUF_F_RX_IP_CKSUM_GOOD:
    case RTE_MBUF_F_RX_IP_CKSUM_NONE:  // not right in the data, but verified
      r |= packet::kRxCsumIpGood;
      break;
    case RTE_MBUF_F_RX_IP_CKSUM_BAD:
      r |= packet::kRxCsumIpBad;
      break;
    default:
      break;  // unknown: checked in software
  }
  switch (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) {
    case RTE_MBUF_F_RX_L4_CKSUM_GOOD:
    case RTE_MBUF_F_RX_L4_CKSUM_NONE:
      r |= packet::kRxCsumL4Good;
      break;
    case RTE_MBUF_F_RX_L4_CKSUM_BAD:
      r |= packet::kRxCsumL4Bad;
      break;
    default:
      break;
  }
  if ((r & (packet::kRxCsumL4Good | packet::kRxCsumL4Bad)) != 0 || m->nb_segs == 1 ||
      p.l3 != packet::L3Kind::kIpv4 || !p.has_ports ||
      p.frag != packet::FragState::kNone) {
    return r;
  }
  // The L4 header is in the first segment (parse_mbuf() saw to it).
  const auto* l4 = rte_pktmbuf_mtod_offset(m, const std::uint8_t*, p.l4_offset);
  if (p.l4_proto == packet::ipproto::kUdp && packet::load_be16(l4 + 6) == 0) {
    return r | packet::kRxCsumL4Good;  // no checksum (RFC 768)
  }
  std::uint16_t raw = 0;
  if (rte_raw_cksum_mbuf(m, p.l4_offset, p.l4_len(), &raw) != 0) {
    return r | packet::kRxCsumL4Bad;  // shorter than its headers say
  }
  // DPDK sums native-order words; ours are big-endian.
  const bool ok = packet::ipv4_l4_sum_ok(rte_be_to_cpu_16(raw), p.l4_len(), p.ipv4_src,
                                         p.ipv4_dst, p.l4_proto);
  return r | (ok ? packet::kRxCsumL4Good : packet::kRxCsumL4Bad);
}

}  // namespace

Worker::Worker(const WorkerConfig& cfg, RcuDomain& rcu,
               const RcuPublished<lb::ServiceTable>& services,
               steer::HandoffRings& handoff, Clock& clock)
    : cfg_(cfg),
      rcu_(rcu),
      services_(services),
      handoff_(handoff),
      clock_(clock),
      nat_([&] {
        nat::TranslatorConfig n = cfg.nat;
        n.worker = cfg.id;
        n.workers = cfg.workers;
        const bool snat_by_flow =
            cfg.flow != nullptr && cfg.flow->steers(steer::FlowClass::kSnatReturn);
        n.rss = snat_by_flow ? nullptr : cfg.rss;
        return n;
      }()),
      frags_(cfg.fragments),
      owner_params_{cfg.workers, cfg.owner_seed, cfg.rss, cfg.flow},
      tx_(cfg.ports.size()),
      out_(cfg.workers),
      out_n_(cfg.workers, 0) {
  if (cfg.workers != handoff.workers()) {
    throw std::invalid_argument("worker " + std::to_string(cfg.id) + ": " +
                                std::to_string(cfg.workers) + " workers but " +
                                std::to_string(handoff.workers()) + " handoff rings");
  }
  (void)frag_ports_field();  // registered before the first packet
  released_.reserve(nat::FragmentTracker::kMaxHeld);
  // Online only while run() polls: a worker driven by poll_once() from the
  // control thread itself (replay, tests) must not make publish() wait.
  rcu_.register_reader(cfg_.id);
}

Worker::~Worker() {
  for (std::size_t i = 0; i < tx_.size(); ++i) flush(i);
  rcu_.unregister_reader(cfg_.id);
}

void Worker::flush(std::size_t pi) noexcept {
  TxBuffer& b = tx_[pi];
  if (b.n == 0) return;
  const PortBinding& pb = cfg_.ports[pi];
  const std::uint16_t sent = rte_eth_tx_burst(pb.port_id, pb.queue, b.pkts.data(),
                                              static_cast<std::uint16_t>(b.n));
  counters_.tx += sent;
  for (unsigned i = sent; i < b.n; ++i) rte_pktmbuf_free(b.pkts[i]);
  counters_.tx_dropped += b.n - sent;
  b.n = 0;
}

void Worker::send(std::size_t pi, rte_mbuf* m) noexcept {
  TxBuffer& b = tx_[pi];
  b.pkts[b.n++] = m;
  if (b.n == kBurst) flush(pi);
}

void Worker::forward(std::size_t pi, rte_mbuf* m) noexcept {
  const PortBinding& pb = cfg_.ports[pi];
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  rte_ether_addr_copy(&pb.gateway_mac, &eth->dst_addr);
  rte_ether_addr_copy(&pb.mac, &eth->src_addr);
  send(pi, m);
}

void Worker::flush_handoff() noexcept {
  for (std::uint32_t w = 0; w < cfg_.workers; ++w) {
    const unsigned n = out_n_[w];
    if (n == 0) continue;
    const unsigned in = handoff_.enqueue(w, out_[w].data(), n);
    counters_.handoff_out += in;
    for (unsigned i = in; i < n; ++i) rte_pktmbuf_free(out_[w][i]);
    counters_.handoff_dropped += n - in;
    out_n_[w] = 0;
  }
}

std::size_t Worker::port_index_of(const rte_mbuf* m) const noexcept {
  std::size_t pi = 0;
  while (pi + 1 < cfg_.ports.size() && cfg_.ports[pi].port_id != m->port) ++pi;
  return pi;
}

namespace {
// Per-burst scratch that is written before it is read: left uninitialised
// (default member initialisers would zero kilobytes per burst).
template <typename T>
union Uninit {
  Uninit() {}
  T v;
};
}  // namespace

void Worker::process_burst(rte_mbuf** pkts, unsigned n, std::size_t pi, bool from_handoff,
                           const lb::ServiceTable& svc, std::uint32_t now) noexcept {
  Uninit<packet::ParsedPacket> parsed_s[kBurst];
  Uninit<conntrack::ConnKey> keys_s[kBurst];
  Uninit<conntrack::ConnTable::Probe> probes_s[kBurst];
  auto parsed = [&](unsigned i) -> packet::ParsedPacket& { return parsed_s[i].v; };
  packet::DropReason reason[kBurst];
  std::int8_t fast[kBurst];     // index into keys/probes, or -1: handle() it
  std::size_t port_of[kBurst];  // port index of each packet (handoff: its own)
  unsigned nfast = 0;
  const conntrack::ConnTable& table = nat_.tracker().table();
  // Stage 1: parse; hand packets owned elsewhere over; gather the keys of
  // the plain TCP/UDP packets this worker owns.
  for (unsigned i = 0; i < n; ++i) {
    if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void*));
    rte_mbuf* m = pkts[i];
    packet::ParsedPacket& p = parsed(i);
    reason[i] = packet::parse_mbuf(m, p);
    fast[i] = -1;
    const std::size_t mpi = port_of[i] = from_handoff ? port_index_of(m) : pi;
    const bool plain = reason[i] == packet::DropReason::kNone &&
                       p.l3 == packet::L3Kind::kIpv4 && p.has_ports &&
                       p.frag == packet::FragState::kNone &&
                       !rte_is_zero_ether_addr(&cfg_.ports[mpi].gateway_mac);
    if (!plain) continue;
    if (!from_handoff && cfg_.workers > 1) {  // one worker owns everything
      const std::uint32_t o =
          steer::owner(packet::first_segment(m), p, svc, owner_params_);
      if (o != steer::kAnyWorker && o != cfg_.id) {
        to_worker(o, m);
        pkts[i] = nullptr;
        continue;
      }
    }
    keys_s[nfast].v = nat::Translator::key_of_headers(packet::first_segment(m), p);
    table.probe_start(keys_s[nfast].v, probes_s[nfast].v);  // its bucket prefetched
    fast[i] = static_cast<std::int8_t>(nfast++);
  }
  // Stage 2: the burst's buckets matched, the records prefetched.
  conntrack::ConnTable::Probe* probes = &probes_s[0].v;
  static_assert(sizeof(Uninit<conntrack::ConnTable::Probe>) ==
                sizeof(conntrack::ConnTable::Probe));
  if (nfast != 0) table.probe_buckets(probes, nfast);
  // Stage 3, in arrival order: hits take the fast path, misses the
  // translator's slow path, everything else handle().
  const std::uint32_t erases = table.erases();
  for (unsigned i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    if (m == nullptr) continue;
    const std::size_t mpi = port_of[i];
    if (fast[i] < 0) {
      handle(m, parsed(i), reason[i], mpi, from_handoff, svc, now);
      continue;
    }
    const conntrack::ConnKey& key = keys_s[fast[i]].v;
    const conntrack::ConnRef ref = table.probe_finish(key, probes[fast[i]]);
    const std::span<std::uint8_t> frame = packet::first_segment(m);
    nat::Verdict v;
    // The lookup's answer stands unless a slow path earlier in this burst
    // erased a connection (a hit's record may have been freed and reused)
    // or may have inserted this key: then look again.
    // Only a miss can create a connection, and only then do the
    // checksums matter (rx_csum_of()).
    if (ref.found() ? table.erases() == erases : !table.inserted_since_bulk(key)) {
      if (ref.found()) {
        v = nat_.process_hit(frame, parsed(i), ref, svc, now);
      } else {
        parsed(i).rx_csum = rx_csum_of(m, parsed(i));
        parsed(i).frame_room = frame_room_of(m);
        v = nat_.process_miss(frame, parsed(i), key, svc, now);
      }
    } else {
      parsed(i).rx_csum = rx_csum_of(m, parsed(i));
      parsed(i).frame_room = frame_room_of(m);
      v = nat_.process_key(frame, parsed(i), key, svc, now);
    }
    // Stage 1 saw this port's gateway MAC known (it never becomes unknown
    // again), so a forward needs no check.
    if (v == nat::Verdict::kForward) {
      forward(mpi, m);
    } else {
      finish(v, m, mpi);
    }
  }
}

void Worker::handle(rte_mbuf* m, packet::ParsedPacket& p, packet::DropReason r,
                    std::size_t pi, bool from_handoff, const lb::ServiceTable& svc,
                    std::uint32_t now) noexcept {
  PortBinding& pb = cfg_.ports[pi];
  if (r != packet::DropReason::kNone && r != packet::DropReason::kNotIp) {
    ++counters_.parse_drops[static_cast<std::size_t>(r)];
    rte_pktmbuf_free(m);
    return;
  }
  // Without a gateway address, learn the next hop from the first packet
  // (in an Azure VNet everything arrives from the gateway).
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  if (pb.gateway_ip == 0 && rte_is_zero_ether_addr(&pb.gateway_mac) &&
      m->data_len >= sizeof(rte_ether_hdr)) {
    rte_ether_addr_copy(&eth->src_addr, &pb.gateway_mac);
    ++counters_.gateway_learned;
  }
  if (r == packet::DropReason::kNotIp) {
    if (pb.gateway_ip != 0) learn_from_arp(m, p, pb);
    ++counters_.exception_dropped;  // ARP & co.: the kernel's (no exception path yet)
    rte_pktmbuf_free(m);
    return;
  }
  // From here on the translator may create a connection for the packet.
  p.rx_csum = rx_csum_of(m, p);
  p.frame_room = frame_room_of(m);
  if (p.l3 == packet::L3Kind::kIpv4 && p.frag != packet::FragState::kNone &&
      (svc.is_vip(p.ipv4_dst) || svc.is_snat_addr(p.ipv4_dst) ||
       svc.is_dnat_backend_addr(p.ipv4_src))) {
    nat::FragmentTracker::Ports ports;
    if (get_frag_ports(m, ports)) {  // handed to us as the connection's owner
      finish(nat_.process_fragment(packet::first_segment(m), p, ports.src, ports.dst, svc,
                                   now),
             m, pi);
      return;
    }
    const std::uint32_t f = nat::fragment_owner(p, cfg_.workers, cfg_.owner_seed);
    if (f != cfg_.id) {
      to_worker(f, m);
      return;
    }
    fragment_at_tracker(m, p, pi, svc, now);
    return;
  }
  if (!from_handoff) {
    const std::uint32_t o = steer::owner(packet::first_segment(m), p, svc, owner_params_);
    if (o != steer::kAnyWorker && o != cfg_.id) {
      to_worker(o, m);
      return;
    }
  }
  finish(nat_.process(packet::first_segment(m), p, svc, now), m, pi);
}

void Worker::to_worker(std::uint32_t w, rte_mbuf* m) noexcept {
  out_[w][out_n_[w]++] = m;
  if (out_n_[w] == kBurst) flush_handoff();
}

void Worker::finish(nat::Verdict v, rte_mbuf* m, std::size_t pi) noexcept {
  PortBinding& pb = cfg_.ports[pi];
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  switch (v) {
    case nat::Verdict::kForwardResized:
      resize(m);
      [[fallthrough]];
    case nat::Verdict::kForward:
      if (rte_is_zero_ether_addr(&pb.gateway_mac)) {  // ARP has not answered yet
        ++counters_.no_next_hop;
        rte_pktmbuf_free(m);
        return;
      }
      forward(pi, m);
      return;
    case nat::Verdict::kReplyLocal:
      resize(m);
      rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
      rte_ether_addr_copy(&pb.mac, &eth->src_addr);
      send(pi, m);
      // The SYN proxy's last ACK to a backend: the client's held segment
      // follows it.
      if (const std::uint32_t r = nat_.take_release(); r != 0) [[unlikely]] {
        release_held(r - 1);
      }
      return;
    case nat::Verdict::kHold:
      hold(m, pi);
      return;
    case nat::Verdict::kException:
      ++counters_.exception_dropped;
      rte_pktmbuf_free(m);
      return;
    case nat::Verdict::kDrop:
      rte_pktmbuf_free(m);
      return;
  }
}

// A packet the translator rewrote to another length (reply_len()): an RST
// keeps its headers only, a SYN proxy's packet may be longer, written
// within the first buffer (ParsedPacket::frame_room). Either way the packet
// is that buffer alone.
void Worker::resize(rte_mbuf* m) noexcept {
  const std::size_t len = nat_.reply_len();
  if (len == nat::Translator::kWholeFrame || len == rte_pktmbuf_pkt_len(m)) return;
  if (m->next != nullptr) {
    rte_pktmbuf_free(m->next);
    m->next = nullptr;
    m->nb_segs = 1;
  }
  m->data_len = static_cast<std::uint16_t>(len);
  m->pkt_len = static_cast<std::uint32_t>(len);
}

void Worker::hold(rte_mbuf* m, std::size_t pi) noexcept {
  if (proxy_held_n_ == proxy_held_.size()) {  // full: the oldest goes
    rte_pktmbuf_free(proxy_held_[0].m);
    ++counters_.proxy_held_full;
    std::move(proxy_held_.begin() + 1, proxy_held_.end(), proxy_held_.begin());
    --proxy_held_n_;
  }
  proxy_held_[proxy_held_n_++] = {m, nat_.held_conn(), clock_.now_ms(), pi};
}

// Each segment held for connection `conn` goes through the translator again,
// looked up by its own tuple (were the connection gone and its record
// reused, the segment finds what its tuple finds, as any packet would).
void Worker::release_held(std::uint32_t conn) noexcept {
  for (unsigned i = 0; i < proxy_held_n_;) {
    if (proxy_held_[i].conn != conn) {
      ++i;
      continue;
    }
    const ProxyHeld h = proxy_held_[i];
    std::move(proxy_held_.begin() + i + 1, proxy_held_.begin() + proxy_held_n_,
              proxy_held_.begin() + i);
    --proxy_held_n_;
    ++counters_.proxy_released;
    packet::ParsedPacket p;
    if (cur_svc_ == nullptr || packet::parse_mbuf(h.m, p) != packet::DropReason::kNone) {
      ++counters_.proxy_held_timeout;  // cannot be: parsed before
      rte_pktmbuf_free(h.m);
      continue;
    }
    p.rx_csum = rx_csum_of(h.m, p);
    p.frame_room = frame_room_of(h.m);
    finish(nat_.process(packet::first_segment(h.m), p, *cur_svc_, cur_now_), h.m,
           h.port_index);
  }
}

void Worker::expire_held(std::uint32_t now, bool all) noexcept {
  unsigned n = 0;
  while (n < proxy_held_n_ && (all || now - proxy_held_[n].since_ms >= kProxyHeldMs)) {
    rte_pktmbuf_free(proxy_held_[n].m);
    ++counters_.proxy_held_timeout;
    ++n;
  }
  if (n == 0) return;
  std::move(proxy_held_.begin() + n, proxy_held_.begin() + proxy_held_n_,
            proxy_held_.begin());
  proxy_held_n_ -= n;
}

void Worker::flush_held() noexcept {
  frags_.flush();
  expire_held(0, true);
}

void Worker::fragment_at_tracker(rte_mbuf* m, const packet::ParsedPacket& p,
                                 std::size_t pi, const lb::ServiceTable& svc,
                                 std::uint32_t now) noexcept {
  released_.clear();
  const nat::FragmentTracker::Ports ports = frags_.on_fragment(m, p, now, released_);
  if (ports.known) fragment_to_owner(m, p, ports, pi, svc, now);
  for (rte_mbuf* r : released_) {
    packet::ParsedPacket rp;
    if (packet::parse_mbuf(r, rp) != packet::DropReason::kNone) {  // parsed before
      rte_pktmbuf_free(r);
      continue;
    }
    fragment_to_owner(r, rp, ports, pi, svc, now);
  }
}

void Worker::fragment_to_owner(rte_mbuf* m, const packet::ParsedPacket& p,
                               const nat::FragmentTracker::Ports& ports, std::size_t pi,
                               const lb::ServiceTable& svc, std::uint32_t now) noexcept {
  const std::uint32_t o = steer::owner_of_tuple(
      p.ipv4_src, ports.src, p.ipv4_dst, ports.dst, p.l4_proto, svc, owner_params_);
  if (o != steer::kAnyWorker && o != cfg_.id) {
    set_frag_ports(m, ports.src, ports.dst);
    to_worker(o, m);
    return;
  }
  finish(
      nat_.process_fragment(packet::first_segment(m), p, ports.src, ports.dst, svc, now),
      m, pi);
}

void Worker::learn_from_arp(const rte_mbuf* m, const packet::ParsedPacket& p,
                            PortBinding& pb) noexcept {
  // RFC 826 over Ethernet/IPv4 only.
  if (p.ethertype != packet::ethertype::kArp ||
      m->data_len < p.l3_offset + sizeof(rte_arp_hdr)) {
    return;
  }
  const auto* a = rte_pktmbuf_mtod_offset(m, const rte_arp_hdr*, p.l3_offset);
  if (a->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
      a->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
      a->arp_hlen != RTE_ETHER_ADDR_LEN || a->arp_plen != sizeof(rte_be32_t)) {
    return;
  }
  // The sender is not the gateway.
  if (rte_be_to_cpu_32(a->arp_data.arp_sip) != pb.gateway_ip) return;
  const rte_ether_addr mac = a->arp_data.arp_sha;  // a copy: the header is packed
  if (!rte_is_valid_assigned_ether_addr(&mac)) return;
  std::uint64_t v = 0;
  std::memcpy(&v, mac.addr_bytes, 6);
  v |= 1ull << 63;  // known, even if the MAC were all zero bits in the low part
  if (pb.learned_mac != nullptr) pb.learned_mac->store(v, std::memory_order_relaxed);
  if (!rte_is_same_ether_addr(&mac, &pb.gateway_mac)) {
    rte_ether_addr_copy(&mac, &pb.gateway_mac);
    ++counters_.gateway_learned;
  }
}

// Picks up what any worker learned by ARP; worker 0 asks once a second for
// a gateway whose MAC is still unknown.
void Worker::resolve_gateways(std::uint32_t now) noexcept {
  for (std::size_t pi = 0; pi < cfg_.ports.size(); ++pi) {
    PortBinding& pb = cfg_.ports[pi];
    if (pb.gateway_ip == 0) continue;
    if (pb.learned_mac != nullptr) {
      const std::uint64_t v = pb.learned_mac->load(std::memory_order_relaxed);
      if (v != 0) std::memcpy(pb.gateway_mac.addr_bytes, &v, 6);
    }
    if (!rte_is_zero_ether_addr(&pb.gateway_mac) || cfg_.id != 0 ||
        cfg_.pool == nullptr) {
      continue;
    }
    if (arp_sent_ && static_cast<std::int32_t>(now - last_arp_ms_) < 1000) continue;
    rte_mbuf* m = rte_pktmbuf_alloc(cfg_.pool);
    if (m == nullptr) continue;
    // The shortest Ethernet frame: the request, then zero padding.
    constexpr std::uint16_t kFrameLen = RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN;
    static_assert(sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr) <= kFrameLen);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(m, kFrameLen));
    if (eth == nullptr) {
      rte_pktmbuf_free(m);
      continue;
    }
    std::memset(eth, 0, kFrameLen);
    std::memset(&eth->dst_addr, 0xFF, RTE_ETHER_ADDR_LEN);  // broadcast
    eth->src_addr = pb.mac;                                 // from the port
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
    auto* a = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    a->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
    a->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    a->arp_hlen = RTE_ETHER_ADDR_LEN;
    a->arp_plen = sizeof(rte_be32_t);
    a->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
    a->arp_data.arp_sha = pb.mac;  // target MAC: zero, unknown
    a->arp_data.arp_sip = rte_cpu_to_be_32(pb.local_ip);
    a->arp_data.arp_tip = rte_cpu_to_be_32(pb.gateway_ip);
    send(pi, m);
    ++counters_.arp_requests;
    arp_sent_ = true;
    last_arp_ms_ = now;
  }
}

unsigned Worker::poll_once() noexcept {
  const lb::ServiceTable* svc = services_.read();
  const std::uint32_t now = clock_.now_ms();
  cur_svc_ = svc;
  cur_now_ = now;
  resolve_gateways(now);
  unsigned handled = 0;
  rte_mbuf* burst[kBurst];
  if (svc != nullptr) {
    for (std::size_t pi = 0; pi < cfg_.ports.size(); ++pi) {
      const PortBinding& pb = cfg_.ports[pi];
      const std::uint16_t n = rte_eth_rx_burst(pb.port_id, pb.queue, burst, kBurst);
      counters_.rx += n;
      handled += n;
      if (n != 0) process_burst(burst, n, pi, false, *svc, now);
    }
    flush_handoff();
    const unsigned h = handoff_.dequeue(cfg_.id, burst, kBurst);
    counters_.handoff_in += h;
    handled += h;
    // Sent back out of the port each came in on (one-armed).
    if (h != 0) process_burst(burst, h, 0, true, *svc, now);
    for (std::size_t pi = 0; pi < tx_.size(); ++pi) flush(pi);
    nat_.expire(now, cfg_.expire_budget);
    frags_.expire(now, 16);
    if (proxy_held_n_ != 0) [[unlikely]]
      expire_held(now, false);
  }
  ++counters_.polls;
  heartbeat_.store(heartbeat_.load(std::memory_order_relaxed) + 1,
                   std::memory_order_relaxed);
  if (online_) rcu_.quiescent(cfg_.id);
  return handled;
}

void Worker::run(const std::atomic<bool>& stop) noexcept {
  rcu_.online(cfg_.id);
  online_ = true;
  while (!stop.load(std::memory_order_relaxed)) {
    if (test_stall.load(std::memory_order_relaxed)) {
      rte_pause();
      continue;
    }
    if (poll_once() != 0) {
      empty_polls_ = 0;
      continue;
    }
    if (cfg_.idle.sleep && ++empty_polls_ >= cfg_.idle.empty_polls_before_sleep) {
      rcu_.offline(cfg_.id);
      rte_delay_us_sleep(cfg_.idle.sleep_us);
      rcu_.online(cfg_.id);
      ++counters_.idle_sleeps;
    }
  }
  online_ = false;
  rcu_.offline(cfg_.id);
}

}  // namespace nva
