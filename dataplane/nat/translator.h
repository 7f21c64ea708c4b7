// One worker's NAT: connection lookup, the slow path that creates
// connections (Maglev pick, SNAT port, insert), and in-place rewrites.
//
// Fast path (a hit): state update, TTL decrement, rewrite of addresses and
// ports, checksums changed by the connection's precomputed delta. For a
// packet in direction d the new source is the other direction's destination
// and the new destination the other direction's source:
//   original (client -> VIP)       src := SNAT addr:port or client, dst := backend
//   reply (backend -> SNAT/client) src := VIP:port,                 dst := client
// Slow path (a miss on traffic to a service): creates the connection, then
// takes the fast path. Everything else is counted: see verdict.h.
//
// Owned by one worker; never shared. No allocation after construction.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "dataplane/common/counter.h"
#include "dataplane/conntrack/tracker.h"
#include "dataplane/lb/service.h"
#include "dataplane/nat/exhaustion.h"
#include "dataplane/nat/proxy_table.h"
#include "dataplane/nat/syn_cookie.h"
#include "dataplane/nat/verdict.h"
#include "dataplane/packet/parse.h"
#include "dataplane/packet/rewrite.h"
#include "dataplane/steer/owner.h"

namespace nva::nat {

// Azure's platform uses UDP port 65330 on every VM: a UDP SNAT flow on it
// would not get its replies. Never handed out for UDP (anywhere: one port).
inline constexpr std::uint16_t kAzureReservedUdpPort = 65330;

struct TranslatorConfig {
  std::uint32_t worker = 0;   // this worker's index
  std::uint32_t workers = 1;  // how many share the SNAT port space
  std::uint32_t capacity = 1u << 20;
  conntrack::TableKey table_key{};  // the index hash's secret (table.h)
  conntrack::Timeouts timeouts{};
  // kDnat services: accept a TCP packet without SYN for an unknown flow as
  // an established connection (anycast moved it here from another NVA;
  // Maglev with the same seed picks the same backend). kDnatSnat cannot:
  // the backend knows the old SNAT tuple only.
  bool tcp_pickup = true;
  // SNAT ports handed out: [snat_port_min, 65535], this worker's partition
  // (port % workers == worker), or with `rss` the ports whose reply tuple
  // the NIC steers to this worker's queue; never UDP kAzureReservedUdpPort.
  std::uint16_t snat_port_min = 1024;
  // RSS pre-calculation (shared, immutable, outlives the translator); null:
  // the static partition, replies handed off to their owner.
  const steer::RssSteering* rss = nullptr;
  // Answer ICMP echo requests to a VIP from the NVA itself.
  bool answer_vip_ping = true;
  SynProxyMode syn_proxy = SynProxyMode::kAuto;
  SynCookies::Key syn_cookie_key{};  // secret (DataplaneOptions::hash_key)
};

// X(member, "telemetry name", "what it counts"): see common/counter.h.
#define NVA_TRANSLATOR_COUNTERS(X)                                                  \
  X(forwarded, "forwarded", "packets translated and sent on")                       \
  X(replied_local, "replied_local", "packets answered by the NVA itself")           \
  X(exceptions, "nat_exceptions", "packets not for the translator (the kernel's)")  \
  X(created, "connections_created", "connections created")                          \
  X(icmp_errors, "icmp_errors_translated", "ICMP errors translated (in forwarded)") \
  /* Connections of a dead backend ended: TCP answered with an RST (in     */       \
  /* replied_local), UDP re-balanced (DeadBackendPolicy::kReset).           */      \
  X(dead_backend_resets, "dead_backend_resets", "dead backends' flows ended")       \
  /* SNAT ports taken back from an embryonic or unassured connection of    */       \
  /* the same (backend, SNAT address) when the search found none free.      */      \
  X(snat_evicted, "snat_evicted", "SNAT ports taken back from a pair's own")        \
  /* The SYN proxy: SYNs answered with a cookie; ACKs that returned a valid */      \
  /* one (each opens a connection to the backend); ACKs checked that did    */      \
  /* not (they go on as any segment without a connection); handshakes the  */       \
  /* backend completed; ones it refused (an RST, passed to the client).     */      \
  X(syn_cookies_sent, "syn_cookies_sent", "SYNs answered with a cookie")            \
  X(syn_cookies_valid, "syn_cookies_valid", "ACKs returning a valid cookie")        \
  X(syn_cookies_invalid, "syn_cookies_invalid", "ACKs checked, not a cookie")       \
  X(syn_proxy_established, "syn_proxy_established", "proxied handshakes done")      \
  X(syn_proxy_refused, "syn_proxy_refused", "proxied handshakes the backend reset") \
  X(syn_proxy_held, "syn_proxy_held", "first data segments held for the backend")

struct TranslatorCounters {
  NVA_COUNTER_SET(NVA_TRANSLATOR_COUNTERS)
  std::array<Counter, kNatDropCount> drops{};
  // Packet faults found here rather than by the parser (by
  // packet::DropReason: the checksums, verified before a packet creates a
  // connection).
  std::array<Counter, packet::kDropReasonCount> packet_drops{};
  std::uint64_t dropped() const noexcept {
    std::uint64_t n = 0;
    for (auto d : drops) n += d;
    for (auto d : packet_drops) n += d;
    return n;
  }
};

class Translator {
 public:
  explicit Translator(const TranslatorConfig& cfg);

