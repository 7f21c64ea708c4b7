// Inside the speaker (not for callers): one TCP connection carrying BGP
// messages on an Asio socket (framing, decoding, ordered writes), a peer's
// socket options (TTL, GTSM) and Asio address conversions.
#pragma once

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "controlplane/bgp/message.h"
#include "controlplane/bgp/speaker.h"

namespace nva::bgp::detail {

using tcp = boost::asio::ip::tcp;

inline boost::asio::ip::address_v4 to_asio(const Ipv4Address& a) {
  return boost::asio::ip::address_v4(a);
}
inline Ipv4Address from_asio(const boost::asio::ip::address_v4& a) {
  return a.to_bytes();
}

// TCP_NODELAY, the TTL of what we send and, with GTSM, the lowest TTL we
// accept (RFC 5082). Returns the first failure, if any.
std::optional<std::string> set_socket_options(tcp::socket& s, const PeerConfig& c);

// What a Connection reports; the owner clears itself (close()) before it goes.
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  virtual void on_message(DecodedMessage m) = 0;
  virtual void on_decode_error(DecodeError e) = 0;
  virtual void on_connection_failed(const std::string& reason) = 0;
};

// One TCP connection carrying BGP messages: reads the 19-octet header,
// checks it, reads the rest, decodes; writes whole messages in order.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(tcp::socket socket);

  void start(ConnectionOwner* owner);
  void set_codec(const CodecOptions& c) { codec_ = c; }
  std::optional<Ipv4Address> local_address() const;

  void send(Bytes b);
  // No more reports; what is queued is still written (bounded in time).
  void close();

 private:
  void read_header();
  void on_header(const boost::system::error_code& ec);
  void on_body(const boost::system::error_code& ec);
  // A message that must end the session: the owner sends the NOTIFICATION
  // and closes; nothing more is read.
  void report_error(const DecodeError& e);
  void fail(const std::string& reason);
  void write_next();
  void on_written(const boost::system::error_code& ec);
  void finish_close();

  tcp::socket socket_;
  boost::asio::steady_timer guard_;
  ConnectionOwner* owner_ = nullptr;
  bool closing_ = false;
  CodecOptions codec_;
  Bytes buf_;
  std::deque<Bytes> queue_;
};

}  // namespace nva::bgp::detail
