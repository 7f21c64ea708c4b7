// KEEPALIVE, NOTIFICATION and ROUTE-REFRESH: bytes <-> structs both ways.
#include <gtest/gtest.h>

#include "tests/bgp/test_util.h"

namespace nva::bgp::test {
namespace {

const std::string kMarker = "ffffffffffffffffffffffffffffffff";

struct Pair {
  const char* name;
  std::string bytes;
  Message message;
};

class SimpleMessage : public ::testing::TestWithParam<Pair> {};

TEST_P(SimpleMessage, BothWays) {
  const Pair& c = GetParam();
  const Bytes b = hex(c.bytes);
  auto d = decode_message(b, {});
  ASSERT_TRUE(d.ok()) << describe(d.error());
  EXPECT_EQ(d->message, c.message);
  auto e = encode(c.message, {});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(to_hex(*e), to_hex(b));
  EXPECT_EQ(type_of(c.message), static_cast<MessageType>(b[18]));
}

INSTANTIATE_TEST_SUITE_P(
    Bgp, SimpleMessage,
    ::testing::Values(Pair{"keepalive", kMarker + "0013 04", KeepaliveMessage{}},
                      Pair{"notification_hold_timer", kMarker + "0015 03 0400",
                           NotificationMessage{4, 0, {}}},
                      Pair{"notification_bad_length", kMarker + "0017 03 0102 1001",
                           NotificationMessage{1, 2, {0x10, 0x01}}},
                      Pair{"route_refresh_ipv4", kMarker + "0017 05 0001 00 01",
                           RouteRefreshMessage{Afi::kIpv4, 0, Safi::kUnicast}},
                      Pair{"route_refresh_ipv6_borr", kMarker + "0017 05 0002 01 01",
                           RouteRefreshMessage{Afi::kIpv6, 1, Safi::kUnicast}}),
    [](const auto& tp) { return std::string(tp.param.name); });

TEST(Notification, FromDecodeError) {
  const DecodeError e{
      ErrorCode::kOpenMessageError, open_error::kUnsupportedVersionNumber, {0, 4}, "x"};
  EXPECT_EQ(to_notification(e), (NotificationMessage{2, 1, {0, 4}}));
}

TEST(Notification, ShutdownCommunication) {
  // RFC 9003: length octet, UTF-8, at most 255 octets, not cut mid-character.
  const std::string long_text(254, 'a');
  const auto n = administrative_shutdown(long_text + "\xc3\xa9");  // 256 octets
  EXPECT_EQ(n.data[0], 254);
  EXPECT_EQ(shutdown_communication(n), long_text);
  EXPECT_FALSE(shutdown_communication(NotificationMessage{6, 2, {5, 'a'}}));
  EXPECT_FALSE(shutdown_communication(NotificationMessage{6, 3, {1, 'a'}}));
  EXPECT_EQ(shutdown_communication(NotificationMessage{6, 4, {1, 'a'}}), "a");
  EXPECT_EQ(shutdown_communication(NotificationMessage{6, 2, {0}}), "");
}

TEST(Notification, DataLimitedBy4096) {
  NotificationMessage n{6, 0, Bytes(4096 - 21, 0)};
  EXPECT_TRUE(encode(n).ok());
  n.data.push_back(0);
  EXPECT_FALSE(encode(n).ok());
}

}  // namespace
}  // namespace nva::bgp::test
