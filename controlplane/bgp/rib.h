// Adj-RIB-Out (what one peer should have and what it was sent, with pending
// announcements coalesced per prefix) and Adj-RIB-In (received routes, kept
// for display only, never installed).
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <vector>

#include "controlplane/bgp/message.h"

namespace nva::bgp {

// Withdrawals leave at once; announcements wait in `pending` until the
// owner's advertisement timer takes them, so a prefix that flaps many times
// within one interval is announced once, with its latest attributes.
class AdjRibOut {
 public:
  // The route the peer should have now: pending, unless the peer already
  // has exactly these attributes.
  void set(const Ipv4Prefix& p, PathAttributes attributes);
  // The prefix should not be at the peer; true when it must be withdrawn
  // now (it had been sent).
  bool remove(const Ipv4Prefix& p);

  // The announcements to send now, grouped by attributes (one UPDATE per
  // distinct attribute set, to be split by encode_split), marked as sent.
  // A prefix the peer does not have yet is held back (stays pending) when
  // the peer already has `limit` routes; `held_back` counts those.
  std::vector<UpdateMessage> take_announcements(std::size_t limit,
                                                std::size_t& held_back);
  // A ROUTE-REFRESH or a new session: everything wanted is pending again
  // (and, for a new session, nothing counts as sent).
  void resend_all();
  void session_down();

  bool has_pending() const { return !pending_.empty(); }
  std::size_t sent_count() const { return sent_.size(); }
  std::size_t wanted_count() const { return wanted_.size(); }
  const std::map<Ipv4Prefix, PathAttributes>& sent() const { return sent_; }

 private:
  std::map<Ipv4Prefix, PathAttributes> wanted_;
  std::map<Ipv4Prefix, PathAttributes> sent_;
  std::set<Ipv4Prefix> pending_;
};

// The withdrawal UPDATE for `prefixes` (one message; encode_split splits it).
UpdateMessage withdrawal(std::vector<Ipv4Prefix> prefixes);

// Received routes of one peer, after RFC 7606 (treat-as-withdraw removes).
class AdjRibIn {
 public:
  void apply(const UpdateMessage& u, const UpdateErrors& errors);
  void clear();
  std::size_t size() const { return ipv4_.size() + ipv6_.size(); }
  const std::map<Ipv4Prefix, PathAttributes>& ipv4() const { return ipv4_; }
  const std::map<Ipv6Prefix, PathAttributes>& ipv6() const { return ipv6_; }

 private:
  std::map<Ipv4Prefix, PathAttributes> ipv4_;
  std::map<Ipv6Prefix, PathAttributes> ipv6_;
};

}  // namespace nva::bgp
