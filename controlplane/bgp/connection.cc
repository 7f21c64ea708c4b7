// The speaker's TCP connections: framed reads (header first, then the body),
// queued writes, a bounded close that still flushes a NOTIFICATION, and the
// socket options of a peer.
#include "controlplane/bgp/connection.h"

#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>

#include <boost/asio/ip/unicast.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <utility>

namespace nva::bgp::detail {

namespace asio = boost::asio;

namespace {

constexpr Duration kCloseGrace = std::chrono::seconds(2);  // flushing a NOTIFICATION

}  // namespace

std::optional<std::string> set_socket_options(tcp::socket& s, const PeerConfig& c) {
  boost::system::error_code ec;
  s.set_option(tcp::no_delay(true), ec);
  if (ec) return "TCP_NODELAY: " + ec.message();
  const int ttl = c.gtsm_hops ? 255 : c.ttl;
  s.set_option(asio::ip::unicast::hops(ttl), ec);
  if (ec) return "IP_TTL: " + ec.message();
  if (c.gtsm_hops) {
    const int min_ttl = 256 - *c.gtsm_hops;
    if (::setsockopt(s.native_handle(), IPPROTO_IP, IP_MINTTL, &min_ttl,
                     sizeof(min_ttl)) != 0) {
      return "IP_MINTTL: failed";
    }
  }
  return std::nullopt;
}

Connection::Connection(tcp::socket socket)
    : socket_(std::move(socket)), guard_(socket_.get_executor()) {}

void Connection::start(ConnectionOwner* owner) {
  owner_ = owner;
  read_header();
}

std::optional<Ipv4Address> Connection::local_address() const {
  boost::system::error_code ec;
  const auto ep = socket_.local_endpoint(ec);
  if (ec || !ep.address().is_v4()) return std::nullopt;
  return from_asio(ep.address().to_v4());
}

void Connection::send(Bytes b) {
  if (closing_) return;
  queue_.push_back(std::move(b));
  if (queue_.size() == 1) write_next();
}

void Connection::close() {
  owner_ = nullptr;
  if (closing_) return;
  closing_ = true;
  if (queue_.empty()) {
    finish_close();
    return;
  }
  guard_.expires_after(kCloseGrace);
  guard_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->finish_close();
  });
}

void Connection::read_header() {
  buf_.resize(kHeaderLength);
  asio::async_read(socket_, asio::buffer(buf_),
                   [self = shared_from_this()](const boost::system::error_code& ec,
                                               std::size_t) { self->on_header(ec); });
}

void Connection::on_header(const boost::system::error_code& ec) {
  if (closing_) return;
  if (ec) return fail(ec == asio::error::eof ? "closed by peer" : ec.message());
  auto h = decode_header(buf_);
  if (!h) return report_error(h.error());
  buf_.resize(h->length);
  asio::async_read(socket_,
                   asio::buffer(buf_.data() + kHeaderLength, h->length - kHeaderLength),
                   [self = shared_from_this()](const boost::system::error_code& e,
                                               std::size_t) { self->on_body(e); });
}

void Connection::on_body(const boost::system::error_code& ec) {
  if (closing_) return;
  if (ec) return fail(ec == asio::error::eof ? "closed by peer" : ec.message());
  auto d = decode_message(buf_, codec_);
  if (!d) return report_error(d.error());
  // Keep this alive and read on only if the owner did not close.
  auto self = shared_from_this();
  if (owner_ != nullptr) owner_->on_message(std::move(d).value());
  if (!closing_) read_header();
}

void Connection::report_error(const DecodeError& e) {
  auto self = shared_from_this();
  if (owner_ != nullptr) owner_->on_decode_error(e);
}

void Connection::fail(const std::string& reason) {
  ConnectionOwner* owner = owner_;
  owner_ = nullptr;
  closing_ = true;
  queue_.clear();
  finish_close();
  if (owner != nullptr) owner->on_connection_failed(reason);
}

void Connection::write_next() {
  asio::async_write(socket_, asio::buffer(queue_.front()),
                    [self = shared_from_this()](const boost::system::error_code& ec,
                                                std::size_t) { self->on_written(ec); });
}

void Connection::on_written(const boost::system::error_code& ec) {
  if (!queue_.empty()) queue_.pop_front();
  if (ec) {
    queue_.clear();
    if (closing_) {
      finish_close();
    } else {
      fail(ec.message());
    }
    return;
  }
  if (!queue_.empty()) {
    write_next();
  } else if (closing_) {
    finish_close();
  }
}

void Connection::finish_close() {
  boost::system::error_code ignored;
  guard_.cancel();
  if (!socket_.is_open()) return;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace nva::bgp::detail
