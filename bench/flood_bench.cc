// BM_Worker_UnderFlood/<kind>/flood:<k> (issue 12): the goodput of 1e5
// established connections while a hostile flood is mixed into the same
// bursts at k times their packet rate, as a ratio to the same traffic
// without it; honest handshakes accepted meanwhile; established
// connections lost.
//
// Two pipelines (bench/pipeline.h) in one benchmark, each with its own
// worker and table (the default capacity, 2^20) holding the same 1e5
// established `dnat+snat` connections: "no flood" gets only their ACKs,
// "flood" the same ACKs with flood packets mixed in at random positions,
// k flood packets per ACK on average. Their bursts alternate in stretches
// of 256 (a few hundred microseconds to a few milliseconds), each timed
// (thread CPU time, see timed_loop), so the VM's speed phases (seconds
// long, docs/BENCHMARKS.md) fall on both alike; the flood pipeline was run untimed with
// the flood first, until its table is full where the flood creates state, so the timed
// part is the steady state.
//
// Kinds (every flood source is random in 100.64.0.0/10 with a random port,
// fresh on every pass over the precomputed packets, never an honest one):
//   syn         SYNs to the dnat+snat VIP with SYN cookies as configured by
//               default (syn_proxy = auto): each creates an embryonic
//               connection until a quarter of the table is embryonic, then
//               each is answered with a cookie SYN-ACK and creates nothing
//   syn_nocookies  the same with syn_proxy = off: each creates an embryonic
//               connection (SNAT port, Maglev), evicting the oldest
//               embryonic one once the table is full
//   ack         mid-stream ACKs, right checksum, random sequence, to a
//               `dnat` VIP (tcp_pickup): each is picked up as an unassured
//               connection and forwarded, evicting the oldest unassured one
//   ack_badsum  the same with a wrong TCP checksum: dropped before state
//   frag        lone later fragments (offset 1480, no first fragment ever)
//               to the dnat+snat VIP: held, evicting the oldest waiting
//               datagram, within the held-mbuf cap
//   rst         RSTs with the 4-tuple of a random established connection
//               and a random sequence number (a blind guess): dropped out of
//               the window, forwarded unchanged within 2^20 of it
// Honest handshakes run in both pipelines: every 8th burst a new client
// (172.16.0.0/12, port 50000+) sends its SYN with real sequence numbers;
// 64 bursts later its backend's SYN-ACK (to the SNAT tuple the worker
// chose), 64 after that the client's ACK; accepted if the connection is
// then assured ESTABLISHED. A client the NVA answered with a cookie (seen
// among the packets sent) ACKs it instead 64 bursts later, and its
// backend answers the NVA's SYN 64 after that (the SYN proxy). About 1 %
// of packets.
//
// What is in the figures: the worker's poll_once() (RX from the ring, the
// whole packet path, drops freed to the pool, TX to the ring), the
// generator and the harness around it, the same for both pipelines per
// packet: every packet is a 60-byte template copy plus the same stores and
// incremental checksum fixes (source address, port, sequence number) from
// a precomputed sequential array, whatever its kind; the honest packets
// are written with full checksums (a table lookup for the SYN-ACK's
// tuple); each transmitted packet's IP ID is read to count what was
// forwarded. The one difference: the mbufs of packets the worker dropped or
// kept are taken back from the pool (one bulk allocation per burst), a
// cost the no-flood pipeline, which drops nothing, does not have and a NIC
// PMD pays for every packet when it refills its RX ring.
//
// Counters (rates per second of the thread's CPU time; "cycles" are that
// time at the TSC rate):
//   goodput_ratio       established ACKs forwarded per CPU second, flood / no flood
//   best_goodput_ratio  the same over each pipeline's fastest stretch
//   goodput_ratio_tsc   goodput_ratio timed by the TSC (wall clock)
//   cpu_share           CPU time / wall time over the timed loop
//   est_Mpps, est_Mpps_no_flood  established ACKs forwarded per second
//   Mpps                packets through the flood pipeline per second (all kinds)
//   flood_pkt_cycles    what a flood packet costs, estimated: the flood
//                       pipeline's cycles less its other packets at the no-flood
//                       pipeline's cycles per packet, per flood packet
//   cycles_per_packet_no_flood
//   honest_per_s, honest_per_s_no_flood   honest handshakes accepted per second
//                       (bounded by the offered rate: one per 8 bursts)
//   honest_accepted     share of honest handshakes accepted under the flood
//   est_dropped         established ACKs not forwarded during the flood
//   established_lost    established connections no longer assured ESTABLISHED,
//                       or whose ACK the worker did not forward, after it
//   evicted             unassured connections evicted in the timed part
//   syn_cookies_sent, syn_proxy_established, honest_cookies   the flood
//                       pipeline's SYN proxy over the whole run (warm-up
//                       included): SYNs answered with a cookie, proxied
//                       handshakes completed, honest SYNs among the first
// Under NVA_BENCH_SMOKE: 1,000 flows, a 4,096-connection table, 512 bursts.
#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_env.h"
#include "bench/flow_packets.h"
#include "bench/pipeline.h"
#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"
#include "tests/support/packet_builder.h"

