// Checksum tests: known vectors, RFC 1624 corner cases, and property tests
// that incremental updates equal full recomputation.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "dataplane/packet/bytes.h"
#include "dataplane/packet/checksum.h"

namespace nva::packet {
namespace {

TEST(Checksum, Ipv4HeaderKnownVector) {
  // The classic example header (checksum field 0xb861).
  const std::vector<std::uint8_t> h = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40,
                                       0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
                                       0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(ipv4_header_checksum(h.data(), h.size()), 0xb861);
}

TEST(Checksum, Rfc1624Section4Example) {
  // RFC 1624 section 4: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285. Eqn. 3 gives
  // 0x0000 (eqn. 1 of RFC 1141 wrongly gave 0xFFFF).
  EXPECT_EQ(csum_replace16(0xDD2F, 0x5555, 0x3285), 0x0000);
}

TEST(Checksum, FoldHandlesLargeAccumulators) {
  EXPECT_EQ(csum_fold(0), 0);
  EXPECT_EQ(csum_fold(0xFFFF), 0xFFFF);
  EXPECT_EQ(csum_fold(0x10000), 1);
  EXPECT_EQ(csum_fold(0xFFFFFFFFull), 0xFFFF);
  EXPECT_EQ(csum_fold(0xFFFFFFFFFFFFFFFFull), 0xFFFF);
}

// The rotate-and-add fold against the plain one: 16-bit end-around folds,
// one at a time.
TEST(Checksum, FoldEqualsStepwiseFold) {
  auto stepwise = [](std::uint64_t acc) {
    while (acc > 0xFFFF) acc = (acc & 0xFFFF) + (acc >> 16);
    return static_cast<std::uint16_t>(acc);
  };
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t v = rng() >> (rng() % 64);
    ASSERT_EQ(csum_fold(v), stepwise(v)) << std::hex << v;
  }
  for (std::uint64_t v : {0x1FFFEull, 0xFFFF0000ull, 0xFFFFFFFF0000ull, 0x10000FFFFull,
                          0xFFFF000000000000ull}) {
    EXPECT_EQ(csum_fold(v), stepwise(v)) << std::hex << v;
  }
}

// A 32-bit delta is the sum of its two 16-bit halves' deltas.
TEST(Checksum, Delta32EqualsTwoDelta16) {
  std::mt19937 rng(8);
  for (int i = 0; i < 100000; ++i) {
    const std::uint32_t o = rng(), n = rng();
    const std::uint64_t halves =
        csum_delta16(static_cast<std::uint16_t>(o >> 16),
                     static_cast<std::uint16_t>(n >> 16)) +
        csum_delta16(static_cast<std::uint16_t>(o), static_cast<std::uint16_t>(n));
    ASSERT_EQ(csum_fold(csum_delta32(o, n)), csum_fold(halves));
  }
}

// The short form for a delta folded in advance gives what csum_apply()
// gives, for every checksum and delta word in a sample of 2^20.
TEST(Checksum, Apply16EqualsApply) {
  std::mt19937 rng(16);
  for (int i = 0; i < (1 << 20); ++i) {
    const auto check = static_cast<std::uint16_t>(rng());
    const auto delta = static_cast<std::uint16_t>(rng());
    ASSERT_EQ(csum_apply16(check, delta), csum_apply(check, delta))
        << check << " " << delta;
  }
  for (const std::uint16_t edge : {0x0000, 0x0001, 0xFFFE, 0xFFFF}) {
    for (const std::uint16_t d : {0x0000, 0x0001, 0xFFFE, 0xFFFF}) {
      EXPECT_EQ(csum_apply16(edge, d), csum_apply(edge, d)) << edge << " " << d;
    }
  }
}

TEST(Checksum, OddLengthPadsWithZero) {
  const std::uint8_t a[] = {0x12, 0x34, 0x56};
  const std::uint8_t b[] = {0x12, 0x34, 0x56, 0x00};
  EXPECT_EQ(csum_fold(csum_add_bytes(0, a, 3)), csum_fold(csum_add_bytes(0, b, 4)));
}

TEST(Checksum, ValidDataSumsToAllOnes) {
  std::mt19937 rng(1);
  for (int i = 0; i < 1000; ++i) {
    std::vector<std::uint8_t> d(2 + rng() % 200 * 2);
    for (auto& x : d) x = static_cast<std::uint8_t>(rng());
    store_be16(d.data(), inet_checksum(d.data(), d.size(), 0));
    EXPECT_EQ(csum_fold(csum_add_bytes(0, d.data(), d.size())), 0xFFFF);
  }
}

// Property: for random data with a valid checksum, replacing any 16- or
// 32-bit field and updating incrementally gives exactly what a full
// recomputation gives (including the +0/-0 cases). As in every IP header and
// pseudo-header, the last word (think: the protocol number) is never zero,
// so the data never sums to +0, the one input where a full computation
// yields 0xFFFF instead of the equivalent 0x0000.
TEST(ChecksumProperty, IncrementalEqualsFullRecompute) {
  std::mt19937_64 rng(20261128);
  int zero_results = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    const std::size_t words = 4 + rng() % 60;
    std::vector<std::uint8_t> d(words * 2);
    for (auto& x : d) x = static_cast<std::uint8_t>(rng());
    // Bias towards the edge values that trip one's-complement code.
    if (iter % 7 == 0) std::fill(d.begin(), d.end(), 0);
    if (iter % 11 == 0) std::fill(d.begin(), d.end(), 0xFF);
    store_be16(&d[d.size() - 2], 6);
    store_be16(d.data(), inet_checksum(d.data(), d.size(), 0));

    const std::size_t w = 1 + rng() % (words - 3);  // not the first or last word
    std::uint16_t check = load_be16(d.data());
    if (rng() % 2 == 0) {
      const std::uint16_t old_v = load_be16(&d[w * 2]);
      std::uint16_t new_v = static_cast<std::uint16_t>(rng());
      if (iter % 5 == 0) new_v = static_cast<std::uint16_t>(rng() % 2 ? 0 : 0xFFFF);
      if (iter % 3 == 0) {
        // The value that makes the whole sum -0, so the checksum becomes 0.
        store_be16(&d[w * 2], 0);
        const std::uint16_t rest = csum_fold(csum_add_bytes(0, &d[2], d.size() - 2));
        new_v = static_cast<std::uint16_t>(~rest);
      }
      store_be16(&d[w * 2], new_v);
      check = csum_replace16(check, old_v, new_v);
    } else {
      const std::uint32_t old_v = load_be32(&d[w * 2]);
      std::uint32_t new_v = static_cast<std::uint32_t>(rng());
      if (iter % 5 == 0) new_v = rng() % 2 ? 0 : 0xFFFFFFFF;
      store_be32(&d[w * 2], new_v);
      check = csum_replace32(check, old_v, new_v);
    }
    const std::uint16_t full = inet_checksum(d.data(), d.size(), 0);
    ASSERT_EQ(check, full) << "iteration " << iter;
    ASSERT_NE(check, 0xFFFF);
    zero_results += check == 0;
  }
  // The edge-biased inputs must have exercised the zero result.
  EXPECT_GT(zero_results, 0);
}

