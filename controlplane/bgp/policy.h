// Outbound policy: the attributes a locally originated route carries to one
// peer (AS-path prepend, MED, communities incl. NO_ADVERTISE and
// GRACEFUL_SHUTDOWN, large communities, next-hop self), per prefix and per peer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/bgp/attributes.h"
#include "controlplane/bgp/prefix.h"

namespace nva::bgp {

inline constexpr unsigned kMaxPrepend = 16;
inline constexpr std::size_t kDefaultMaxRoutes = 1000;  // Azure Route Server, per peer

// What the control plane announces with a prefix (the per-prefix policy).
struct RouteAttributes {
  Origin origin = Origin::kIgp;
  std::optional<std::uint32_t> med;
  unsigned prepend = 0;  // extra copies of the local AS
  std::vector<Community> communities;
  std::vector<LargeCommunity> large_communities;
  bool graceful_shutdown = false;  // adds 65535:0 (RFC 8326)
  bool no_advertise = false;       // adds NO_ADVERTISE (RFC 1997)
  bool operator==(const RouteAttributes&) const = default;
};

// What one peer gets on top of every route (the per-peer policy).
struct ExportPolicy {
  unsigned prepend = 0;                // added to the route's own prepend
  std::optional<std::uint32_t> med;    // replaces the route's MED
  std::vector<Community> communities;  // added
  std::vector<LargeCommunity> large_communities;
  bool graceful_shutdown = false;  // every route to this peer (draining)
  // nullopt: next-hop self, the local address of the session.
  std::optional<Ipv4Address> next_hop;
  // A warning (and the excess held back) when more routes would be sent;
  // Route Server resets a session that exceeds its limit.
  std::size_t max_routes = kDefaultMaxRoutes;
  bool operator==(const ExportPolicy&) const = default;
};

// The session a route is exported on.
struct ExportContext {
  std::uint32_t local_as = 0;
  Ipv4Address local_address{};  // next-hop self
};

// The path attributes of a locally originated route towards one peer:
// ORIGIN, AS_PATH (the local AS 1 + prepends times), NEXT_HOP, MED,
// COMMUNITIES and LARGE_COMMUNITIES (sorted, without duplicates).
PathAttributes export_attributes(const RouteAttributes& route, const ExportPolicy& peer,
                                 const ExportContext& ctx);

// Text forms used on command lines and in events: "65001:100",
// "graceful-shutdown", "no-advertise", "no-export"; "65001:1:2". The one
// parser of a community: nva-bgp's --community and anycast-nva's
// bgp.community both read through it. A well-known name is only another
// spelling of a value in the reserved range (RFC 1997; IANA's BGP Well-known
// Communities: GRACEFUL_SHUTDOWN 0xFFFF0000 by RFC 8326), which the number
// gives as well; and an operator's outbound policy tagging a session's routes
// with GRACEFUL_SHUTDOWN is RFC 8326's own procedure, so neither refuses it.
std::optional<Community> parse_community(std::string_view text);
std::optional<LargeCommunity> parse_large_community(std::string_view text);
std::string to_string(Community c);
std::string to_string(const LargeCommunity& c);

}  // namespace nva::bgp