namespace nva {
namespace {

using bench::kBackendIsn;
using bench::kClientBase;
using bench::kClientIsn;
using bench::Pipeline;

enum class Flood : std::uint8_t {
  kSyn,
  kAck,
  kAckBadSum,
  kFragment,
  kRst,
  kSynNoCookies
};

// Packet templates, by Slot::tmpl.
enum Tmpl : std::uint8_t { kEst, kSyn, kAck, kAckBadSum, kFragment, kRst, kTmplCount };

constexpr std::uint16_t kEstId = 0xE571;          // IP ID of the established ACKs
constexpr std::uint16_t kHonestId = 0x4853;       // and of the honest handshakes
constexpr std::uint32_t kSpoofBase = 0x64400000;  // 100.64.0.0/10
constexpr std::uint32_t kSpoofMask = 0x003FFFFF;
constexpr std::uint32_t kHonestBase = 0xAC100000;  // 172.16.0.0/12
constexpr std::size_t kFrame = 60;

// Honest handshakes: one every kHonestEvery bursts, each step kRtt
// handshakes (kRtt x kHonestEvery bursts) after the one before.
constexpr std::uint64_t kHonestEvery = 8;
constexpr std::uint64_t kRtt = 8;
constexpr unsigned kStretch = 256;  // bursts per timed stretch

// One packet of the precomputed sequence.
struct Slot {
  std::uint32_t src = 0;
  std::uint32_t seq = 0;
  std::uint16_t sport = 0;
  std::uint8_t tmpl = kEst;
  std::uint8_t pad = 0;
};

// The packet writer: a template per kind, and what of it a slot changes.
class Templates {
 public:
  Templates() {
    using packet::PacketBuilder;
    auto tcp = [](const char* src, const char* dst, std::uint16_t id, std::uint16_t sport,
                  packet::TcpOpts t) {
      return PacketBuilder()
          .Eth()
          .IPv4(src, dst, {.id = id})
          .TCP(sport, 443, t)
          .PadTo(kFrame)
          .Build();
    };
    set(kEst,
        tcp("10.0.0.0", "198.19.0.10", kEstId, 40000,
            {.flags = 0x10, .seq = kClientIsn, .ack = kBackendIsn + 1}),
        0, 0);
    set(kSyn, tcp("100.64.0.0", "198.19.0.10", 0, 1024, {.flags = 0x02, .seq = 0}),
        kSpoofMask, ~0u);
    set(kAck,
        tcp("100.64.0.0", "198.19.0.11", 0, 1024,
            {.flags = 0x10, .seq = 0, .ack = 0x5EED0000}),
        kSpoofMask, ~0u);
    std::vector<std::uint8_t> bad = tcp("100.64.0.0", "198.19.0.11", 0, 1024,
                                        {.flags = 0x10, .seq = 0, .ack = 0x5EED0000});
    bad[50] ^= 0x5A;  // stays wrong through the incremental fixes
    bad[51] ^= 0x5A;
    set(kAckBadSum, bad, kSpoofMask, ~0u);
    set(kFragment,
        PacketBuilder()
            .Eth()
            .IPv4("100.64.0.0", "198.19.0.10",
                  {.id = 0x0F0F, .frag_offset = 1480, .protocol = 6})
            .Payload(kFrame - 34, 0xAB)
            .Build(),
        kSpoofMask, 0);
    set(kRst, tcp("10.0.0.0", "198.19.0.10", 0, 40000, {.flags = 0x04, .seq = 0}), 0,
        ~0u);
  }

