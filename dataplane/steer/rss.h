// RSS pre-calculation: the NIC's Toeplitz hash in software, and the choice
// of SNAT ports whose reply tuple the NIC steers to the allocating worker.
//
// Toeplitz is linear over GF(2). For the reply tuple of a dnat+snat
// connection (src = backend, dst = SNAT address, sport = backend port,
// dport = SNAT port):
//
//   hash(reply) = hash(backend, snat, bport, 0) ^ H(port)
//
// where H(port) is the XOR of the 32-bit key windows at the set bits of the
// port. With a redirection table of 2^k entries only the k low bits count:
// the map port -> H(port) & (2^k - 1) is a k x 16 matrix M over GF(2). From
// M (Gaussian elimination, once per key) come a lift table (for every k-bit
// value v reachable, one port x with M x = v) and the kernel of M (every
// port with M n = 0). The ports whose reply lands on reta entry t are then
// exactly lift[(t ^ fixed) & mask] ^ kernel[u] for all u: the n-th candidate
// of a worker is O(1), and the candidates of all workers partition the port
// space by reta entry.
//
// This works with the key the port already has (no key is generated or
// changed), for any reta of 2^k entries (k <= 16). rte_thash (DPDK's
// predictable RSS) reaches the same result by rewriting key bits so that the
// low k port bits alone control the low k hash bits; see docs/STEERING.md
// for why this module does not use it.
//
// Immutable after construction; shared read-only by all workers.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nva::steer {

inline constexpr std::size_t kRssKeyLen = 40;
using RssKey = std::array<std::uint8_t, kRssKeyLen>;

// The 32 key bits starting at bit `bit` (bit 0 = MSB of key[0]).
std::uint32_t toeplitz_window(const RssKey& key, unsigned bit) noexcept;

// Toeplitz hash of a kBytes-byte input by one table lookup per byte (the
// key's windows at the byte's set bits, XORed, for all 256 values). hash()
// takes the input's fields in order, each an unsigned integer in host order
// that counts as its big-endian (network order) bytes.
template <std::size_t kBytes>
class Toeplitz {
 public:
  explicit Toeplitz(const RssKey& key) noexcept;

  template <std::unsigned_integral... Field>
  std::uint32_t hash(Field... fields) const noexcept {
    static_assert((sizeof(Field) + ...) == kBytes, "the fields make up the whole input");
    std::uint32_t h = 0;
    std::size_t pos = 0;
    ((h ^= field(pos, fields), pos += sizeof(Field)), ...);
    return h;
  }

 private:
  template <typename Field>
  std::uint32_t field(std::size_t pos, Field v) const noexcept {
    std::uint32_t h = 0;
    for (std::size_t i = 0; i < sizeof(Field); ++i) {
      h ^= t_[pos + i][(v >> (8 * (sizeof(Field) - 1 - i))) & 0xFF];
    }
    return h;
  }
  std::array<std::array<std::uint32_t, 256>, kBytes> t_{};
};

// The 12-byte IPv4 TCP/UDP input: hash(src addr, dst addr, src port, dst
// port), what rte_softrss() computes over struct rte_ipv4_tuple.
using Toeplitz4 = Toeplitz<12>;

// One endpoint, the 6-byte input hash(addr, port) a NIC hashes for RSS on
// source-only (RTE_ETH_RSS_L3_SRC_ONLY | RTE_ETH_RSS_L4_SRC_ONLY: src addr,
// src port) or destination-only fields (dst addr, dst port): the fields not
// chosen are left out of the input, not zeroed in place, so the chosen ones
// start at key bit 0 (mlx5's hash fields; docs/STEERING.md). Equal to
// rte_softrss over {addr, port << 16}.
using ToeplitzEndpoint = Toeplitz<6>;