  // Processes one IPv4 packet that parse() accepted, in place, at `now_ms`.
  // `services` is the snapshot the worker read for this burst.
  Verdict process(std::span<std::uint8_t> frame, const packet::ParsedPacket& p,
                  const lb::ServiceTable& services, std::uint32_t now_ms) noexcept;

  // The fast path for a packet whose connection the caller already found
  // (e.g. with ConnTable::lookup_bulk over a burst): state, TTL, rewrite.
  // `p` must be an IPv4 TCP/UDP non-fragment and `ref` its lookup result.
  // always_inline, as translate(): the burst loop's per-hit work.
  [[gnu::always_inline]] Verdict process_hit(std::span<std::uint8_t> frame,
                                             const packet::ParsedPacket& p,
                                             conntrack::ConnRef ref,
                                             const lb::ServiceTable& services,
                                             std::uint32_t now_ms) noexcept {
    if (services.has_dead_backends()) [[unlikely]] {
      return translate_checked(frame, p, ref, services, now_ms);
    }
    return translate(frame, p, ref, now_ms);
  }

  // process() for a packet the caller knows to be an IPv4 TCP/UDP
  // non-fragment, with its key_of(): one lookup, then process_hit() or
  // process_miss(), without process()'s classification.
  Verdict process_key(std::span<std::uint8_t> frame, const packet::ParsedPacket& p,
                      const conntrack::ConnKey& key, const lb::ServiceTable& services,
                      std::uint32_t now_ms) noexcept;

  // The slow path for a packet the caller's lookup (lookup_bulk) did not
  // find, while the key cannot have been inserted since
  // (ConnTable::inserted_since_bulk()), so looking up again would miss
  // again: process() without that lookup. `p` must be an IPv4 TCP/UDP
  // non-fragment and `key` its key_of().
  Verdict process_miss(std::span<std::uint8_t> frame, const packet::ParsedPacket& p,
                       const conntrack::ConnKey& key, const lb::ServiceTable& services,
                       std::uint32_t now_ms) noexcept;

  // After Verdict::kHold: the connection whose segment the caller keeps.
  std::uint32_t held_conn() const noexcept { return held_conn_; }
  // After a packet: the connection whose kept segment the caller must now
  // process again (the backend answered), plus one; 0 if none. Cleared.
  std::uint32_t take_release() noexcept {
    const std::uint32_t r = release_;
    release_ = 0;
    return r;
  }

  // After Verdict::kReplyLocal or kForwardResized: the packet's new frame
  // length (an RST is shorter than the packet it answers; a SYN proxy's
  // SYN-ACK may be longer than the SYN), or kWholeFrame when it keeps its
  // length. The caller trims or extends the buffer: a longer packet was
  // written within max(frame.size(), ParsedPacket::frame_room).
  static constexpr std::size_t kWholeFrame = ~std::size_t{0};
  std::size_t reply_len() const noexcept { return reply_len_; }

