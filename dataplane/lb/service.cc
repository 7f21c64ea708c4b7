// ServiceTable: Maglev tables per service and sorted lookup indexes.
#include "dataplane/lb/service.h"

#include <algorithm>

namespace nva::lb {

namespace {

template <typename T>
void sort_unique(std::vector<T>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

template <typename T>
bool contains(const std::vector<T>& v, T x) noexcept {
  return std::binary_search(v.begin(), v.end(), x);
}

}  // namespace

ServiceTable::ServiceTable(std::vector<Service> services, std::uint32_t maglev_size,
                           DeadBackendPolicy dead)
    : services_(std::move(services)) {
  for (std::uint32_t i = 0; i < services_.size(); ++i) {
    Service& s = services_[i];
    std::vector<MaglevBackend> mb;
    mb.reserve(s.backends.size());
    for (const Backend& b : s.backends) {
      mb.push_back({b.addr, b.port, b.healthy ? b.weight : 0});
      if (!b.healthy && dead == DeadBackendPolicy::kReset) {
        dead_backends_.push_back((std::uint64_t{b.addr} << 16) | b.port);
      }
      if (s.mode == NatMode::kDnat) {
        dnat_backends_.push_back((std::uint64_t{b.addr} << 16) | b.port);
      }
    }
    s.maglev = MaglevTable::build(mb, s.seed, maglev_size);
    index_.push_back({make_key(s.proto, s.vip, s.port), i});
    vips_.push_back(s.vip);
    if (s.mode == NatMode::kDnatSnat) {
      snat_addrs_.insert(snat_addrs_.end(), s.snat_addrs.begin(), s.snat_addrs.end());
    }
  }
  std::sort(index_.begin(), index_.end());
  sort_unique(vips_);
  sort_unique(snat_addrs_);
  sort_unique(dnat_backends_);
  sort_unique(dead_backends_);
}

bool ServiceTable::is_dead_backend(std::uint32_t addr,
                                   std::uint16_t port) const noexcept {
  return contains(dead_backends_, (std::uint64_t{addr} << 16) | port) ||
         contains(dead_backends_, std::uint64_t{addr} << 16);
}

const Service* ServiceTable::find(std::uint8_t proto, std::uint32_t vip,
                                  std::uint16_t port) const noexcept {
  for (const std::uint16_t p : {port, std::uint16_t{0}}) {
    const Entry probe{make_key(proto, vip, p), 0};
    const auto it = std::lower_bound(index_.begin(), index_.end(), probe);
    if (it != index_.end() && it->key == probe.key) return &services_[it->index];
    if (port == 0) break;
  }
  return nullptr;
}

bool ServiceTable::is_vip(std::uint32_t addr) const noexcept {
  return contains(vips_, addr);
}

bool ServiceTable::is_snat_addr(std::uint32_t addr) const noexcept {
  return contains(snat_addrs_, addr);
}

bool ServiceTable::is_dnat_backend(std::uint32_t addr,
                                   std::uint16_t port) const noexcept {
  return contains(dnat_backends_, (std::uint64_t{addr} << 16) | port) ||
         contains(dnat_backends_, std::uint64_t{addr} << 16);
}

bool ServiceTable::is_dnat_backend_addr(std::uint32_t addr) const noexcept {
  const auto it = std::lower_bound(dnat_backends_.begin(), dnat_backends_.end(),
                                   std::uint64_t{addr} << 16);
  return it != dnat_backends_.end() && (*it >> 16) == addr;
}

}  // namespace nva::lb
