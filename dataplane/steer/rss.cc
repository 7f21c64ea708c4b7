// RSS pre-calculation: Toeplitz tables and the GF(2) solve (see rss.h).
#include "dataplane/steer/rss.h"

#include <bit>

namespace nva::steer {

namespace {

// Bit offset of the destination port's most significant bit in the IPv4
// TCP/UDP Toeplitz input (src addr 32, dst addr 32, src port 16).
constexpr unsigned kDportBit = 80;

}  // namespace

std::uint32_t toeplitz_window(const RssKey& key, unsigned bit) noexcept {
  std::uint64_t w = 0;
  const unsigned first = bit / 8;
  for (unsigned i = 0; i < 8; ++i) {
    w = (w << 8) | (first + i < key.size() ? key[first + i] : 0u);
  }
  return static_cast<std::uint32_t>(w >> (32 - bit % 8));
}

template <std::size_t kBytes>
Toeplitz<kBytes>::Toeplitz(const RssKey& key) noexcept {
  for (std::size_t pos = 0; pos < kBytes; ++pos) {
    std::array<std::uint32_t, 8> win{};  // window of each bit of this byte, MSB first
    for (unsigned b = 0; b < 8; ++b) {
      win[b] = toeplitz_window(key, static_cast<unsigned>(pos * 8 + b));
    }
    for (unsigned v = 0; v < 256; ++v) {
      std::uint32_t h = 0;
      for (unsigned b = 0; b < 8; ++b) {
        if ((v & (0x80u >> b)) != 0) h ^= win[b];
      }
      t_[pos][v] = h;
    }
  }
}

template class Toeplitz<12>;  // Toeplitz4
template class Toeplitz<6>;   // ToeplitzEndpoint

std::unique_ptr<RssSteering> RssSteering::make(const RssView& view, std::uint32_t workers,
                                               std::string& why) {
  const std::size_t n = view.reta.size();
  if (workers == 0) {
    why = "no workers";
    return nullptr;
  }
  if (n < 4 || n > 65536 || !std::has_single_bit(n)) {
    why = "redirection table of " + std::to_string(n) +
          " entries (need a power of two in [4, 65536]: the NIC's index is then the "
          "low hash bits, which are linear in the port)";
    return nullptr;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (view.reta[i] >= workers) {
      why = "redirection table entry " + std::to_string(i) + " names queue " +
            std::to_string(view.reta[i]) + " but there are " + std::to_string(workers) +
            " workers";
      return nullptr;
    }
  }
  return std::unique_ptr<RssSteering>(new RssSteering(view, workers));
}

RssSteering::RssSteering(const RssView& view, std::uint32_t workers)
    : view_(view),
      hash_(view.key),
      mask_(static_cast<std::uint32_t>(view.reta.size() - 1)),
      bits_(static_cast<unsigned>(std::countr_zero(view.reta.size()))),
      targets_(workers) {
  worker_of_entry_.assign(view.reta.begin(), view.reta.end());
  for (std::uint32_t t = 0; t <= mask_; ++t) targets_[view.reta[t]].push_back(t);

  // Gaussian elimination over the 16 columns of M (port bit j -> the low
  // k bits of its key window), keeping for every pivot the ports that make it.
  struct Pivot {
    std::uint32_t vec = 0;
    std::uint32_t port = 0;
    bool set = false;
  };
  std::array<Pivot, 16> pivot{};
  std::vector<std::uint32_t> kernel_basis;
  // High port bits first: they become the pivots, so lifted ports are high
  // ones and the kernel holds the low bits (ports below snat_port_min are
  // then rare among the first candidates).
  for (int j = 15; j >= 0; --j) {
    std::uint32_t v = toeplitz_window(view.key, kDportBit + 15 - j) & mask_;
    std::uint32_t port = 1u << j;
    for (int b = static_cast<int>(bits_) - 1; b >= 0 && v != 0; --b) {
      if ((v & (1u << b)) == 0) continue;
      if (!pivot[b].set) {
        pivot[b] = {v, port, true};
        ++rank_;
        v = 0;
        port = 0;
        break;
      }
      v ^= pivot[b].vec;
      port ^= pivot[b].port;
    }
    if (port != 0) kernel_basis.push_back(port);  // reduced to zero: M port = 0
  }
  std::vector<Pivot> basis;
  for (const Pivot& p : pivot) {
    if (p.set) basis.push_back(p);
  }
  lift_.assign(std::size_t{mask_} + 1, kUnreachable);
  for (std::uint32_t c = 0; c < (1u << basis.size()); ++c) {
    std::uint32_t v = 0, port = 0;
    for (std::size_t i = 0; i < basis.size(); ++i) {
      if ((c & (1u << i)) != 0) {
        v ^= basis[i].vec;
        port ^= basis[i].port;
      }
    }
    lift_[v] = port;
  }
  kernel_.resize(std::size_t{1} << kernel_basis.size());
  for (std::uint32_t c = 0; c < kernel_.size(); ++c) {
    std::uint32_t port = 0;
    for (std::size_t i = 0; i < kernel_basis.size(); ++i) {
      if ((c & (1u << i)) != 0) port ^= kernel_basis[i];
    }
    kernel_[c] = static_cast<std::uint16_t>(port);
  }
}

std::string RssSteering::describe() const {
  return "reta " + std::to_string(reta_size()) + " entries, rank " +
         std::to_string(rank_) + "/" + std::to_string(bits_) + ", " +
         std::to_string(kernel_.size()) + " ports per entry";
}

}  // namespace nva::steer
