// The speaker: its configuration check, the listener (a connection goes to
// the peer with its address), and announce()/withdraw() handed to every peer.
// The peers, their sessions and connections are in peer.h, session.h and
// connection.h.
#include "controlplane/bgp/speaker.h"

#include <boost/asio/ip/tcp.hpp>
#include <set>
#include <utility>

#include "controlplane/bgp/connection.h"
#include "controlplane/bgp/peer.h"

namespace nva::bgp {

namespace asio = boost::asio;
using detail::from_asio;
using detail::Peer;
using detail::tcp;
using detail::to_asio;

std::string_view event_kind_name(SpeakerEvent::Kind k) {
  using K = SpeakerEvent::Kind;
  switch (k) {
    case K::kStateChange:
      return "state";
    case K::kEstablished:
      return "established";
    case K::kNotificationSent:
      return "notification-sent";
    case K::kNotificationReceived:
      return "notification-received";
    case K::kRouteRefreshReceived:
      return "route-refresh";
    case K::kEndOfRibReceived:
      return "end-of-rib-received";
    case K::kUpdateReceived:
      return "update-received";
    case K::kEndOfRibSent:
      return "end-of-rib-sent";
    case K::kRouteLimit:
      return "route-limit";
    case K::kPrefixLimit:
      return "prefix-limit";
    case K::kConnectionRejected:
      return "connection-rejected";
    case K::kCollision:
      return "collision";
    case K::kError:
      return "error";
  }
  return "?";
}

std::string_view peer_counter_help(std::string_view name) {
#define NVA_PEER_COUNTER_DOC(member, n, doc) {n, doc},
  static constexpr std::pair<std::string_view, std::string_view> kDocs[] = {
      NVA_PEER_COUNTERS(NVA_PEER_COUNTER_DOC)};
#undef NVA_PEER_COUNTER_DOC
  for (const auto& [n, doc] : kDocs) {
    if (n == name) return doc;
  }
  for (std::size_t t = 1; t < kMessageTypeKeys.size(); ++t) {
    if (name == std::string(kMessageTypeKeys[t]) + "_sent")
      return "messages sent, by type";
    if (name == std::string(kMessageTypeKeys[t]) + "_received")
      return "messages received, by type";
  }
  return {};
}

std::vector<std::string> validate(const SpeakerConfig& c) {
  std::vector<std::string> errors;
  if (c.local_as == 0) errors.push_back("local AS must not be 0");
  if (c.router_id == Ipv4Address{}) errors.push_back("router id must not be 0.0.0.0");
  if (c.advertisement_interval < Duration::zero()) {
    errors.push_back("advertisement interval must not be negative");
  }
  std::set<Ipv4Address> addresses;
  std::set<std::string> names;
  for (const auto& p : c.peers) {
    const std::string who = "peer " + (p.name.empty() ? to_string(p.address) : p.name);
    if (p.address == Ipv4Address{})
      errors.push_back(who + ": address must not be 0.0.0.0");
    if (!addresses.insert(p.address).second)
      errors.push_back(who + ": address given twice");
    if (!names.insert(p.name.empty() ? to_string(p.address) : p.name).second) {
      errors.push_back(who + ": name given twice");
    }
    if (p.peer_as == 0) errors.push_back(who + ": AS must not be 0");
    if (const auto why = check_hold_time(p.hold_time))
      errors.push_back(who + ": " + *why);
    if (p.port == 0) errors.push_back(who + ": port must not be 0");
    if (p.ttl == 0) errors.push_back(who + ": TTL must be at least 1");
    if (p.gtsm_hops && *p.gtsm_hops == 0)
      errors.push_back(who + ": GTSM hops must be >= 1");
    if (p.export_policy.prepend > kMaxPrepend) {
      errors.push_back(who + ": prepend at most " + std::to_string(kMaxPrepend));
    }
    if (p.export_policy.max_routes == 0)
      errors.push_back(who + ": route limit must be >= 1");
    if (p.max_prefixes_in == 0)
      errors.push_back(who + ": inbound prefix limit must be >= 1");
    if (p.idle_hold_time <= Duration::zero() || p.max_idle_hold_time < p.idle_hold_time) {
      errors.push_back(who + ": idle hold time must be > 0 and <= its maximum");
    }
    if (p.connect_retry_time <= Duration::zero()) {
      errors.push_back(who + ": connect retry time must be > 0");
    }
  }
  return errors;
}

struct Speaker::Impl {
  Impl(asio::io_context& io, SpeakerConfig config)
      : context{io, std::move(config), {}, {}}, acceptor(io) {}