  // The key a packet is looked up by (its tuple as it arrives).
  static conntrack::ConnKey key_of(const packet::ParsedPacket& p) noexcept;
  // The same for an IPv4 TCP/UDP non-fragment, read from its headers in
  // `frame` where parse() found them: two loads that need not wait for the
  // parser's stores of p's address and port fields (a wide load spanning
  // several fresh narrow stores stalls until they are written back).
  static conntrack::ConnKey key_of_headers(std::span<const std::uint8_t> frame,
                                           const packet::ParsedPacket& p) noexcept {
    if constexpr (std::endian::native != std::endian::little) return key_of(p);
    std::uint64_t addrs;  // source, destination: 8 bytes in wire order
    std::uint32_t ports;  // source, destination port, likewise
    std::memcpy(&addrs, frame.data() + p.l3_offset + 12, 8);
    std::memcpy(&ports, frame.data() + p.l4_offset, 4);
    // Swapped, the loads give dst | src << 32 and dport | sport << 16; the
    // key's words are src | dst << 32 and sport | dport << 16 | proto << 32.
    addrs = std::rotl(__builtin_bswap64(addrs), 32);
    ports = std::rotl(__builtin_bswap32(ports), 16);
    return conntrack::ConnKey::from_words(addrs,
                                          ports | (std::uint64_t{p.l4_proto} << 32));
  }

  // A fragment of a TCP/UDP datagram, with the datagram's ports (learned
  // from its first fragment, see fragments.h). The first fragment is handled
  // like a whole packet; a later one only has its IP header translated, and
  // only for an existing connection.
  Verdict process_fragment(std::span<std::uint8_t> frame, const packet::ParsedPacket& p,
                           std::uint16_t src_port, std::uint16_t dst_port,
                           const lb::ServiceTable& services,
                           std::uint32_t now_ms) noexcept;

  // Expires idle connections; at most `budget` list heads per call.
  unsigned expire(std::uint32_t now_ms, unsigned budget) noexcept {
    return tracker_.expire(now_ms, budget);
  }

  const TranslatorCounters& counters() const noexcept { return counters_; }
  // SNAT port exhaustion per (backend, SNAT address), heaviest pairs.
  const ExhaustionTally& exhaustion() const noexcept { return exhaustion_; }
  conntrack::ConnTracker& tracker() noexcept { return tracker_; }
  const conntrack::ConnTracker& tracker() const noexcept { return tracker_; }
  const TranslatorConfig& config() const noexcept { return cfg_; }
  // Memory per connection of capacity: the table's and the SYN proxy's.
  double bytes_per_conn() const noexcept {
    return tracker_.table().bytes_per_conn() +
           static_cast<double>(proxy_.bytes()) / tracker_.table().capacity();
  }
  // Whether a SYN to a TCP service gets a cookie now (SynProxyMode).
  bool syn_cookies_active(std::uint32_t now_ms) const noexcept {
    return cfg_.syn_proxy == SynProxyMode::kOn ||
           (cfg_.syn_proxy == SynProxyMode::kAuto &&
            (tracker_.list_size(conntrack::TimeoutClass::kTcpEmbryonic) >= high_water_ ||
             (pressure_ && now_ms - pressure_ms_ < kPressureHoldMs)));
  }

  NatDrop last_drop() const noexcept { return last_drop_; }

  // The sequence facts of a TCP packet whose header parse() found in `frame`.
  static conntrack::TcpSegment tcp_segment(std::span<const std::uint8_t> frame,
                                           const packet::ParsedPacket& p) noexcept {
    const std::uint8_t* t = frame.data() + p.l4_offset;
    conntrack::TcpSegment s;
    s.flags = p.tcp_flags;
    s.seq = packet::load_be32(t + 4);
    s.ack = packet::load_be32(t + 8);
    const std::uint32_t hdr = static_cast<std::uint32_t>(t[12] >> 4) * 4;
    s.end = s.seq + (p.l3_end - p.l4_offset - hdr);  // the payload's end
    return s;
  }