TEST(Checksum, Ipv4PseudoHeaderMatchesManualSum) {
  // UDP 198.18.0.1:1 -> 198.19.0.1:2, 1 byte payload 'x'.
  std::vector<std::uint8_t> udp = {0, 1, 0, 2, 0, 9, 0, 0, 'x'};
  const std::uint32_t s = 0xC6120001, d = 0xC6130001;
  const std::uint16_t c = ipv4_l4_checksum(udp.data(), udp.size(), 6, s, d, 17);
  // Manual: pseudo header words + UDP words (checksum zero) + 'x'<<8.
  std::uint64_t acc = 0xC612 + 0x0001 + 0xC613 + 0x0001 + 17 + 9;
  acc += 0x0001 + 0x0002 + 0x0009 + 0x0000 + (std::uint64_t{'x'} << 8);
  EXPECT_EQ(c, static_cast<std::uint16_t>(~csum_fold(acc)));
}

// The receive-side checks (issue 12): right sums pass, any flipped bit
// fails, for headers with and without options and odd-length TCP data; a
// UDP checksum of 0 means none.
TEST(Checksum, VerifiesReceivedSums) {
  std::mt19937 rng(3);
  for (const std::size_t hlen : {20u, 24u, 60u}) {
    std::vector<std::uint8_t> h(hlen);
    for (auto& b : h) b = static_cast<std::uint8_t>(rng());
    store_be16(h.data() + 10, ipv4_header_checksum(h.data(), hlen));
    EXPECT_TRUE(ipv4_header_checksum_ok(h.data(), hlen)) << hlen;
    for (std::size_t bit = 0; bit < hlen * 8; bit += 7) {
      h[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      EXPECT_FALSE(ipv4_header_checksum_ok(h.data(), hlen)) << hlen << " bit " << bit;
      h[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    }
  }
  const std::uint32_t s = 0xC6120001, d = 0xC6130001;
  for (const std::size_t len : {20u, 21u, 33u, 1480u}) {
    std::vector<std::uint8_t> tcp(len);
    for (auto& b : tcp) b = static_cast<std::uint8_t>(rng());
    store_be16(tcp.data() + 16, ipv4_l4_checksum(tcp.data(), len, 16, s, d, 6));
    EXPECT_TRUE(ipv4_l4_checksum_ok(tcp.data(), len, s, d, 6)) << len;
    EXPECT_FALSE(ipv4_l4_checksum_ok(tcp.data(), len, s + 1, d, 6)) << len;
    tcp[len - 1] ^= 0x80;
    EXPECT_FALSE(ipv4_l4_checksum_ok(tcp.data(), len, s, d, 6)) << len;
  }
  std::vector<std::uint8_t> udp = {0, 1, 0, 2, 0, 9, 0, 0, 'x'};
  EXPECT_TRUE(ipv4_l4_checksum_ok(udp.data(), udp.size(), s, d, 17));  // none
  store_be16(udp.data() + 6, 0x1234);
  EXPECT_FALSE(ipv4_l4_checksum_ok(udp.data(), udp.size(), s, d, 17));
}

}  // namespace
}  // namespace nva::packet
