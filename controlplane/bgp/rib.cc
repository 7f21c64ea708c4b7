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

void AdjRibIn::apply(const UpdateMessage& u, const UpdateErrors& errors) {
  const Prefixes gone = withdrawn_prefixes(u, errors.handling);
  for (const auto& p : gone.ipv4) ipv4_.erase(p);
  for (const auto& p : gone.ipv6) ipv6_.erase(p);
  const Prefixes added = announced_prefixes(u, errors.handling);
  if (added.ipv4.empty() && added.ipv6.empty()) return;
  PathAttributes a = u.path_attributes;
  a.mp_reach_nlri.reset();  // the prefixes are the keys; keep the next hop only
  a.mp_unreach_nlri.reset();
  for (const auto& p : added.ipv4) ipv4_[p] = a;
  for (const auto& p : added.ipv6) ipv6_[p] = a;
}

void AdjRibIn::clear() {
  ipv4_.clear();
  ipv6_.clear();
}

}  // namespace nva::bgp