 private:
  // A connection whose SNAT port a new one may take (pick_snat_port()).
  struct SnatVictim {
    std::uint32_t idx = conntrack::ConnRef::kNone;
    std::uint16_t port = 0;
    std::uint32_t idle_ms = 0;
  };
  Verdict drop(NatDrop why) noexcept;
  Verdict drop(packet::DropReason why) noexcept;
  // Whether a packet about to create a connection has good IPv4 and L4
  // checksums: the NIC's word (p.rx_csum) where it gave one, else computed
  // here over `frame`, which then must hold the datagram. A first fragment's
  // L4 checksum covers the whole datagram and is not checked.
  // always_inline: the slow path's three calls made GCC outline it, for
  // ~+75 instructions per new connection.
  [[gnu::always_inline]] bool checksums_ok(std::span<const std::uint8_t> frame,
                                           const packet::ParsedPacket& p) noexcept;
  // Creates the connection of a packet that missed; `check_checksums`:
  // checksums_ok() first (always, but for a flow re-balanced off a dead
  // backend whose packet cannot be checked here).
  Verdict slow_path(std::span<std::uint8_t> frame, const packet::ParsedPacket& p,
                    const conntrack::ConnKey& key, const lb::Service& svc,
                    std::uint32_t now_ms, bool check_checksums = true) noexcept;
  Verdict process_l4(std::span<std::uint8_t> frame, const packet::ParsedPacket& p,
                     const lb::ServiceTable& services, std::uint32_t now_ms) noexcept;
  Verdict translate(std::span<std::uint8_t> frame, const packet::ParsedPacket& p,
                    conntrack::ConnRef ref, std::uint32_t now_ms) noexcept;
  // translate() after the state step: the rewrite (TTL > 1 checked).
  Verdict rewrite(std::span<std::uint8_t> frame, const packet::ParsedPacket& p,
                  conntrack::ConnRef ref) noexcept;
  // rewrite() out of line, for the slow paths: one inlined copy (the hit
  // path's) keeps GCC inlining rewrite_ipv4_tuple() there (with more
  // copies it stopped, for +15 instructions per established packet).
  [[gnu::noinline]] Verdict rewrite_cold(std::span<std::uint8_t> frame,
                                         const packet::ParsedPacket& p,
                                         conntrack::ConnRef ref) noexcept;
  // translate() after the dead-backend check (DeadBackendPolicy::kReset).
  Verdict translate_checked(std::span<std::uint8_t> frame, const packet::ParsedPacket& p,
                            conntrack::ConnRef ref, const lb::ServiceTable& services,
                            std::uint32_t now_ms) noexcept;
  Verdict answer_ping(std::span<std::uint8_t> frame,
                      const packet::ParsedPacket& p) noexcept;
  // Turns a client's TCP segment into the RST that answers it, in place.
  Verdict answer_rst(std::span<std::uint8_t> frame,
                     const packet::ParsedPacket& p) noexcept;
  Verdict icmp_error(std::span<std::uint8_t> frame, const packet::ParsedPacket& p,
                     const lb::ServiceTable& services, std::uint32_t now_ms) noexcept;
  // A free SNAT port for the reply tuple whose reply owner() is this
  // worker; 0 if none after a bounded search. `victim` gets the longest
  // idle evictable connection (embryonic, unassured, unreplied UDP or
  // closed: ConnTracker::evictable()) of the ports it found taken.
  std::uint16_t pick_snat_port(conntrack::ConnKey& reply, std::uint32_t now_ms,
                               SnatVictim& victim) noexcept;
  std::uint16_t pick_snat_port_rss(conntrack::ConnKey& reply, std::uint32_t now_ms,
                                   SnatVictim& victim) noexcept;
  // A taken port of the search: a victim if it is evictable and idler.
  void consider_victim(conntrack::ConnRef r, std::uint16_t port, std::uint32_t now_ms,
                       SnatVictim& victim) const noexcept;

  // SYN proxy (DPVS's synproxy is the model). A SYN is answered with a
  // SYN-ACK whose sequence number is a SYN cookie (syn_cookie.h); nothing
  // is stored. The client's ACK of it opens the connection: the backend is
  // picked as for any new connection and the ACK becomes the SYN to it
  // (the client's ISN and the MSS from the cookie); the backend's SYN-ACK
  // is answered by the NVA with the handshake's last ACK, and from then on
  // the backend's sequence numbers (and the client's acknowledgements of
  // them) are moved by the difference between the backend's ISN and the
  // cookie. While the backend has not answered, a client segment sends the
  // SYN again (the first may have been lost) and a backend RST goes to the
  // client as an RST it accepts.
  // Per proxied connection: the cookie, then the offset (proxy_); while
  // the backend has not answered, the client's window, the cookie's MSS
  // index and whether a segment is held wait in Conn::seq_next[kReply]
  // (unused until then), as window << 8 | kProxyHeld | index.
  static constexpr std::uint32_t kProxyHeld = 1u << 2;
  // The SYN of a TCP service: the cookie SYN-ACK, in place.
  Verdict answer_syn_cookie(std::span<std::uint8_t> frame, const packet::ParsedPacket& p,
                            std::uint32_t now_ms) noexcept;
  // A TCP segment's tracking, rewrite and sequence moves for a connection
  // the SYN proxy opened (kConnSynProxy).
  Verdict translate_proxied(std::span<std::uint8_t> frame, const packet::ParsedPacket& p,
                            conntrack::ConnRef ref, std::uint32_t now_ms) noexcept;
  // Rewrites the client's segment of connection `idx` into the proxy's SYN
  // to the backend (before the connection's translation), in place, with
  // the MSS option where the buffer has room for it; false if the frame is
  // shorter than a TCP header.
  bool write_proxy_syn(std::span<std::uint8_t> frame, const packet::ParsedPacket& p,
                       std::uint32_t idx) noexcept;
  // Marks this worker under pressure (SYN cookies in kAuto) for a while.
  // Kept as when it last was and read as an unsigned distance, like the
  // last cookie's time: the clock (the TSC's milliseconds since boot) wraps
  // at 2^32, and a signed distance to an end time that starts at 0 read
  // "under pressure" whenever the clock was past 2^31 (24.8 days of
  // uptime). What is left: 1 s of cookies 49.7 days after the last
  // pressure if there has been none since.
  void note_pressure(std::uint32_t now_ms) noexcept {
    pressure_ = true;
    pressure_ms_ = now_ms;
  }
  static constexpr std::uint32_t kPressureHoldMs = 1000;