  const Slot& slot_of(Tmpl t) const { return base_[t]; }

  // Writes slot `s` into m (kFrame bytes of data), its source address and
  // sequence number varied by `epoch` where the template says so: the same
  // work for every kind (the fragment's "port", "sequence" and "checksum"
  // are payload bytes).
  void write(rte_mbuf* m, const Slot& s, std::uint32_t epoch) const noexcept {
    const T& t = t_[s.tmpl];
    std::uint8_t* d = rte_pktmbuf_mtod(m, std::uint8_t*);
    std::memcpy(d, t.bytes.data(), kFrame);
    const std::uint32_t src = s.src ^ (epoch & t.src_vary);
    const std::uint32_t seq = s.seq ^ (epoch & t.seq_vary);
    packet::store_be32(d + 26, src);
    packet::store_be16(d + 34, s.sport);
    packet::store_be32(d + 38, seq);
    packet::store_be16(d + 24, packet::csum_replace32(t.ip_check, t.src, src));
    packet::store_be16(
        d + 50,
        packet::csum_apply(t.l4_check, packet::csum_delta32(t.src, src) +
                                           packet::csum_delta16(t.sport, s.sport) +
                                           packet::csum_delta32(t.seq, seq)));
  }

 private:
  struct alignas(64) T {
    std::array<std::uint8_t, kFrame> bytes{};
    std::uint32_t src = 0, seq = 0, src_vary = 0, seq_vary = 0;
    std::uint16_t sport = 0, ip_check = 0, l4_check = 0;
  };
  void set(Tmpl i, const std::vector<std::uint8_t>& b, std::uint32_t src_vary,
           std::uint32_t seq_vary) {
    if (b.size() != kFrame) std::abort();
    T& t = t_[i];
    std::memcpy(t.bytes.data(), b.data(), kFrame);
    t.src = packet::load_be32(b.data() + 26);
    t.sport = packet::load_be16(b.data() + 34);
    t.seq = packet::load_be32(b.data() + 38);
    t.ip_check = packet::load_be16(b.data() + 24);
    t.l4_check = packet::load_be16(b.data() + 50);
    t.src_vary = src_vary;
    t.seq_vary = seq_vary;
    base_[i] = Slot{t.src, t.seq, t.sport, i, 0};
  }
  std::array<T, kTmplCount> t_{};
  std::array<Slot, kTmplCount> base_{};
};

conntrack::ConnKey client_key(std::uint32_t src, std::uint16_t sport, std::uint32_t vip) {
  conntrack::ConnKey k;
  k.src_addr = src;
  k.dst_addr = vip;
  k.src_port = sport;
  k.dst_port = 443;
  k.proto = 6;
  return k;
}

bool assured_established(Pipeline& p, const conntrack::ConnKey& k) {
  const conntrack::ConnTable& t = p.worker().translator().tracker().table();
  const conntrack::ConnRef ref = t.lookup(k);
  if (!ref.found()) return false;
  const conntrack::Conn& c = t.conn(ref.index());
  return c.state == conntrack::ConnState::kTcpEstablished &&
         (c.flags & conntrack::kConnAssured) != 0;
}

// One pipeline and its traffic.
class Side {
 public:
  Side(std::uint32_t capacity, std::uint32_t flows, const Templates& tm,
       nat::SynProxyMode syn_proxy)
      : p_(bench::PipelineOptions{
            .capacity = capacity, .pickup_vip = true, .syn_proxy = syn_proxy}),
        tm_(tm),
        flows_(flows) {}

