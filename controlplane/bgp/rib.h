// Adj-RIB-Out (what one peer should have and what it was sent, with pending
// announcements coalesced per prefix) and Adj-RIB-In (received routes, never
// installed: counted against an inbound limit, their attributes kept only
// for display when asked to).
#pragma once

#include <cstddef>
#include <limits>
#include <map>
#include <optional>
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
// With keep_attributes false (the daemon: it only exports) only the
// prefixes are held, to count them, so a peer's routes cost a set node each
// (about 50 bytes) whatever their attributes; ipv4() and ipv6() stay empty.
class AdjRibIn {
 public:
  explicit AdjRibIn(bool keep_attributes = true) : keep_(keep_attributes) {}

  // Applies `u`. A new prefix of a family that already holds `limit` is not
  // added: the result is that family (the session must end, RFC 4486), and
  // the rest of the UPDATE is not applied. nullopt: within the limit.
  std::optional<Afi> apply(const UpdateMessage& u, const UpdateErrors& errors,
                           std::size_t limit = std::numeric_limits<std::size_t>::max());
  void clear();
  std::size_t size() const { return ipv4_count() + ipv6_count(); }
  std::size_t ipv4_count() const { return keep_ ? ipv4_.size() : ipv4_keys_.size(); }
  std::size_t ipv6_count() const { return keep_ ? ipv6_.size() : ipv6_keys_.size(); }
  bool keeps_attributes() const { return keep_; }
  const std::map<Ipv4Prefix, PathAttributes>& ipv4() const { return ipv4_; }
  const std::map<Ipv6Prefix, PathAttributes>& ipv6() const { return ipv6_; }

 private:
  bool keep_;
  std::map<Ipv4Prefix, PathAttributes> ipv4_;  // keep_
  std::map<Ipv6Prefix, PathAttributes> ipv6_;
  std::set<Ipv4Prefix> ipv4_keys_;  // !keep_
  std::set<Ipv6Prefix> ipv6_keys_;
};

}  // namespace nva::bgp