// The RX queue an rte_flow RSS action over `n` queues gives a hash: mlx5
// builds an indirection table of 2^ceil(log2 n) entries, entry i -> the
// action's queue i % n, indexed by the low hash bits.
constexpr std::uint32_t rss_action_slot(std::uint32_t hash, std::uint32_t n) noexcept {
  std::uint32_t size = 1;
  while (size < n) size <<= 1;
  return (hash & (size - 1)) % n;
}

// What a port's RSS is: its key and its redirection table (the RX queue of
// each entry). Worker w polls queue w of every port.
struct RssView {
  RssKey key{};
  std::vector<std::uint16_t> reta;
  friend bool operator==(const RssView&, const RssView&) = default;
};

// The RSS of the ports, made usable for owner() and for SNAT port choice.
class RssSteering {
 public:
  // nullptr and `why` set when the view cannot be used: reta size not a
  // power of two in [4, 65536], a queue without a worker, ...
  static std::unique_ptr<RssSteering> make(const RssView& view, std::uint32_t workers,
                                           std::string& why);

  // The worker the NIC gives a TCP/UDP IPv4 packet with this tuple.
  std::uint32_t worker_of(std::uint32_t src, std::uint32_t dst, std::uint16_t sport,
                          std::uint16_t dport) const noexcept {
    return worker_of_entry_[hash_.hash(src, dst, sport, dport) & mask_];
  }
  std::uint32_t hash(std::uint32_t src, std::uint32_t dst, std::uint16_t sport,
                     std::uint16_t dport) const noexcept {
    return hash_.hash(src, dst, sport, dport);
  }

  // SNAT ports for a reply tuple whose fixed part (dport = 0) hashes to
  // `fixed`: the n-th candidate of `worker`, n < candidates(worker); 0 if
  // that candidate cannot be reached (only with a degenerate key, rank < k).
  // Every non-zero result p has worker_of(reply with dport = p) == worker.
  std::uint16_t candidate(std::uint32_t fixed, std::uint32_t worker,
                          std::uint32_t n) const noexcept {
    const std::vector<std::uint32_t>& t = targets_[worker];
    const auto tsize = static_cast<std::uint32_t>(t.size());
    const std::uint32_t entry = t[n % tsize];
    const std::uint32_t lifted = lift_[(entry ^ fixed) & mask_];
    if (lifted == kUnreachable) return 0;
    // An odd multiplier permutes the kernel (its size is a power of two):
    // consecutive candidates spread over the port space.
    const std::uint32_t u = ((n / tsize) * 0x9E37u) & (kernel_.size() - 1);
    return static_cast<std::uint16_t>(lifted ^ kernel_[u]);
  }
  // How many candidates `worker` has for one fixed part: its reta entries
  // times the kernel size (0 if the worker has no reta entry).
  std::uint32_t candidates(std::uint32_t worker) const noexcept {
    return static_cast<std::uint32_t>(targets_[worker].size() * kernel_.size());
  }

  std::uint32_t workers() const noexcept {
    return static_cast<std::uint32_t>(targets_.size());
  }
  std::uint32_t reta_size() const noexcept { return mask_ + 1; }
  // Rank of M: k for every key that controls all k reta bits from the port.
  unsigned rank() const noexcept { return rank_; }
  unsigned reta_bits() const noexcept { return bits_; }
  const RssView& view() const noexcept { return view_; }
  // "reta 128 entries, rank 7/7, 512 ports per entry" - for the log.
  std::string describe() const;

 private:
  static constexpr std::uint32_t kUnreachable = 0xFFFFFFFFu;
  RssSteering(const RssView& view, std::uint32_t workers);

  RssView view_;
  Toeplitz4 hash_;
  std::uint32_t mask_ = 0;
  unsigned bits_ = 0;
  unsigned rank_ = 0;
  std::vector<std::uint32_t> worker_of_entry_;       // reta entry -> worker
  std::vector<std::vector<std::uint32_t>> targets_;  // worker -> its entries
  std::vector<std::uint32_t> lift_;                  // k-bit value -> port
  std::vector<std::uint16_t> kernel_;                // ports with M n = 0
};

}  // namespace nva::steer