  // The handshakes of the established flows, as BM_Worker_Established
  // opens them; false (and `why`) if any did not establish.
  bool establish(std::string& why) {
    // The clock the bursts will run on (TSC milliseconds) from the start:
    // left at 0, connections opened here looked idle since boot once the
    // warm-up set it, and expired where the machine had been up longer than
    // the established timeout.
    set_clock(rte_rdtsc());
    std::vector<std::uint32_t> ids(kBurst);
    for (const std::uint8_t flags : {0x02, 0x12, 0x10}) {  // SYN, SYN-ACK, ACK
      for (std::uint32_t f = 0; f < flows_; f += kBurst) {
        for (unsigned i = 0; i < kBurst; ++i) ids[i] = (f + i) % flows_;
        if (flags == 0x12) {
          p_.run_replies(ids.data(), flags);
        } else {
          p_.run(ids.data(), flags);
        }
      }
    }
    const conntrack::ConnTracker& tr = p_.worker().translator().tracker();
    const std::uint32_t est = tr.list_size(conntrack::TimeoutClass::kTcpEstablished);
    if (tr.table().size() == flows_ && est == flows_) return true;
    why = "could not establish every flow (" + std::to_string(est) + " of " +
          std::to_string(flows_) + ")";
    return false;
  }

  // The packet sequence: established ACKs of random flows, and with
  // `flood_per_ack` > 0 flood packets of `kind` mixed in at random positions
  // (each packet a flood packet with probability k / (k + 1)).
  void make_slots(Flood kind, unsigned flood_per_ack, std::size_t n) {
    std::mt19937_64 rng(0x5EED ^ (std::uint64_t{flood_per_ack} << 8) ^
                        static_cast<unsigned>(kind));
    slots_.resize(n);
    const Tmpl ft = kind == Flood::kSyn || kind == Flood::kSynNoCookies ? kSyn
                    : kind == Flood::kAck                               ? kAck
                    : kind == Flood::kAckBadSum                         ? kAckBadSum
                    : kind == Flood::kFragment                          ? kFragment
                                                                        : kRst;
    for (Slot& s : slots_) {
      const bool flood = flood_per_ack != 0 && rng() % (flood_per_ack + 1) != 0;
      if (!flood) {
        s = tm_.slot_of(kEst);
        s.src = kClientBase + static_cast<std::uint32_t>(rng() % flows_);
        continue;
      }
      s = tm_.slot_of(ft);
      const std::uint64_t r = rng();
      if (ft == kRst) {
        s.src = kClientBase + static_cast<std::uint32_t>(r % flows_);
        s.seq = static_cast<std::uint32_t>(r >> 32);
      } else if (ft != kFragment) {
        s.src = kSpoofBase | (static_cast<std::uint32_t>(r) & kSpoofMask);
        s.sport = static_cast<std::uint16_t>(1024 + (r >> 22) % 64512);
        s.seq = static_cast<std::uint32_t>(r >> 32);
      } else {
        s.src = kSpoofBase | (static_cast<std::uint32_t>(r) & kSpoofMask);
      }
    }
  }