  TranslatorConfig cfg_;
  conntrack::ConnTracker tracker_;
  TranslatorCounters counters_;
  ExhaustionTally exhaustion_;
  std::uint32_t snat_cursor_;
  std::uint32_t snat_first_ = 0, snat_slots_ = 0;  // the static SNAT partition
  NatDrop last_drop_ = NatDrop::kNone;
  std::size_t reply_len_ = kWholeFrame;
  // SYN proxy: the cookies, the cookies and offsets of proxied connections
  // (proxy_table.h), the number of
  // embryonic connections from which kAuto answers with cookies (a quarter
  // of the capacity), when the last pressure was (a SNAT pair out of
  // ports, a connection evicted or refused for room) and when a cookie
  // was last sent (ACKs are checked for cookies only for two cookie
  // lifetimes after it, or always with kOn).
  SynCookies cookies_;
  ProxyTable proxy_;
  std::uint32_t high_water_ = 0;
  std::uint32_t pressure_ms_ = 0;
  std::uint32_t held_conn_ = 0;  // held_conn()
  std::uint32_t release_ = 0;    // take_release()
  bool pressure_ = false;
  std::uint32_t cookie_sent_ms_ = 0;
  bool cookie_sent_ = false;
};

// A hit's work, inline (it is every established packet's): state and
// sequence checks, TTL, rewrite to the other direction's tuple with the
// connection's precomputed checksum change.
[[gnu::always_inline]] inline Verdict Translator::translate(
    std::span<std::uint8_t> frame, const packet::ParsedPacket& p, conntrack::ConnRef ref,
    std::uint32_t now_ms) noexcept {
  if (p.ttl <= 1) return drop(NatDrop::kTtlExceeded);
  const conntrack::Dir dir = ref.dir();
  if (p.l4_proto == packet::ipproto::kTcp && p.frag != packet::FragState::kLater) {
    if ((tracker_.table().conn(ref.index()).flags & conntrack::kConnSynProxy) != 0)
        [[unlikely]] {
      return translate_proxied(frame, p, ref, now_ms);
    }
    if (tracker_.on_tcp(ref.index(), dir, tcp_segment(frame, p), now_ms) ==
        conntrack::SegmentVerdict::kDrop) {
      return drop(NatDrop::kTcpOutOfWindow);
    }
  } else {
    tracker_.on_packet(ref.index(), dir, p.tcp_flags, now_ms);
  }
  return rewrite(frame, p, ref);
}

[[gnu::always_inline]] inline Verdict Translator::rewrite(
    std::span<std::uint8_t> frame, const packet::ParsedPacket& p,
    conntrack::ConnRef ref) noexcept {
  const unsigned dir = static_cast<unsigned>(ref.dir());
  const conntrack::Conn& c = tracker_.table().conn(ref.index());
  const conntrack::ConnKey& other = c.key[1 - dir];
  packet::rewrite_ipv4_tuple(frame, p, other.reversed_addrs_wire(),
                             other.reversed_ports_wire(), c.delta[dir]);
  ++counters_.forwarded;
  return Verdict::kForward;
}

}  // namespace nva::nat
