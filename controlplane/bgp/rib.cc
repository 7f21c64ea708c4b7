// Adj-RIB-Out bookkeeping (pending announcements, route limit) and Adj-RIB-In.
#include "controlplane/bgp/rib.h"

#include <utility>

namespace nva::bgp {

void AdjRibOut::set(const Ipv4Prefix& p, PathAttributes attributes) {
  auto sent = sent_.find(p);
  const bool same_as_sent = sent != sent_.end() && sent->second == attributes;
  wanted_[p] = std::move(attributes);
  if (same_as_sent) {
    pending_.erase(p);
  } else {
    pending_.insert(p);
  }
}

bool AdjRibOut::remove(const Ipv4Prefix& p) {
  wanted_.erase(p);
  pending_.erase(p);
  return sent_.erase(p) > 0;
}

std::vector<UpdateMessage> AdjRibOut::take_announcements(std::size_t limit,
                                                         std::size_t& held_back) {
  held_back = 0;
  std::vector<UpdateMessage> out;
  for (auto it = pending_.begin(); it != pending_.end();) {
    const Ipv4Prefix p = *it;
    const auto want = wanted_.find(p);
    if (want == wanted_.end()) {  // not reachable: remove() erases both
      it = pending_.erase(it);
      continue;
    }
    if (!sent_.contains(p) && sent_.size() >= limit) {
      ++held_back;
      ++it;
      continue;
    }
    UpdateMessage* group = nullptr;
    for (auto& u : out) {
      if (u.path_attributes == want->second) group = &u;
    }
    if (group == nullptr) {
      out.emplace_back();
      group = &out.back();
      group->path_attributes = want->second;
    }
    group->nlri.push_back(p);
    sent_[p] = want->second;
    it = pending_.erase(it);
  }
  return out;
}

void AdjRibOut::resend_all() {
  for (const auto& [p, a] : wanted_) pending_.insert(p);
}

void AdjRibOut::session_down() {
  sent_.clear();
  resend_all();
}

UpdateMessage withdrawal(std::vector<Ipv4Prefix> prefixes) {
  UpdateMessage u;
  u.withdrawn_routes = std::move(prefixes);
  return u;
}

namespace {

// Adds `prefixes` to `routes` (with `a`) or `keys`, never past `limit`
// entries; false when a new one did not fit.
template <class P>
bool add_within(const std::vector<P>& prefixes, std::map<P, PathAttributes>& routes,
                std::set<P>& keys, bool keep, const PathAttributes& a,
                std::size_t limit) {
  for (const P& p : prefixes) {
    if (keep) {
      if (const auto it = routes.find(p); it != routes.end()) {
        it->second = a;
      } else if (routes.size() >= limit) {
        return false;
      } else {
        routes.emplace(p, a);
      }
    } else if (!keys.contains(p)) {
      if (keys.size() >= limit) return false;
      keys.insert(p);
    }
  }
  return true;
}

}  // namespace

std::optional<Afi> AdjRibIn::apply(const UpdateMessage& u, const UpdateErrors& errors,
                                   std::size_t limit) {
  const Prefixes gone = withdrawn_prefixes(u, errors.handling);
  for (const auto& p : gone.ipv4)
    keep_ ? (void)ipv4_.erase(p) : (void)ipv4_keys_.erase(p);
  for (const auto& p : gone.ipv6)
    keep_ ? (void)ipv6_.erase(p) : (void)ipv6_keys_.erase(p);
  const Prefixes added = announced_prefixes(u, errors.handling);
  if (added.ipv4.empty() && added.ipv6.empty()) return std::nullopt;
  PathAttributes a;
  if (keep_) {
    a = u.path_attributes;
    a.mp_reach_nlri.reset();  // the prefixes are the keys; keep the next hop only
    a.mp_unreach_nlri.reset();
  }
  if (!add_within(added.ipv4, ipv4_, ipv4_keys_, keep_, a, limit)) return Afi::kIpv4;
  if (!add_within(added.ipv6, ipv6_, ipv6_keys_, keep_, a, limit)) return Afi::kIpv6;
  return std::nullopt;
}

void AdjRibIn::clear() {
  ipv4_.clear();
  ipv6_.clear();
  ipv4_keys_.clear();
  ipv6_keys_.clear();
}

}  // namespace nva::bgp