  // One burst: the honest packets due (at the end), the rest from the
  // sequence; counts what went in and what came out.
  [[gnu::always_inline]] void burst() {
    unsigned honest = 0;
    std::uint64_t acked = ~std::uint64_t{0};
    if (bursts_ % kHonestEvery == 0) {
      const std::uint64_t h = bursts_ / kHonestEvery;
      cookie_sent_[h % kSteps] = false;
      // One RTT later: the client ACKs the NVA's cookie if it got one (the
      // SYN proxy), else the backend answers the SYN the NVA sent it.
      if (h >= kRtt) {
        const std::uint64_t a = h - kRtt;
        if (cookie_sent_[a % kSteps]) {
          write_honest(p_.spare(kBurst - 1 - honest++), a, 0x10, cookie_[a % kSteps] + 1);
          synack_sent_[a % kSteps] = false;
        } else {
          synack_sent_[a % kSteps] =
              p_.write_reply_of(p_.spare(kBurst - 1 - honest), honest_key(a), 0x12);
          if (synack_sent_[a % kSteps]) ++honest;
        }
      }
      // Two RTTs: the client ACKs the backend's SYN-ACK, or (proxied) the
      // backend answers the NVA's SYN; either completes the handshake.
      if (h >= 2 * kRtt) {
        const std::uint64_t d = h - 2 * kRtt;
        ++honest_due_;
        if (synack_sent_[d % kSteps]) {
          acked = d;
          write_honest(p_.spare(kBurst - 1 - honest++), d, 0x10, kBackendIsn + 1);
        } else if (cookie_sent_[d % kSteps] &&
                   p_.write_reply_of(p_.spare(kBurst - 1 - honest), honest_key(d),
                                     0x12)) {
          acked = d;
          ++honest;
        }
      }
      // The new client's SYN, written last so it comes before the others:
      // after the handshake the others may complete, an embryonic slot
      // that SYN would take without a cookie.
      write_honest(p_.spare(kBurst - 1 - honest++), h, 0x02, 0);
    }
    const unsigned n = kBurst - honest;
    for (unsigned i = 0; i < n; ++i) {
      const Slot& s = slots_[pos_];
      tm_.write(p_.spare(i), s, epoch_bits_);
      est_sent_ += s.tmpl == kEst;
      if (++pos_ == slots_.size()) {
        pos_ = 0;
        // Fresh flood sources and sequence numbers on every pass.
        epoch_bits_ =
            static_cast<std::uint32_t>((++epoch_ * 0x9E3779B97F4A7C15ull) >> 32);
      }
    }
    packets_ += kBurst;
    honest_sent_ += honest;
    const unsigned got = p_.push();
    for (unsigned i = 0; i < got; ++i) {
      const auto* d = rte_pktmbuf_mtod(p_.spare(i), const std::uint8_t*);
      const std::uint16_t id = packet::load_be16(d + 18);
      est_fwd_ += id == kEstId;
      if (id == kHonestId && d[47] == 0x12) [[unlikely]] {  // the NVA's cookie
        const std::uint32_t host = packet::load_be32(d + 30) - kHonestBase;
        const std::uint64_t h = host | std::uint64_t{packet::load_be16(d + 36) - 50000u}
                                           << 20;
        cookie_[h % kSteps] = packet::load_be32(d + 38);
        cookie_sent_[h % kSteps] = true;
        ++honest_cookies_;
      }
    }
    if (acked != ~std::uint64_t{0} && assured_established(p_, honest_key(acked))) {
      ++honest_accepted_;
    }
    ++bursts_;
  }

  // Counters from here on.
  void reset_counts() {
    est_sent_ = est_fwd_ = packets_ = honest_sent_ = honest_due_ = honest_accepted_ = 0;
    cpu_ns_ = tsc_ = 0;
    stretch_est_ = 0;
    best_ = 0;
  }
  // A stretch took `cpu_ns` of this thread's CPU time, `tsc` TSC cycles.
  void end_stretch(std::uint64_t cpu_ns, std::uint64_t tsc) {
    cpu_ns_ += cpu_ns;
    tsc_ += tsc;
    const double r =
        static_cast<double>(est_fwd_ - stretch_est_) / static_cast<double>(cpu_ns);
    if (cpu_ns != 0 && r > best_) best_ = r;
    stretch_est_ = est_fwd_;
  }
  // Untimed: the clock from the TSC every burst.
  void warm(std::uint64_t bursts) {
    for (std::uint64_t i = 0; i < bursts; ++i) {
      set_clock(rte_rdtsc());
      burst();
    }
  }
  void set_clock(std::uint64_t tsc) {
    p_.clock().set(static_cast<std::uint32_t>(tsc / (rte_get_tsc_hz() / 1000)));
  }

