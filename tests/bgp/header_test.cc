// Message header checks (RFC 4271 section 6.1): marker, length bounds, type,
// per-type length, each with its NOTIFICATION code, subcode and data.
#include <gtest/gtest.h>

#include "tests/bgp/test_util.h"

namespace nva::bgp::test {
namespace {

const std::string kMarker = "ffffffffffffffffffffffffffffffff";

struct HeaderCase {
  const char* name;
  std::string bytes;  // hex, the whole message
  ErrorCode code;
  std::uint8_t subcode;
  std::string data;  // hex
};

class HeaderError : public ::testing::TestWithParam<HeaderCase> {};

TEST_P(HeaderError, YieldsTheNotification) {
  const HeaderCase& c = GetParam();
  const Bytes b = hex(c.bytes);
  auto d = decode_message(b, {});
  ASSERT_FALSE(d.ok()) << c.name;
  EXPECT_EQ(d.error().code, c.code) << c.name;
  EXPECT_EQ(d.error().subcode, c.subcode) << c.name << ": " << describe(d.error());
  EXPECT_EQ(to_hex(d.error().data), to_hex(hex(c.data))) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Bgp, HeaderError,
    ::testing::Values(
        HeaderCase{"marker", "ffffffffffffffffffffffffffff00ff 0013 04",
                   ErrorCode::kMessageHeaderError,
                   header_error::kConnectionNotSynchronized, ""},
        HeaderCase{"short", kMarker + "0012 04", ErrorCode::kMessageHeaderError,
                   header_error::kBadMessageLength, "0012"},
        HeaderCase{"long", kMarker + "1001 04", ErrorCode::kMessageHeaderError,
                   header_error::kBadMessageLength, "1001"},
        HeaderCase{"type0", kMarker + "0013 00", ErrorCode::kMessageHeaderError,
                   header_error::kBadMessageType, "00"},
        HeaderCase{"type6", kMarker + "0013 06", ErrorCode::kMessageHeaderError,
                   header_error::kBadMessageType, "06"},
        HeaderCase{"keepalive_20", kMarker + "0014 04 00", ErrorCode::kMessageHeaderError,
                   header_error::kBadMessageLength, "0014"},
        HeaderCase{"open_28", kMarker + "001c 01 04fde8 00b4 c6120001",
                   ErrorCode::kMessageHeaderError, header_error::kBadMessageLength,
                   "001c"},
        HeaderCase{"update_22", kMarker + "0016 02 0000 00",
                   ErrorCode::kMessageHeaderError, header_error::kBadMessageLength,
                   "0016"},
        HeaderCase{"notification_20", kMarker + "0014 03 06",
                   ErrorCode::kMessageHeaderError, header_error::kBadMessageLength,
                   "0014"},
        HeaderCase{"route_refresh_22", kMarker + "0016 05 000100",
                   ErrorCode::kMessageHeaderError, header_error::kBadMessageLength,
                   "0016"},
        HeaderCase{"length_vs_buffer", kMarker + "0014 03 0602",
                   ErrorCode::kMessageHeaderError, header_error::kBadMessageLength,
                   "0014"},
        HeaderCase{"truncated_header", "ffffffff", ErrorCode::kMessageHeaderError,
                   header_error::kBadMessageLength, ""},
        HeaderCase{"route_refresh_24", kMarker + "0018 05 00010001 00",
                   ErrorCode::kRouteRefreshMessageError,
                   route_refresh_error::kInvalidMessageLength,
                   kMarker + "0018 05 00010001 00"}),
    [](const auto& tp) { return std::string(tp.param.name); });

TEST(Header, DecodedAloneFromTheFirst19Octets) {
  const Bytes b = hex(kMarker + "0035 01 ffff");  // the rest has not arrived yet
  auto h = decode_header(b);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->length, 0x35);
  EXPECT_EQ(h->type, MessageType::kOpen);
  EXPECT_FALSE(decode_message(b, {}).ok());
}

TEST(Header, Boundaries) {
  EXPECT_TRUE(decode_header(hex(kMarker + "1000 02")).ok());  // 4096
  EXPECT_TRUE(decode_header(hex(kMarker + "0013 04")).ok());  // 19
  EXPECT_EQ(message_type_name(MessageType::kRouteRefresh), "ROUTE-REFRESH");
  EXPECT_EQ(describe(DecodeError{ErrorCode::kUpdateMessageError, 11, {}, "x"}),
            "UPDATE Message Error / Malformed AS_PATH: x");
}

}  // namespace
}  // namespace nva::bgp::test
