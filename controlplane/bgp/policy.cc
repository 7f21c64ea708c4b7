// Outbound policy: building the exported path attributes; community text forms.
#include "controlplane/bgp/policy.h"

#include <algorithm>
#include <charconv>

namespace nva::bgp {

PathAttributes export_attributes(const RouteAttributes& route, const ExportPolicy& peer,
                                 const ExportContext& ctx) {
  PathAttributes a;
  a.origin = route.origin;
  const std::size_t copies =
      1 + std::min(route.prepend, kMaxPrepend) + std::min(peer.prepend, kMaxPrepend);
  a.as_path = AsPath::sequence(std::vector<std::uint32_t>(copies, ctx.local_as));
  a.next_hop = peer.next_hop.value_or(ctx.local_address);
  a.multi_exit_disc = peer.med ? peer.med : route.med;

  std::vector<Community> c = route.communities;
  c.insert(c.end(), peer.communities.begin(), peer.communities.end());
  if (route.graceful_shutdown || peer.graceful_shutdown) {
    c.push_back(well_known_community::kGracefulShutdown);
  }
  if (route.no_advertise) c.push_back(well_known_community::kNoAdvertise);
  std::sort(c.begin(), c.end());
  c.erase(std::unique(c.begin(), c.end()), c.end());
  a.communities = std::move(c);

  std::vector<LargeCommunity> l = route.large_communities;
  l.insert(l.end(), peer.large_communities.begin(), peer.large_communities.end());
  std::sort(l.begin(), l.end());
  l.erase(std::unique(l.begin(), l.end()), l.end());
  a.large_communities = std::move(l);
  return a;
}

namespace {

template <class T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::optional<Community> parse_community(std::string_view text) {
  if (text == "graceful-shutdown") return well_known_community::kGracefulShutdown;
  if (text == "no-advertise") return well_known_community::kNoAdvertise;
  if (text == "no-export") return well_known_community::kNoExport;
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::uint16_t as = 0;
  std::uint16_t value = 0;
  if (!parse_number(text.substr(0, colon), as) ||
      !parse_number(text.substr(colon + 1), value)) {
    return std::nullopt;
  }
  return Community::of(as, value);
}

std::optional<LargeCommunity> parse_large_community(std::string_view text) {
  const auto first = text.find(':');
  if (first == std::string_view::npos) return std::nullopt;
  const auto second = text.find(':', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  LargeCommunity c;
  if (!parse_number(text.substr(0, first), c.global_administrator) ||
      !parse_number(text.substr(first + 1, second - first - 1), c.local_data_1) ||
      !parse_number(text.substr(second + 1), c.local_data_2)) {
    return std::nullopt;
  }
  return c;
}

std::string to_string(Community c) {
  return std::to_string(c.value >> 16) + ":" + std::to_string(c.value & 0xFFFF);
}

std::string to_string(const LargeCommunity& c) {
  return std::to_string(c.global_administrator) + ":" + std::to_string(c.local_data_1) +
         ":" + std::to_string(c.local_data_2);
}

}  // namespace nva::bgp
