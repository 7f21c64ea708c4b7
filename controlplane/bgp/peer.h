// Inside the speaker (not for callers): one configured peer (its sessions,
// collision resolution, RIBs, counters, advertisement timer, inbound prefix
// limit) and what the peers share with the speaker that owns them.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "controlplane/bgp/rib.h"
#include "controlplane/bgp/session.h"
#include "controlplane/bgp/speaker.h"

namespace nva::bgp::detail {

// The speaker's state every peer reads: its configuration, the locally
// originated routes and where events go.
struct SpeakerContext {
  boost::asio::io_context& io;
  SpeakerConfig config;
  EventHandler handler;
  std::map<Ipv4Prefix, RouteAttributes> routes;

  void emit(const SpeakerEvent& e) const {
    if (handler) handler(e);
  }
};

// One configured peer: its main session (and a second one during a
// collision), its RIBs, counters and advertisement timer.
class Peer {
 public:
  Peer(const SpeakerContext& speaker, PeerConfig config);
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  const PeerConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  void start();
  void stop(const std::string& communication);
  void accept(tcp::socket s);
  void route_changed(const Ipv4Prefix& p);
  PeerStatus status() const;
  const AdjRibIn& rib_in() const { return in_; }
  const AdjRibOut& rib_out() const { return out_; }

  // From the sessions.
  bool open_received(Session& s, const OpenMessage& open);
  void state_changed(Session& s, State from, State to, EventType cause,
                     std::string_view reason);
  void established(Session& s, const Negotiated& n);
  void update_received(Session& s, const UpdateMessage& u, const UpdateErrors& e);
  void route_refresh_received(Session& s);
  void notification(Session& s, const NotificationMessage& n, bool sent);
  void counted(MessageType t, bool sent) {
    auto& c = sent ? counters_.messages_sent : counters_.messages_received;
    const auto i = static_cast<std::size_t>(t);
    if (i < c.size()) ++c[i];
  }
  void report_error(const std::string& detail) {
    SpeakerEvent e;
    e.kind = SpeakerEvent::Kind::kError;
    e.detail = detail;
    emit(std::move(e));
  }

 private:
  std::shared_ptr<Session> make_session();
  void retire(std::shared_ptr<Session> s);
  void emit(SpeakerEvent e);
  bool is_established() const {
    return main_ && main_->fsm().state() == State::kEstablished;
  }
  void prefix_limit_reached(Afi afi);
  std::optional<PathAttributes> exported(const Ipv4Prefix& p) const;
  void send_update(const UpdateMessage& u);
  void schedule_flush();
  void flush();

  const SpeakerContext& speaker_;
  PeerConfig config_;
  FsmConfig fsm_config_;
  std::shared_ptr<Session> main_;
  std::shared_ptr<Session> incoming_;
  AdjRibOut out_;
  AdjRibIn in_;
  boost::asio::steady_timer flush_timer_;
  bool flush_armed_ = false;
  TimePoint last_flush_{};
  std::size_t last_held_back_ = 0;
  PeerCounters counters_;
  std::optional<NotificationMessage> last_sent_;
  std::optional<NotificationMessage> last_received_;
};

}  // namespace nva::bgp::detail