  void do_accept();
  Peer* find(const std::string& name) {
    for (auto& p : peers) {
      if (p->name() == name) return p.get();
    }
    return nullptr;
  }

  detail::SpeakerContext context;  // the peers refer to it
  std::vector<std::unique_ptr<Peer>> peers;
  tcp::acceptor acceptor;
  bool stopping = false;
};

Speaker::Speaker(asio::io_context& io, SpeakerConfig config)
    : impl_(std::make_unique<Impl>(io, std::move(config))) {
  for (const auto& p : impl_->context.config.peers) {
    impl_->peers.push_back(std::make_unique<Peer>(impl_->context, p));
  }
}

Speaker::~Speaker() {
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  impl_->peers.clear();
}

void Speaker::on_event(EventHandler handler) {
  impl_->context.handler = std::move(handler);
}

std::optional<std::string> Speaker::start() {
  if (impl_->context.config.listen) {
    boost::system::error_code ec;
    const tcp::endpoint ep(to_asio(impl_->context.config.listen_address),
                           impl_->context.config.listen_port);
    impl_->acceptor.open(ep.protocol(), ec);
    if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) impl_->acceptor.bind(ep, ec);
    if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return "listen on " + ep.address().to_string() + ":" + std::to_string(ep.port()) +
             ": " + ec.message();
    impl_->do_accept();
  }
  for (auto& p : impl_->peers) p->start();
  return std::nullopt;
}

void Speaker::Impl::do_accept() {
  acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      boost::system::error_code e2;
      const auto remote = s.remote_endpoint(e2);
      Peer* peer = nullptr;
      if (!e2 && remote.address().is_v4()) {
        const Ipv4Address a = from_asio(remote.address().to_v4());
        for (auto& p : peers) {
          if (p->config().address == a) peer = p.get();
        }
      }
      if (peer != nullptr && !stopping) {
        peer->accept(std::move(s));
      } else {
        SpeakerEvent e;
        e.kind = SpeakerEvent::Kind::kConnectionRejected;
        e.detail = "connection from " +
                   (e2 ? std::string("?") : remote.address().to_string()) +
                   (stopping ? " while stopping" : ", not a configured peer");
        context.emit(e);
        s.close(e2);
      }
    }
    do_accept();
  });
}

void Speaker::stop(const std::string& communication) {
  impl_->stopping = true;
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  for (auto& p : impl_->peers) p->stop(communication);
}

bool Speaker::stop_peer(const std::string& name, const std::string& communication) {
  Peer* p = impl_->find(name);
  if (p == nullptr) return false;
  p->stop(communication);
  return true;
}

bool Speaker::start_peer(const std::string& name) {
  Peer* p = impl_->find(name);
  if (p == nullptr) return false;
  p->start();
  return true;
}

void Speaker::announce(const Ipv4Prefix& prefix, const RouteAttributes& attributes) {
  impl_->context.routes[prefix] = attributes;
  for (auto& p : impl_->peers) p->route_changed(prefix);
}

void Speaker::withdraw(const Ipv4Prefix& prefix) {
  if (impl_->context.routes.erase(prefix) == 0) return;
  for (auto& p : impl_->peers) p->route_changed(prefix);
}

const std::map<Ipv4Prefix, RouteAttributes>& Speaker::routes() const {
  return impl_->context.routes;
}

std::vector<PeerStatus> Speaker::peers() const {
  std::vector<PeerStatus> out;
  for (const auto& p : impl_->peers) out.push_back(p->status());
  return out;
}

std::map<Ipv4Prefix, PathAttributes> Speaker::received_routes(
    const std::string& name) const {
  Peer* p = impl_->find(name);
  return p != nullptr ? p->rib_in().ipv4() : std::map<Ipv4Prefix, PathAttributes>{};
}

std::map<Ipv4Prefix, PathAttributes> Speaker::sent_routes(const std::string& name) const {
  Peer* p = impl_->find(name);
  return p != nullptr ? p->rib_out().sent() : std::map<Ipv4Prefix, PathAttributes>{};
}

std::uint16_t Speaker::listen_port() const {
  boost::system::error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

}  // namespace nva::bgp