  // An ACK of every established flow through the worker: the flows that
  // are no longer assured ESTABLISHED or whose ACK was not forwarded.
  std::uint64_t lost() {
    std::uint64_t lost = 0;
    for (std::uint32_t f = 0; f < flows_; f += kBurst) {
      unsigned bad = 0;
      for (unsigned i = 0; i < kBurst; ++i) {
        Slot s = tm_.slot_of(kEst);
        s.src = kClientBase + (f + i) % flows_;
        tm_.write(p_.spare(i), s, 0);
        if (f + i < flows_ &&
            !assured_established(p_, client_key(s.src, 40000, bench::kVip)))
          ++bad;
      }
      const unsigned got = p_.push();
      unsigned fwd = 0;
      for (unsigned i = 0; i < got; ++i) {
        fwd += packet::load_be16(rte_pktmbuf_mtod(p_.spare(i), const std::uint8_t*) +
                                 18) == kEstId;
      }
      const unsigned in_range = flows_ - f < kBurst ? flows_ - f : kBurst;
      const unsigned missing = fwd >= kBurst ? 0 : kBurst - fwd;
      lost += std::min<unsigned>(std::max(bad, missing), in_range);
    }
    return lost;
  }

  Pipeline& pipeline() { return p_; }
  std::uint64_t est_sent() const { return est_sent_; }
  std::uint64_t est_fwd() const { return est_fwd_; }
  std::uint64_t packets() const { return packets_; }
  std::uint64_t cpu_ns() const { return cpu_ns_; }
  std::uint64_t tsc() const { return tsc_; }
  double best() const { return best_; }
  std::uint64_t honest_sent() const { return honest_sent_; }
  std::uint64_t honest_due() const { return honest_due_; }
  std::uint64_t honest_accepted() const { return honest_accepted_; }
  std::uint64_t honest_cookies() const { return honest_cookies_; }

 private:
  static conntrack::ConnKey honest_key(std::uint64_t h) {
    return client_key(kHonestBase + static_cast<std::uint32_t>(h & 0xFFFFF),
                      static_cast<std::uint16_t>(50000 + (h >> 20)), bench::kVip);
  }
  // The client's SYN (flags 0x02) or its ACK (0x10) of a SYN-ACK.
  void write_honest(rte_mbuf* m, std::uint64_t h, std::uint8_t flags, std::uint32_t ack) {
    const conntrack::ConnKey k = honest_key(h);
    std::uint8_t* d = rte_pktmbuf_mtod(m, std::uint8_t*);
    std::memcpy(d, p_.packets().bytes().data(), kFrame);
    packet::store_be16(d + 18, kHonestId);
    packet::store_be32(d + 26, k.src_addr);
    packet::store_be16(d + 34, k.src_port);
    packet::store_be32(d + 38, flags == 0x02 ? kClientIsn : kClientIsn + 1);
    packet::store_be32(d + 42, ack);
    d[47] = flags;
    packet::store_be16(d + 24, 0);
    packet::store_be16(d + 24, packet::ipv4_header_checksum(d + 14, 20));
    packet::store_be16(
        d + 50, packet::ipv4_l4_checksum(d + 34, 20, 16, k.src_addr, k.dst_addr, 6));
  }

