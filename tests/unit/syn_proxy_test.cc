// SYN cookies and the SYN proxy (nat/syn_cookie.h, nat/translator.h): the
// cookie's keyed hash and lifetime, and whole proxied connections on byte
// vectors in both NAT modes, each packet the NVA writes compared field by
// field and its checksums verified in full.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataplane/nat/proxy_table.h"
#include "dataplane/nat/syn_cookie.h"
#include "dataplane/nat/translator.h"
#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"
#include "tests/support/packet_builder.h"
#include "tests/support/services.h"

namespace nva::nat {
namespace {

using Bytes = std::vector<std::uint8_t>;
using packet::ipv4_from_string;
using packet::PacketBuilder;
using packet::ParsedPacket;

constexpr std::uint8_t kSyn = 0x02, kAck = 0x10, kRst = 0x04, kPsh = 0x08;
constexpr std::uint32_t kClientIsn = 1'000'000, kBackendIsn = 3'000'000'000u;
const SynCookies::Key kKey = {0x0706050403020100ull, 0x0F0E0D0C0B0A0908ull};

TEST(SynCookie, SipHashMatchesTheReference) {
  // The reference implementation's vectors: key 00..0f, message 00..17.
  EXPECT_EQ(siphash24(kKey[0], kKey[1], 0x0706050403020100ull, 0x0F0E0D0C0B0A0908ull,
                      0x1716151413121110ull),
            0xB8AD50C6F649AF94ull);
}

TEST(SynCookie, ChecksOnlyItsOwnTupleIsnAndLifetime) {
  const SynCookies c(kKey);
  const SynCookieTuple t{ipv4_from_string("203.0.113.5"), ipv4_from_string("198.19.0.10"),
                         40000, 80};
  const std::uint32_t now = 5u << SynCookies::kMinuteShift;
  const std::uint32_t k = c.make(t, kClientIsn, 3, now);
  EXPECT_EQ(c.check(t, kClientIsn, k, now), std::optional<std::uint8_t>(3));
  // Valid to the end of the next minute, not after.
  const std::uint32_t minute = 1u << SynCookies::kMinuteShift;
  EXPECT_EQ(c.check(t, kClientIsn, k, now + 2 * minute - 1),
            std::optional<std::uint8_t>(3));
  EXPECT_FALSE(c.check(t, kClientIsn, k, now + 2 * minute));
  EXPECT_FALSE(c.check(t, kClientIsn, k, now + 3 * minute));
  // Another ISN, port, address or key; any bit of the cookie changed.
  EXPECT_FALSE(c.check(t, kClientIsn + 1, k, now));
  SynCookieTuple u = t;
  u.client_port = 40001;
  EXPECT_FALSE(c.check(u, kClientIsn, k, now));
  u = t;
  u.vip ^= 1;
  EXPECT_FALSE(c.check(u, kClientIsn, k, now));
  EXPECT_FALSE(SynCookies({kKey[0], kKey[1] ^ 1}).check(t, kClientIsn, k, now));
  for (int bit = 0; bit < 32; ++bit) {
    EXPECT_FALSE(c.check(t, kClientIsn, k ^ (1u << bit), now)) << "bit " << bit;
  }
}

TEST(SynCookie, MssIndexIsTheLargestNotAboveTheClients) {
  EXPECT_EQ(SynCookies::mss_index(0), 0);  // no option: 536
  EXPECT_EQ(SynCookies::mss_index(1299), 0);
  EXPECT_EQ(SynCookies::mss_index(1300), 1);
  EXPECT_EQ(SynCookies::mss_index(1460), 3);
  EXPECT_EQ(SynCookies::mss_index(9000), 3);
}

TEST(ProxyTable, AtMostAByteAConnection) {
  EXPECT_EQ(ProxyTable(1u << 20).bytes(), std::size_t{1} << 20);
  EXPECT_LE(ProxyTable(1'000'000).bytes(), 1'000'000u);
  EXPECT_EQ(ProxyTable(10).slots(), ProxyTable::kMinSlots);
}

TEST(ProxyTable, StaleEntriesAreTakenOverAndChainsHold) {
  ProxyTable t(512);  // 64 slots
  std::vector<bool> live(10'000, false);
  auto is_live = [&](std::uint32_t i) { return static_cast<bool>(live[i]); };
  // Fill: every insert succeeds until a probe of 32 live entries.
  std::uint32_t n = 0;
  for (; n < 64; ++n) {
    std::uint32_t* v = t.insert(n * 7, is_live);
    if (v == nullptr) break;
    *v = n;
    live[n * 7] = true;
  }
  ASSERT_GE(n, 32u);
  for (std::uint32_t i = 0; i < n; ++i) {
    ASSERT_NE(t.find(i * 7), nullptr) << i;
    EXPECT_EQ(*t.find(i * 7), i);
  }
  EXPECT_EQ(t.find(5), nullptr);
  // Half of them go: new ones take their slots, the rest are still found.
  for (std::uint32_t i = 0; i < n; i += 2) live[i * 7] = false;
  std::uint32_t placed = 0;
  for (std::uint32_t k = 0; k < n / 2; ++k) {
    std::uint32_t* v = t.insert(5000 + k, is_live);
    if (v == nullptr) continue;
    *v = 100 + k;
    live[5000 + k] = true;
    ++placed;
  }
  EXPECT_GT(placed, n / 4);
  for (std::uint32_t i = 1; i < n; i += 2) {
    ASSERT_NE(t.find(i * 7), nullptr) << i;
    EXPECT_EQ(*t.find(i * 7), i);
  }
  for (std::uint32_t k = 0; k < n / 2; ++k) {
    if (live[5000 + k]) {
      EXPECT_EQ(*t.find(5000 + k), 100 + k);
    }
  }
  // An entry inserted again keeps its slot.
  std::uint32_t* again = t.insert(7, is_live);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again, t.find(7));
}

lb::ServiceTable services() {
  std::vector<lb::Service> v;
  v.push_back(test::service({.name = "web",
                             .vip = "198.19.0.10",
                             .port = 80,
                             .backends = {test::backend("198.18.2.1", 8080)}}));
  v.push_back(test::service({.name = "api",
                             .vip = "198.19.0.11",
                             .port = 443,
                             .backends = {test::backend("198.18.3.1", 443)},
                             .snat = {"198.18.1.1"}}));
  return lb::ServiceTable(std::move(v), 307);
}

// What the tests read back from a packet the translator wrote.
struct Seg {
  std::string src, dst;
  std::uint16_t sport = 0, dport = 0;
  std::uint8_t flags = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint16_t window = 0, mss = 0;  // mss: the option's value, 0 if none
  std::uint8_t ttl = 0;
  std::string payload;
};

// Parses `f` (trimmed to `len` unless kWholeFrame), checks both checksums
// in full and returns its TCP fields.
Seg read(Bytes f, std::size_t len = Translator::kWholeFrame) {
  if (len != Translator::kWholeFrame) f.resize(len);
  ParsedPacket p;
  EXPECT_EQ(packet::parse(f, p), packet::DropReason::kNone);
  const std::uint8_t* ip = f.data() + p.l3_offset;
  const std::uint8_t* t = f.data() + p.l4_offset;
  EXPECT_TRUE(packet::ipv4_header_checksum_ok(ip, p.l4_offset - p.l3_offset));
  EXPECT_TRUE(packet::ipv4_l4_checksum_ok(t, p.l4_len(), p.ipv4_src, p.ipv4_dst, 6));
  Seg s;
  s.src = packet::ipv4_to_string(p.ipv4_src);
  s.dst = packet::ipv4_to_string(p.ipv4_dst);
  s.sport = p.src_port;
  s.dport = p.dst_port;
  s.flags = p.tcp_flags;
  s.seq = packet::load_be32(t + 4);
  s.ack = packet::load_be32(t + 8);
  s.window = packet::load_be16(t + 14);
  s.ttl = ip[8];
  const std::size_t hdr = static_cast<std::size_t>(t[12] >> 4) * 4;
  if (hdr >= 24 && t[20] == 2 && t[21] == 4) s.mss = packet::load_be16(t + 22);
  s.payload.assign(reinterpret_cast<const char*>(t + hdr), p.l4_len() - hdr);
  return s;
}

Bytes seg(const std::string& s, std::uint16_t sp, const std::string& d, std::uint16_t dp,
          std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
          const std::string& payload = "", std::vector<std::uint8_t> options = {},
          std::uint16_t window = 29200) {
  return PacketBuilder()
      .Eth()
      .IPv4(s, d)
      .TCP(sp, dp,
           {.flags = flags,
            .seq = seq,
            .ack = ack,
            .window = window,
            .options = std::move(options)})
      .Payload(payload)
      .Build();
}

// A Linux-like SYN's options: MSS 1460, SACK permitted, timestamps, window
// scale 7 (20 bytes).
const std::vector<std::uint8_t> kLinuxSynOptions = {2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 0,
                                                    0, 1, 0,    0,    0, 0, 1, 3,  3, 7};

struct Proxy {
  explicit Proxy(SynProxyMode mode = SynProxyMode::kOn, std::uint32_t capacity = 1000,
                 std::uint16_t snat_port_min = 1024)
      : svc(services()), nat([&] {
          TranslatorConfig cfg;
          cfg.capacity = capacity;
          cfg.syn_proxy = mode;
          cfg.syn_cookie_key = kKey;
          cfg.snat_port_min = snat_port_min;
          return cfg;
        }()) {}
  Verdict run(Bytes& f, std::uint32_t now = 0) {
    ParsedPacket p;
    EXPECT_EQ(packet::parse(f, p), packet::DropReason::kNone);
    return nat.process(f, p, svc, now);
  }
  lb::ServiceTable svc;
  Translator nat;
};

// A client's SYN (Linux's options) answered with a cookie: the cookie.
std::uint32_t cookie_for(Proxy& px, const std::string& client, std::uint16_t cport,
                         const std::string& vip, std::uint16_t vport,
                         std::uint32_t now = 0) {
  Bytes syn = seg(client, cport, vip, vport, kSyn, kClientIsn, 0, "", kLinuxSynOptions);
  EXPECT_EQ(px.run(syn, now), Verdict::kReplyLocal);
  return read(syn, px.nat.reply_len()).seq;
}

// The client's ACK of `cookie`, with room for the SYN it becomes (an
// mbuf's tailroom in the worker).
Bytes cookie_ack(const std::string& client, std::uint16_t cport, const std::string& vip,
                 std::uint16_t vport, std::uint32_t cookie) {
  Bytes ack = seg(client, cport, vip, vport, kAck, kClientIsn + 1, cookie + 1);
  ack.resize(64);
  return ack;
}

// The client's side of a proxied handshake to `vip`:`vport` and the
// backend's, checked at every step. Returns the cookie.
struct Opened {
  std::uint32_t cookie = 0;
  Seg syn_to_backend;  // what the backend got
};
Opened open(Proxy& px, const std::string& client, std::uint16_t cport,
            const std::string& vip, std::uint16_t vport, const std::string& backend,
            std::uint16_t bport) {
  Opened o;
  Bytes syn = seg(client, cport, vip, vport, kSyn, kClientIsn, 0, "", kLinuxSynOptions);
  EXPECT_EQ(px.run(syn), Verdict::kReplyLocal);
  const Seg sa = read(syn, px.nat.reply_len());
  // From the VIP, acknowledging the SYN, MSS only, a fresh TTL.
  EXPECT_EQ(sa.src, vip);
  EXPECT_EQ(sa.dst, client);
  EXPECT_EQ(sa.sport, vport);
  EXPECT_EQ(sa.dport, cport);
  EXPECT_EQ(sa.flags, kSyn | kAck);
  EXPECT_EQ(sa.ack, kClientIsn + 1);
  EXPECT_EQ(sa.mss, 1460);
  EXPECT_EQ(sa.ttl, 64);
  EXPECT_EQ(px.nat.reply_len(), 14u + 20 + 24);  // no other option offered
  o.cookie = sa.seq;

  const std::size_t live = px.nat.tracker().table().size();
  Bytes ack =
      seg(client, cport, vip, vport, kAck, kClientIsn + 1, o.cookie + 1, "", {}, 502);
  ack.resize(64);  // room for the MSS option (an mbuf's tailroom in the worker)
  EXPECT_EQ(px.run(ack), Verdict::kForwardResized);
  o.syn_to_backend = read(ack, px.nat.reply_len());
  const Seg& s = o.syn_to_backend;
  EXPECT_EQ(s.dst, backend);
  EXPECT_EQ(s.dport, bport);
  EXPECT_EQ(s.flags, kSyn);
  EXPECT_EQ(s.seq, kClientIsn);
  EXPECT_EQ(s.mss, 1460);
  EXPECT_EQ(s.window, 502);  // the client's
  EXPECT_EQ(s.ttl, 63);
  EXPECT_EQ(px.nat.tracker().table().size(), live + 1);

  Bytes synack =
      seg(backend, bport, s.src, s.sport, kSyn | kAck, kBackendIsn, kClientIsn + 1);
  EXPECT_EQ(px.run(synack), Verdict::kReplyLocal);
  const Seg last = read(synack, px.nat.reply_len());
  // The handshake's last ACK goes back to the backend as the client's.
  EXPECT_EQ(last.src, s.src);
  EXPECT_EQ(last.sport, s.sport);
  EXPECT_EQ(last.dst, backend);
  EXPECT_EQ(last.dport, bport);
  EXPECT_EQ(last.flags, kAck);
  EXPECT_EQ(last.seq, kClientIsn + 1);
  EXPECT_EQ(last.ack, kBackendIsn + 1);
  EXPECT_EQ(last.window, 502);
  return o;
}

TEST(SynProxy, DnatConnectionEndToEnd) {
  Proxy px;
  const Opened o = open(px, "203.0.113.5", 40000, "198.19.0.10", 80, "198.18.2.1", 8080);
  EXPECT_EQ(o.syn_to_backend.src, "203.0.113.5");  // dnat: the client's address
  EXPECT_EQ(o.syn_to_backend.sport, 40000);
  EXPECT_EQ(px.nat.counters().syn_cookies_sent, 1u);
  EXPECT_EQ(px.nat.counters().syn_cookies_valid, 1u);
  EXPECT_EQ(px.nat.counters().syn_proxy_established, 1u);
  EXPECT_EQ(px.nat.counters().created, 1u);

  // The client's request: its ACK moved into the backend's space.
  Bytes req = seg("203.0.113.5", 40000, "198.19.0.10", 80, kAck | kPsh, kClientIsn + 1,
                  o.cookie + 1, "GET / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(px.run(req, 10), Verdict::kForward);
  Seg s = read(req);
  EXPECT_EQ(s.dst, "198.18.2.1");
  EXPECT_EQ(s.seq, kClientIsn + 1);
  EXPECT_EQ(s.ack, kBackendIsn + 1);
  EXPECT_EQ(s.payload, "GET / HTTP/1.1\r\n\r\n");

  // The answer: the backend's sequence moved into the cookie's space.
  Bytes resp = seg("198.18.2.1", 8080, "203.0.113.5", 40000, kAck | kPsh, kBackendIsn + 1,
                   kClientIsn + 19, "HTTP/1.1 200 OK\r\n\r\n");
  ASSERT_EQ(px.run(resp, 20), Verdict::kForward);
  s = read(resp);
  EXPECT_EQ(s.src, "198.19.0.10");
  EXPECT_EQ(s.sport, 80);
  EXPECT_EQ(s.seq, o.cookie + 1);
  EXPECT_EQ(s.ack, kClientIsn + 19);
  EXPECT_EQ(s.payload, "HTTP/1.1 200 OK\r\n\r\n");

  // Far along the sequence space (wrapping past 2^32 in the backend's).
  Bytes late = seg("198.18.2.1", 8080, "203.0.113.5", 40000, kAck, kBackendIsn + 20,
                   kClientIsn + 19, std::string(1000, 'x'));
  ASSERT_EQ(px.run(late, 30), Verdict::kForward);
  EXPECT_EQ(read(late).seq, o.cookie + 20);
  const conntrack::ConnRef r = px.nat.tracker().table().lookup(
      {ipv4_from_string("203.0.113.5"), ipv4_from_string("198.19.0.10"), 40000, 80, 6});
  ASSERT_TRUE(r.found());
  const conntrack::Conn& c = px.nat.tracker().table().conn(r.index());
  EXPECT_EQ(c.state, conntrack::ConnState::kTcpEstablished);
  EXPECT_NE(c.flags & conntrack::kConnAssured, 0);
  EXPECT_NE(c.flags & conntrack::kConnSynProxy, 0);
  // The tracked sequences are the backend's: a blind RST from the client's
  // side guessed in the cookie's space is out of the window.
  EXPECT_EQ(c.seq_next[1], kBackendIsn + 1020);
}

TEST(SynProxy, SnatConnectionEndToEnd) {
  Proxy px;
  const Opened o = open(px, "203.0.113.7", 41000, "198.19.0.11", 443, "198.18.3.1", 443);
  EXPECT_EQ(o.syn_to_backend.src, "198.18.1.1");  // the SNAT address and a port
  Bytes resp = seg("198.18.3.1", 443, "198.18.1.1", o.syn_to_backend.sport, kAck | kPsh,
                   kBackendIsn + 1, kClientIsn + 1, "hello");
  ASSERT_EQ(px.run(resp, 5), Verdict::kForward);
  const Seg s = read(resp);
  EXPECT_EQ(s.src, "198.19.0.11");
  EXPECT_EQ(s.dst, "203.0.113.7");
  EXPECT_EQ(s.dport, 41000);
  EXPECT_EQ(s.seq, o.cookie + 1);
  Bytes fin = seg("203.0.113.7", 41000, "198.19.0.11", 443, kAck | 0x01, kClientIsn + 1,
                  o.cookie + 6);
  ASSERT_EQ(px.run(fin, 6), Verdict::kForward);
  EXPECT_EQ(read(fin).ack, kBackendIsn + 6);
}

TEST(SynProxy, ClientSegmentsBeforeTheBackendAnswersSendTheSynAgain) {
  Proxy px;
  const std::uint32_t cookie = cookie_for(px, "203.0.113.5", 40000, "198.19.0.10", 80);
  Bytes ack = cookie_ack("203.0.113.5", 40000, "198.19.0.10", 80, cookie);
  ASSERT_EQ(px.run(ack), Verdict::kForwardResized);
  const Seg first = read(ack, px.nat.reply_len());
  // The client's data (it believes it is connected) while the backend is
  // silent: its first segment is the caller's to keep (kHold); its second
  // (a retransmission) sends the SYN again, the data dropped.
  Bytes request = seg("203.0.113.5", 40000, "198.19.0.10", 80, kAck | kPsh,
                      kClientIsn + 1, cookie + 1, "GET /");
  EXPECT_EQ(px.run(request, 100), Verdict::kHold);
  EXPECT_EQ(px.nat.counters().syn_proxy_held, 1u);
  Bytes data = seg("203.0.113.5", 40000, "198.19.0.10", 80, kAck | kPsh, kClientIsn + 1,
                   cookie + 1, "GET /");
  data.resize(64);
  ASSERT_EQ(px.run(data, 200), Verdict::kForwardResized);
  const Seg again = read(data, px.nat.reply_len());
  EXPECT_EQ(again.flags, kSyn);
  EXPECT_EQ(again.seq, first.seq);
  EXPECT_EQ(again.mss, first.mss);
  EXPECT_EQ(again.payload, "");
  // A bare ACK of 54 bytes (veth does not pad to 60) and no room known on
  // this path: the SYN goes without the MSS option rather than not at all.
  Bytes bare =
      seg("203.0.113.5", 40000, "198.19.0.10", 80, kAck, kClientIsn + 1, cookie + 1);
  ASSERT_EQ(bare.size(), 54u);
  ASSERT_EQ(px.run(bare, 205), Verdict::kForwardResized);
  const Seg plain = read(bare, px.nat.reply_len());
  EXPECT_EQ(plain.flags, kSyn);
  EXPECT_EQ(plain.seq, first.seq);
  EXPECT_EQ(plain.mss, 0);
  EXPECT_EQ(px.nat.tracker().table().size(), 1u);
  // A backend segment that is not its SYN-ACK is dropped, counted.
  Bytes stray = seg("198.18.2.1", 8080, "203.0.113.5", 40000, kAck, 5, kClientIsn + 1);
  EXPECT_EQ(px.run(stray, 210), Verdict::kDrop);
  EXPECT_EQ(px.nat.last_drop(), NatDrop::kTcpOutOfWindow);
  // So is a SYN-ACK that does not acknowledge the SYN.
  Bytes wrong = seg("198.18.2.1", 8080, "203.0.113.5", 40000, kSyn | kAck, kBackendIsn,
                    kClientIsn + 9);
  EXPECT_EQ(px.run(wrong, 220), Verdict::kDrop);
  EXPECT_EQ(px.nat.counters().syn_proxy_established, 0u);
  EXPECT_EQ(px.nat.take_release(), 0u);
  // The backend answers: the last ACK, and the held segment is to be
  // processed again, now translated into the backend's space.
  Bytes synack = seg("198.18.2.1", 8080, "203.0.113.5", 40000, kSyn | kAck, kBackendIsn,
                     kClientIsn + 1);
  ASSERT_EQ(px.run(synack, 230), Verdict::kReplyLocal);
  const std::uint32_t conn = px.nat.take_release();
  ASSERT_NE(conn, 0u);
  EXPECT_EQ(px.nat.take_release(), 0u);  // once
  ASSERT_EQ(px.run(request, 231), Verdict::kForward);
  const Seg sent = read(request);
  EXPECT_EQ(sent.dst, "198.18.2.1");
  EXPECT_EQ(sent.seq, kClientIsn + 1);
  EXPECT_EQ(sent.ack, kBackendIsn + 1);
  EXPECT_EQ(sent.payload, "GET /");
}

TEST(SynProxy, ABackendResetReachesTheClientAsOneItAccepts) {
  Proxy px;
  const std::uint32_t cookie = cookie_for(px, "203.0.113.5", 40000, "198.19.0.10", 80);
  Bytes ack = cookie_ack("203.0.113.5", 40000, "198.19.0.10", 80, cookie);
  ASSERT_EQ(px.run(ack), Verdict::kForwardResized);
  // No listener: RST+ACK acknowledging the SYN.
  Bytes rst =
      seg("198.18.2.1", 8080, "203.0.113.5", 40000, kRst | kAck, 0, kClientIsn + 1);
  ASSERT_EQ(px.run(rst, 5), Verdict::kForwardResized);
  const Seg s = read(rst, px.nat.reply_len());
  EXPECT_EQ(s.src, "198.19.0.10");
  EXPECT_EQ(s.dst, "203.0.113.5");
  EXPECT_EQ(s.flags, kRst);
  EXPECT_EQ(s.seq, cookie + 1);  // exactly what the client expects next
  EXPECT_EQ(px.nat.counters().syn_proxy_refused, 1u);
  // An RST that does not acknowledge the SYN is not the backend's.
  Proxy px2;
  const std::uint32_t cookie2 = cookie_for(px2, "203.0.113.5", 40000, "198.19.0.10", 80);
  Bytes ack2 = cookie_ack("203.0.113.5", 40000, "198.19.0.10", 80, cookie2);
  ASSERT_EQ(px2.run(ack2), Verdict::kForwardResized);
  Bytes blind = seg("198.18.2.1", 8080, "203.0.113.5", 40000, kRst | kAck, 0, 77);
  EXPECT_EQ(px2.run(blind, 5), Verdict::kDrop);
  EXPECT_EQ(px2.nat.counters().syn_proxy_refused, 0u);
}

TEST(SynProxy, ForgedAndStaleAcksOpenNothing) {
  Proxy px;
  const std::uint32_t cookie = cookie_for(px, "203.0.113.5", 40000, "198.19.0.11", 443);
  // A guessed cookie, another client's, the right one for another ISN: no
  // connection (dnat+snat: no pick-up either), each counted.
  for (const auto& [src, isn, ack] :
       {std::tuple{"203.0.113.5", kClientIsn + 1, cookie + 2},
        std::tuple{"203.0.113.6", kClientIsn + 1, cookie + 1},
        std::tuple{"203.0.113.5", kClientIsn + 2, cookie + 1}}) {
    Bytes a = seg(src, 40000, "198.19.0.11", 443, kAck, isn, ack);
    EXPECT_EQ(px.run(a), Verdict::kDrop);
    EXPECT_EQ(px.nat.last_drop(), NatDrop::kMidstreamNoConn);
  }
  EXPECT_EQ(px.nat.counters().syn_cookies_invalid, 3u);
  // The right ACK three minutes later: stale.
  Bytes late =
      seg("203.0.113.5", 40000, "198.19.0.11", 443, kAck, kClientIsn + 1, cookie + 1);
  EXPECT_EQ(px.run(late, 3u << SynCookies::kMinuteShift), Verdict::kDrop);
  EXPECT_EQ(px.nat.tracker().table().size(), 0u);
  EXPECT_EQ(px.nat.counters().syn_cookies_valid, 0u);
  // A SYN with a bad checksum gets no cookie.
  Bytes bad = PacketBuilder()
                  .Eth()
                  .IPv4("203.0.113.9", "198.19.0.10")
                  .TCP(40000, 80, {.flags = kSyn, .checksum = 0x1234})
                  .Build();
  EXPECT_EQ(px.run(bad), Verdict::kDrop);
  EXPECT_EQ(px.nat.counters().syn_cookies_sent, 1u);
}

TEST(SynProxy, ASynWithoutRoomForTheAnswerIsACountedDrop) {
  Proxy px;
  // 20-byte header, no options: the SYN-ACK (with MSS) needs 4 more bytes.
  Bytes syn = seg("203.0.113.5", 40000, "198.19.0.10", 80, kSyn, kClientIsn, 0);
  ASSERT_EQ(syn.size(), 54u);
  EXPECT_EQ(px.run(syn), Verdict::kDrop);
  EXPECT_EQ(px.nat.last_drop(), NatDrop::kSynProxyNoRoom);
  // With room after it (a buffer's tailroom; here Ethernet padding) it is
  // answered, the client without an MSS option getting 536.
  Bytes padded = seg("203.0.113.5", 40000, "198.19.0.10", 80, kSyn, kClientIsn, 0);
  padded.resize(64, 0);
  ASSERT_EQ(px.run(padded), Verdict::kReplyLocal);
  EXPECT_EQ(read(padded, px.nat.reply_len()).mss, 536);
}

TEST(SynProxy, AutoTurnsOnUnderPressureOnly) {
  // 400 connections: cookies from 100 embryonic ones on.
  Proxy px(SynProxyMode::kAuto, 400);
  std::uint32_t cookies_from = 0;
  for (std::uint32_t i = 0; i < 200; ++i) {
    Bytes syn = seg("10.0.0.1", static_cast<std::uint16_t>(1000 + i), "198.19.0.10", 80,
                    kSyn, i, 0, "", kLinuxSynOptions);
    const Verdict v = px.run(syn, 1);
    if (v == Verdict::kReplyLocal && cookies_from == 0) cookies_from = i;
  }
  EXPECT_EQ(cookies_from, 100u);
  EXPECT_EQ(px.nat.tracker().table().size(), 100u);
  EXPECT_EQ(px.nat.counters().syn_cookies_sent, 100u);

  // SNAT ports run out: a second of cookies, then none once the embryonic
  // connections are gone.
  Proxy snat(SynProxyMode::kAuto, 1000, 65534);  // 2 SNAT ports
  std::uint32_t now = 0;
  for (std::uint16_t i = 0; i < 3; ++i) {
    Bytes syn = seg("10.0.0.2", static_cast<std::uint16_t>(2000 + i), "198.19.0.11", 443,
                    kSyn, i, 0, "", kLinuxSynOptions);
    EXPECT_EQ(snat.run(syn, now), Verdict::kForward) << i;  // the third evicts
  }
  EXPECT_EQ(snat.nat.counters().snat_evicted, 1u);
  Bytes syn = seg("10.0.0.2", 3000, "198.19.0.11", 443, kSyn, 9, 0, "", kLinuxSynOptions);
  EXPECT_EQ(snat.run(syn, now + 999), Verdict::kReplyLocal);
  Bytes later =
      seg("10.0.0.2", 3001, "198.19.0.11", 443, kSyn, 9, 0, "", kLinuxSynOptions);
  EXPECT_EQ(snat.run(later, now + 1000), Verdict::kForward);
}

TEST(SynProxy, AFullProxyTableRefusesHandshakesCountedAndRecovers) {
  // 1,000 connections: 64 proxy slots. Open handshakes the backend never
  // answers until the table refuses; then they expire and it takes more.
  Proxy px(SynProxyMode::kOn, 1000);
  std::uint32_t opened = 0, refused = 0;
  for (std::uint16_t i = 0; i < 200; ++i) {
    Bytes syn = seg("10.0.0.1", static_cast<std::uint16_t>(1000 + i), "198.19.0.10", 80,
                    kSyn, kClientIsn, 0, "", kLinuxSynOptions);
    ASSERT_EQ(px.run(syn), Verdict::kReplyLocal);
    const std::uint32_t cookie = read(syn, px.nat.reply_len()).seq;
    Bytes ack = seg("10.0.0.1", static_cast<std::uint16_t>(1000 + i), "198.19.0.10", 80,
                    kAck, kClientIsn + 1, cookie + 1);
    ack.resize(64);
    const Verdict v = px.run(ack);
    if (v == Verdict::kForwardResized) ++opened;
    if (v == Verdict::kDrop) {
      EXPECT_EQ(px.nat.last_drop(), NatDrop::kSynProxyFull);
      ++refused;
    }
  }
  EXPECT_GE(opened, 32u);
  EXPECT_LE(opened, 64u);
  EXPECT_EQ(opened + refused, 200u);
  EXPECT_EQ(px.nat.counters().drops[static_cast<std::size_t>(NatDrop::kSynProxyFull)],
            refused);
  EXPECT_EQ(px.nat.tracker().table().size(), opened);  // nothing left behind
  EXPECT_TRUE(px.nat.tracker().consistent());
  // The embryonic timeout frees them; their slots serve new handshakes.
  const std::uint32_t later = conntrack::Timeouts::kDefaultTcpEmbryonicMs + 1;
  while (px.nat.expire(later, 1024) != 0) {
  }
  ASSERT_EQ(px.nat.tracker().table().size(), 0u);
  Bytes syn =
      seg("10.0.0.2", 9, "198.19.0.10", 80, kSyn, kClientIsn, 0, "", kLinuxSynOptions);
  ASSERT_EQ(px.run(syn, later), Verdict::kReplyLocal);
  const std::uint32_t cookie = read(syn, px.nat.reply_len()).seq;
  Bytes ack = cookie_ack("10.0.0.2", 9, "198.19.0.10", 80, cookie);
  EXPECT_EQ(px.run(ack, later), Verdict::kForwardResized);
}

TEST(SynProxy, OffNeverAnswersAndNeverChecks) {
  Proxy px(SynProxyMode::kOff, 400);
  for (std::uint32_t i = 0; i < 400; ++i) {
    Bytes syn = seg("10.0.0.1", static_cast<std::uint16_t>(1000 + i), "198.19.0.10", 80,
                    kSyn, i, 0);
    ASSERT_EQ(px.run(syn, 1), Verdict::kForward);
  }
  Bytes ack = seg("10.0.0.3", 5, "198.19.0.11", 443, kAck, 1, 1);
  EXPECT_EQ(px.run(ack, 1), Verdict::kDrop);
  EXPECT_EQ(px.nat.counters().syn_cookies_sent, 0u);
  EXPECT_EQ(px.nat.counters().syn_cookies_invalid, 0u);
}

TEST(SynProxy, IcmpErrorsQuoteTheSendersOwnSequence) {
  Proxy px;
  const Opened o = open(px, "203.0.113.5", 40000, "198.19.0.10", 80, "198.18.2.1", 8080);
  // A router toward the client could not forward a backend segment (as
  // translated: from the VIP, in the cookie's space): the backend must see
  // its own sequence number in the quote.
  Bytes quoted = seg("198.19.0.10", 80, "203.0.113.5", 40000, kAck, o.cookie + 1,
                     kClientIsn + 1, std::string(8, 'x'));
  ParsedPacket qp;
  ASSERT_EQ(packet::parse(quoted, qp), packet::DropReason::kNone);
  const std::vector<std::uint8_t> inner(quoted.begin() + qp.l3_offset, quoted.end());
  Bytes err = PacketBuilder()
                  .Eth()
                  .IPv4("192.0.2.1", "198.19.0.10")
                  .ICMP(3, 4, 0, 1400)
                  .Payload(inner)
                  .Build();
  ASSERT_EQ(px.run(err), Verdict::kForward);
  ParsedPacket ep;
  ASSERT_EQ(packet::parse(err, ep), packet::DropReason::kNone);
  EXPECT_EQ(packet::ipv4_to_string(ep.ipv4_dst), "198.18.2.1");
  const std::uint8_t* in_tcp = err.data() + ep.l4_offset + 8 + 20;
  EXPECT_EQ(packet::load_be32(in_tcp + 4), kBackendIsn + 1);
  EXPECT_EQ(packet::load_be16(in_tcp), 8080);
  // The ICMP checksum still covers the message.
  EXPECT_EQ(packet::csum_fold(
                packet::csum_add_bytes(0, err.data() + ep.l4_offset, ep.l4_len())),
            0xFFFF);
}

}  // namespace
}  // namespace nva::nat
