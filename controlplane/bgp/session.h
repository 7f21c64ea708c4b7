// Inside the speaker (not for callers): one FSM with its Asio timers and its
// connection, the FSM's clock, transport and observer for one Peer.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "controlplane/bgp/connection.h"
#include "controlplane/bgp/fsm.h"
#include "controlplane/bgp/speaker.h"

namespace nva::bgp::detail {

class Peer;

// One FSM with its timers and its connection (RFC 4271 keeps one FSM per
// connection while a collision is being resolved). It reports to its Peer
// until detach().
class Session : public FsmClock,
                public FsmTransport,
                public FsmObserver,
                public ConnectionOwner,
                public std::enable_shared_from_this<Session> {
 public:
  Session(Peer& peer, boost::asio::io_context& io, const FsmConfig& config,
          const PeerConfig& peer_config);
  ~Session() override { detach(); }

  Fsm& fsm() { return fsm_; }
  const Fsm& fsm() const { return fsm_; }
  // The connection was opened by the peer.
  bool incoming() const { return incoming_; }
  std::optional<Ipv4Address> local_address() const {
    return conn_ ? conn_->local_address() : std::nullopt;
  }

  // A connection the listener accepted for this peer.
  void adopt(tcp::socket s);
  // No more reports to the peer; timers stopped, connection closed.
  void detach();

  // FsmClock
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  void start(Timer t, Duration d) override;
  void stop(Timer t) override;

  // FsmTransport
  void connect() override;
  void send(Bytes message) override {
    if (conn_) conn_->send(std::move(message));
  }
  void close() override;

  // FsmObserver and ConnectionOwner: to the peer.
  void state_changed(State from, State to, EventType cause,
                     std::string_view reason) override;
  void established(const Negotiated& n) override;
  void update_received(const UpdateMessage& u, const UpdateErrors& e) override;
  void route_refresh_received(const RouteRefreshMessage& r) override;
  void notification_sent(const NotificationMessage& n) override;
  void notification_received(const NotificationMessage& n) override;
  void message_sent(MessageType t) override;
  void on_message(DecodedMessage m) override;
  void on_decode_error(DecodeError e) override;
  void on_connection_failed(const std::string& reason) override;

 private:
  void attach(tcp::socket s);

  Peer* peer_;
  boost::asio::io_context& io_;
  const PeerConfig& peer_config_;
  Fsm fsm_;
  std::array<boost::asio::steady_timer, 4> timers_;
  std::array<std::uint64_t, 4> timer_gen_{};
  tcp::socket socket_;  // while connecting
  std::uint64_t connect_gen_ = 0;
  std::shared_ptr<Connection> conn_;
  bool incoming_ = false;
};

}  // namespace nva::bgp::detail