  Pipeline p_;
  const Templates& tm_;
  std::uint32_t flows_;
  std::vector<Slot> slots_;
  std::size_t pos_ = 0;
  std::uint64_t epoch_ = 0;
  std::uint32_t epoch_bits_ = 0;
  std::uint64_t bursts_ = 0;
  // Per handshake in flight (by number modulo kSteps): the backend's
  // SYN-ACK was sent; the NVA answered the SYN with a cookie, and which.
  static constexpr std::size_t kSteps = 2 * kRtt + 1;
  std::array<bool, kSteps> synack_sent_{};
  std::array<bool, kSteps> cookie_sent_{};
  std::array<std::uint32_t, kSteps> cookie_{};
  std::uint64_t est_sent_ = 0, est_fwd_ = 0, packets_ = 0;
  std::uint64_t honest_sent_ = 0;  // packets
  // Handshakes whose ACK was due, and those then assured ESTABLISHED.
  std::uint64_t honest_due_ = 0, honest_accepted_ = 0;
  std::uint64_t honest_cookies_ = 0;  // answered with a cookie (whole run)
  std::uint64_t cpu_ns_ = 0, tsc_ = 0, stretch_est_ = 0;
  double best_ = 0;  // established ACKs forwarded per CPU ns, best stretch
};

std::uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// The timed loop, out of line (callgrind can collect '*timed_loop*'): one
// burst per iteration, the two pipelines alternating every kStretch bursts.
// Each stretch is timed by this thread's CPU time (a system call per
// stretch of 100 us or more): on this shared, loaded VM the TSC also
// counts the time the thread waited for a CPU, which made the TSC figures
// of one run swing by 3x. The TSC is kept for the share of the time the
// thread ran.
[[gnu::noinline]] void timed_loop(benchmark::State& state, Side& base, Side& flood) {
  Side* sides[2] = {&base, &flood};
  unsigned cur = 0, in_stretch = 0;
  std::uint64_t t0 = rte_rdtsc(), c0 = thread_cpu_ns();
  sides[0]->set_clock(t0);
  for (auto _ : state) {
    sides[cur]->burst();
    if (++in_stretch == kStretch) {
      const std::uint64_t now = rte_rdtsc(), cpu = thread_cpu_ns();
      sides[cur]->end_stretch(cpu - c0, now - t0);
      cur ^= 1;
      in_stretch = 0;
      sides[cur]->set_clock(now);
      t0 = now;
      c0 = cpu;
    }
  }
}

void BM_Worker_UnderFlood(benchmark::State& state, Flood kind) {
  const auto k = static_cast<unsigned>(state.range(0));
  const bool smoke = bench::smoke();
  const std::uint32_t flows = smoke ? 1000 : 100000;
  const std::uint32_t capacity = smoke ? 4096 : nat::TranslatorConfig{}.capacity;
  const Templates tm;
  const nat::SynProxyMode syn_proxy =
      kind == Flood::kSynNoCookies ? nat::SynProxyMode::kOff : nat::SynProxyMode::kAuto;
  auto base = std::make_unique<Side>(capacity, flows, tm, syn_proxy);
  auto flood = std::make_unique<Side>(capacity, flows, tm, syn_proxy);
  std::string why;
  if (!base->establish(why) || !flood->establish(why)) {
    state.SkipWithError(why.c_str());
    return;
  }
  const std::size_t n = smoke ? (1u << 14) : (1u << 20);
  base->make_slots(kind, 0, n);
  flood->make_slots(kind, k, n);
  // To the steady state: where the flood creates connections, until the
  // table is full and evicting (bounded, should the index refuse first);
  // else long enough to fill the fragment table and its held-mbuf cap.
  base->warm(2 * kStretch);
  // With SYN cookies (auto), a SYN flood creates connections until they
  // engage.
  const bool creates =
      kind == Flood::kSyn || kind == Flood::kSynNoCookies || kind == Flood::kAck;
  const nat::Translator& nat = flood->pipeline().worker().translator();
  const conntrack::ConnTracker& tr = nat.tracker();
  const std::uint64_t limit = 4ull * capacity / kBurst * (k + 1) / k + 4096;
  for (std::uint64_t b = 0; creates && tr.table().size() < capacity &&
                            nat.counters().syn_cookies_sent == 0 && b < limit;
       b += kStretch) {
    flood->warm(kStretch);
  }
  flood->warm(smoke ? 2 * kStretch : 16 * kStretch);
  const std::uint64_t evicted_before = tr.counters().evicted_embryonic;
  base->reset_counts();
  flood->reset_counts();

  timed_loop(state, *base, *flood);

  // Rates per second of CPU time; "cycles" are CPU time at the TSC rate.
  const double ghz = static_cast<double>(rte_get_tsc_hz()) / 1e9;
  const double fc = static_cast<double>(flood->cpu_ns());
  const double bc = static_cast<double>(base->cpu_ns());
  if (fc == 0 || bc == 0 || base->est_fwd() == 0) {
    state.SkipWithError("no timed stretch of each pipeline (iterations < 2 x 256)");
    return;
  }
  const double est_rate = static_cast<double>(flood->est_fwd()) / fc;  // per ns
  const double base_rate = static_cast<double>(base->est_fwd()) / bc;
  state.counters["goodput_ratio"] = est_rate / base_rate;
  state.counters["best_goodput_ratio"] =
      base->best() == 0 ? 0 : flood->best() / base->best();
  state.counters["goodput_ratio_tsc"] =
      (static_cast<double>(flood->est_fwd()) / static_cast<double>(flood->tsc())) /
      (static_cast<double>(base->est_fwd()) / static_cast<double>(base->tsc()));
  state.counters["cpu_share"] =
      (fc + bc) * ghz / static_cast<double>(flood->tsc() + base->tsc());
  state.counters["est_Mpps"] = est_rate * 1e3;
  state.counters["est_Mpps_no_flood"] = base_rate * 1e3;
  state.counters["Mpps"] = static_cast<double>(flood->packets()) / fc * 1e3;
  const double base_cpp = bc * ghz / static_cast<double>(base->packets());
  state.counters["cycles_per_packet_no_flood"] = base_cpp;
  const double flood_pkts =
      static_cast<double>(flood->packets() - flood->est_sent() - flood->honest_sent());
  state.counters["flood_pkt_cycles"] =
      flood_pkts <= 0
          ? 0
          : (fc * ghz - (static_cast<double>(flood->packets()) - flood_pkts) * base_cpp) /
                flood_pkts;
  state.counters["honest_per_s"] =
      static_cast<double>(flood->honest_accepted()) / fc * 1e9;
  state.counters["honest_per_s_no_flood"] =
      static_cast<double>(base->honest_accepted()) / bc * 1e9;
  state.counters["honest_accepted"] =
      flood->honest_due() == 0 ? 0
                               : static_cast<double>(flood->honest_accepted()) /
                                     static_cast<double>(flood->honest_due());
  state.counters["est_dropped"] =
      static_cast<double>(flood->est_sent() - flood->est_fwd());
  state.counters["evicted"] =
      static_cast<double>(tr.counters().evicted_embryonic - evicted_before);
  state.counters["established_lost"] = static_cast<double>(flood->lost());
  state.counters["syn_cookies_sent"] =
      static_cast<double>(nat.counters().syn_cookies_sent);
  state.counters["syn_proxy_established"] =
      static_cast<double>(nat.counters().syn_proxy_established);
  state.counters["honest_cookies"] = static_cast<double>(flood->honest_cookies());
  state.SetItemsProcessed(static_cast<std::int64_t>(flood->packets() + base->packets()));
}

// Bursts per run: half in each pipeline, in whole stretches.
const std::int64_t kIterations = bench::smoke() ? 2 * kStretch : 1 << 16;

BENCHMARK_CAPTURE(BM_Worker_UnderFlood, syn, Flood::kSyn)
    ->ArgName("flood")
    ->Arg(1)
    ->Arg(4)
    ->Iterations(kIterations);
BENCHMARK_CAPTURE(BM_Worker_UnderFlood, syn_nocookies, Flood::kSynNoCookies)
    ->ArgName("flood")
    ->Arg(1)
    ->Arg(4)
    ->Iterations(kIterations);
BENCHMARK_CAPTURE(BM_Worker_UnderFlood, ack, Flood::kAck)
    ->ArgName("flood")
    ->Arg(1)
    ->Arg(4)
    ->Iterations(kIterations);
BENCHMARK_CAPTURE(BM_Worker_UnderFlood, ack_badsum, Flood::kAckBadSum)
    ->ArgName("flood")
    ->Arg(1)
    ->Arg(4)
    ->Iterations(kIterations);
BENCHMARK_CAPTURE(BM_Worker_UnderFlood, frag, Flood::kFragment)
    ->ArgName("flood")
    ->Arg(1)
    ->Arg(4)
    ->Iterations(kIterations);
BENCHMARK_CAPTURE(BM_Worker_UnderFlood, rst, Flood::kRst)
    ->ArgName("flood")
    ->Arg(1)
    ->Arg(4)
    ->Iterations(kIterations);

}  // namespace
}  // namespace nva
