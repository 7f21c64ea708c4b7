// SYN cookies for the SYN proxy (translator.h): the sequence number of the
// SYN-ACK the NVA answers a client's SYN with, from which the client's ACK
// proves it received that SYN-ACK, without any state kept for the SYN.
//
// Layout of a cookie (the NVA's initial sequence number, ISN):
//   bits 31..3  the top 29 bits of SipHash-2-4(key; client address, VIP,
//               client port, VIP port, client ISN, minute, MSS index)
//   bit  2      the minute's parity (which of two minutes to check)
//   bits 1..0   the MSS index into kSynCookieMss
// The "minute" is now_ms >> 16 (65.5 s); a cookie is accepted in its own
// minute and the next, so it lives between 65 and 131 seconds, as Linux's
// (net/ipv4/syncookies.c) does. A forged ACK matches with probability
// 2^-29 per guess. The client's ISN is in the hash, so one cookie answers
// one SYN only.
//
// Like Linux's cookies without TCP timestamps, a cookie carries the MSS and
// nothing else: the SYN-ACK offers neither window scaling, SACK nor
// timestamps, so neither end uses them on a proxied connection (docs/DESIGN.md).
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <optional>

namespace nva::nat {

// dataplane.syn_proxy: when a SYN to a TCP service is answered by the NVA
// with a SYN cookie instead of creating a connection (the SYN proxy,
// translator.h). auto: while the worker is under pressure (a quarter of its
// table embryonic, or a connection evicted or refused for room, or a SNAT
// pair out of ports, within the last second); on: always; off: never.
enum class SynProxyMode : std::uint8_t { kAuto, kOn, kOff };

// The MSS values a cookie can carry (Linux's msstab for IPv4): the largest
// not above the client's is used; a client without the option gets 536
// (RFC 9293 section 3.7.1).
inline constexpr std::array<std::uint16_t, 4> kSynCookieMss = {536, 1300, 1440, 1460};

// SipHash-2-4 (Aumasson and Bernstein) of three 64-bit words.
constexpr std::uint64_t siphash24(std::uint64_t k0, std::uint64_t k1, std::uint64_t m0,
                                  std::uint64_t m1, std::uint64_t m2) noexcept {
  std::uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
  std::uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
  std::uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
  std::uint64_t v3 = k1 ^ 0x7465646279746573ull;
  auto round = [&] {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  };
  for (const std::uint64_t m : {m0, m1, m2}) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  const std::uint64_t b = std::uint64_t{24} << 56;  // message length 24 bytes
  v3 ^= b;
  round();
  round();
  v0 ^= b;
  v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) round();
  return v0 ^ v1 ^ v2 ^ v3;
}

// The connection a cookie is for, host order.
struct SynCookieTuple {
  std::uint32_t client_addr = 0;
  std::uint32_t vip = 0;
  std::uint16_t client_port = 0;
  std::uint16_t vip_port = 0;
};

class SynCookies {
 public:
  // The secret key (random per process, DataplaneOptions::hash_key).
  using Key = std::array<std::uint64_t, 2>;
  static constexpr unsigned kMinuteShift = 16;

  SynCookies() = default;
  explicit SynCookies(const Key& key) noexcept : key_(key) {}

  // The index into kSynCookieMss for a client's MSS option (0: none).
  static constexpr std::uint8_t mss_index(std::uint16_t client_mss) noexcept {
    std::uint8_t i = 0;
    for (std::uint8_t j = 1; j < kSynCookieMss.size(); ++j) {
      if (kSynCookieMss[j] <= client_mss) i = j;
    }
    return i;
  }

  // The cookie for a SYN with `client_isn`, at `now_ms`.
  std::uint32_t make(const SynCookieTuple& t, std::uint32_t client_isn,
                     std::uint8_t mss_idx, std::uint32_t now_ms) const noexcept {
    const std::uint32_t minute = now_ms >> kMinuteShift;
    return (hash(t, client_isn, minute, mss_idx) & ~7u) | ((minute & 1u) << 2) |
           (mss_idx & 3u);
  }

  // The MSS index `cookie` carries if it is one make() gave for this tuple
  // and ISN in this minute or the last; nothing otherwise.
  std::optional<std::uint8_t> check(const SynCookieTuple& t, std::uint32_t client_isn,
                                    std::uint32_t cookie,
                                    std::uint32_t now_ms) const noexcept {
    std::uint32_t minute = now_ms >> kMinuteShift;
    if (((cookie >> 2) & 1u) != (minute & 1u)) --minute;  // issued the minute before
    const auto mss_idx = static_cast<std::uint8_t>(cookie & 3u);
    if (((hash(t, client_isn, minute, mss_idx) ^ cookie) & ~7u) != 0) return std::nullopt;
    return mss_idx;
  }

 private:
  std::uint32_t hash(const SynCookieTuple& t, std::uint32_t client_isn,
                     std::uint32_t minute, std::uint8_t mss_idx) const noexcept {
    const std::uint64_t m0 = (std::uint64_t{t.client_addr} << 32) | t.vip;
    const std::uint64_t m1 = (std::uint64_t{t.client_port} << 48) |
                             (std::uint64_t{t.vip_port} << 32) | client_isn;
    const std::uint64_t m2 = (std::uint64_t{minute} << 8) | mss_idx;
    return static_cast<std::uint32_t>(siphash24(key_[0], key_[1], m0, m1, m2));
  }

  Key key_{};
};

}  // namespace nva::nat
