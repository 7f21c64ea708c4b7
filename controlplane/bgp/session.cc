// A Session: the FSM's timers on Asio (stale expiries ignored by
// generation), the outgoing connect with the peer's socket options, and the
// FSM's and the connection's reports passed on to the Peer.
#include "controlplane/bgp/session.h"

#include <boost/asio/post.hpp>
#include <utility>
#include <variant>

#include "controlplane/bgp/peer.h"

namespace nva::bgp::detail {

namespace asio = boost::asio;

Session::Session(Peer& peer, asio::io_context& io, const FsmConfig& config,
                 const PeerConfig& peer_config)
    : peer_(&peer),
      io_(io),
      peer_config_(peer_config),
      fsm_(config, *this, *this, *this),
      timers_{asio::steady_timer(io), asio::steady_timer(io), asio::steady_timer(io),
              asio::steady_timer(io)},
      socket_(io) {}

void Session::adopt(tcp::socket s) {
  close();
  incoming_ = true;
  attach(std::move(s));
  fsm_.handle(Event(EventType::kTcpConnectionConfirmed));
}

void Session::detach() {
  peer_ = nullptr;
  for (std::size_t t = 0; t < timers_.size(); ++t) stop(static_cast<Timer>(t));
  close();
}

void Session::start(Timer t, Duration d) {
  const auto i = static_cast<std::size_t>(t);
  const std::uint64_t gen = ++timer_gen_[i];
  timers_[i].expires_after(d);
  timers_[i].async_wait(
      [w = weak_from_this(), t, i, gen](const boost::system::error_code& ec) {
        auto s = w.lock();
        if (ec || !s || s->timer_gen_[i] != gen || s->peer_ == nullptr) return;
        s->fsm_.handle(Event(expiry_event(t)));
      });
}

void Session::stop(Timer t) {
  const auto i = static_cast<std::size_t>(t);
  ++timer_gen_[i];
  timers_[i].cancel();
}

void Session::connect() {
  const std::uint64_t gen = ++connect_gen_;
  boost::system::error_code ec;
  socket_ = tcp::socket(io_);
  socket_.open(tcp::v4(), ec);
  std::optional<std::string> failure;
  if (ec) failure = "socket: " + ec.message();
  if (!failure && peer_config_.source) {
    socket_.bind(tcp::endpoint(to_asio(*peer_config_.source), 0), ec);
    if (ec) failure = "bind: " + ec.message();
  }
  if (!failure) failure = set_socket_options(socket_, peer_config_);
  if (failure) {
    if (peer_ != nullptr) peer_->report_error(*failure);
    // Report the failure asynchronously, like a refused connection.
    asio::post(io_, [w = weak_from_this(), gen] {
      auto s = w.lock();
      if (!s || s->connect_gen_ != gen || s->peer_ == nullptr) return;
      s->fsm_.handle(Event(EventType::kTcpConnectionFails));
    });
    return;
  }
  socket_.async_connect(
      tcp::endpoint(to_asio(peer_config_.address), peer_config_.port),
      [w = weak_from_this(), gen](const boost::system::error_code& error) {
        auto s = w.lock();
        if (!s || s->connect_gen_ != gen || s->peer_ == nullptr) return;
        if (error) {
          boost::system::error_code ignored;
          s->socket_.close(ignored);
          s->fsm_.handle(Event(EventType::kTcpConnectionFails));
          return;
        }
        s->incoming_ = false;
        s->attach(std::move(s->socket_));
        s->socket_ = tcp::socket(s->io_);
        s->fsm_.handle(Event(EventType::kTcpCrAcked));
      });
}

void Session::close() {
  ++connect_gen_;
  boost::system::error_code ignored;
  if (socket_.is_open()) socket_.close(ignored);
  if (conn_) {
    conn_->close();
    conn_.reset();
  }
}

void Session::state_changed(State from, State to, EventType cause,
                            std::string_view reason) {
  if (to == State::kOpenConfirm && conn_ && fsm_.negotiated()) {
    conn_->set_codec(fsm_.negotiated()->codec);
  }
  if (peer_ != nullptr) peer_->state_changed(*this, from, to, cause, reason);
}
void Session::established(const Negotiated& n) {
  if (peer_ != nullptr) peer_->established(*this, n);
}
void Session::update_received(const UpdateMessage& u, const UpdateErrors& e) {
  if (peer_ != nullptr) peer_->update_received(*this, u, e);
}
void Session::route_refresh_received(const RouteRefreshMessage& /*r*/) {
  if (peer_ != nullptr) peer_->route_refresh_received(*this);
}
void Session::notification_sent(const NotificationMessage& n) {
  if (peer_ != nullptr) peer_->notification(*this, n, true);
}
void Session::notification_received(const NotificationMessage& n) {
  if (peer_ != nullptr) peer_->notification(*this, n, false);
}
void Session::message_sent(MessageType t) {
  if (peer_ != nullptr) peer_->counted(t, true);
}
void Session::on_message(DecodedMessage m) {
  if (peer_ == nullptr) return;
  peer_->counted(type_of(m.message), false);
  if (const auto* open = std::get_if<OpenMessage>(&m.message)) {
    if (!peer_->open_received(*this, *open)) return;  // dumped by collision resolution
  }
  fsm_.handle(message_event(std::move(m)));
}
void Session::on_decode_error(DecodeError e) {
  fsm_.handle(decode_error_event(std::move(e)));
}
void Session::on_connection_failed(const std::string& /*reason*/) {
  conn_.reset();
  fsm_.handle(Event(EventType::kTcpConnectionFails));
}

void Session::attach(tcp::socket s) {
  conn_ = std::make_shared<Connection>(std::move(s));
  conn_->start(this);
}

}  // namespace nva::bgp::detail
