// OPEN (RFC 4271 4.2) with capabilities (RFC 5492, 4760, 2918, 6793) and the
// RFC 9072 extended optional parameters: bytes <-> structs, and the OPEN
// Message Error cases.
#include <gtest/gtest.h>

#include "tests/bgp/test_util.h"

namespace nva::bgp::test {
namespace {

// The fixed part after the header: version 4, AS 65001, hold 180, ID 198.18.0.2.
const std::string kFixed = "04 fde9 00b4 c6120002";

OpenMessage base_open() {
  OpenMessage m;
  m.my_autonomous_system = 65001;
  m.hold_time = 180;
  m.bgp_identifier = a4("198.18.0.2");
  return m;
}

struct OpenPair {
  const char* name;
  std::string body;  // hex after the header
  OpenMessage open;
};

OpenMessage with_params(std::vector<OptionalParameter> params, bool extended = false) {
  OpenMessage m = base_open();
  m.optional_parameters = std::move(params);
  m.extended_optional_parameters = extended;
  return m;
}

class OpenBothWays : public ::testing::TestWithParam<OpenPair> {};

TEST_P(OpenBothWays, DecodeAndEncode) {
  const OpenPair& c = GetParam();
  const Bytes b = message(1, hex(c.body));
  auto d = decode_message(b, {});
  ASSERT_TRUE(d.ok()) << describe(d.error());
  EXPECT_EQ(std::get<OpenMessage>(d->message), c.open);
  auto e = encode(c.open);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(to_hex(*e), to_hex(b));
}

INSTANTIATE_TEST_SUITE_P(
    Bgp, OpenBothWays,
    ::testing::Values(
        OpenPair{"no_parameters", kFixed + "00", base_open()},
        OpenPair{
            "one_parameter", kFixed + "10 02 0e 01040001 0001 0200 4104 0000fde9",
            with_params({{{MultiprotocolCapability{Afi::kIpv4, Safi::kUnicast},
                           RouteRefreshCapability{}, FourOctetAsCapability{65001}}}})},
        OpenPair{"parameter_per_capability", kFixed + "0c 02 06 01040002 0001 02 02 0200",
                 with_params({{{MultiprotocolCapability{Afi::kIpv6, Safi::kUnicast}}},
                              {{RouteRefreshCapability{}}}})},
        OpenPair{"unknown_capability", kFixed + "06 02 04 4002 0078",
                 with_params({{{UnknownCapability{64, {0x00, 0x78}}}}})},
        OpenPair{"rfc9072_extended", kFixed + "ff ff 0005 02 0002 0200",
                 with_params({{{RouteRefreshCapability{}}}}, true)},
        OpenPair{"rfc9072_extended_empty", kFixed + "ff ff 0000", with_params({}, true)}),
    [](const auto& tp) { return std::string(tp.param.name); });

TEST(Open, EncoderSwitchesToExtendedParametersWhenNeeded) {
  OpenMessage m = with_params({{{UnknownCapability{200, Bytes(255, 7)}}}});
  auto e = encode(m);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)[28], 255);  // Non-Ext OP Len
  EXPECT_EQ((*e)[29], 255);  // Non-Ext OP Type
  auto d = decode_message(*e, {});
  ASSERT_TRUE(d.ok()) << describe(d.error());
  m.extended_optional_parameters = true;
  EXPECT_EQ(std::get<OpenMessage>(d->message), m);
}

TEST(Open, MakeOpenWithFourOctetLocalAs) {
  const OpenMessage m = make_open(4200000001u, 180, a4("198.18.0.2"),
                                  {MultiprotocolCapability{}, RouteRefreshCapability{},
                                   FourOctetAsCapability{4200000001u}});
  EXPECT_EQ(m.my_autonomous_system, kAsTrans);
  EXPECT_EQ(m.autonomous_system(), 4200000001u);
  EXPECT_FALSE(check_peer_as(m, 4200000001u));
  const OpenMessage small = make_open(65001, 90, a4("198.18.0.2"), {});
  EXPECT_EQ(small.my_autonomous_system, 65001);
  EXPECT_TRUE(small.optional_parameters.empty());
  const auto bad = check_peer_as(small, 65002);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->code, ErrorCode::kOpenMessageError);
  EXPECT_EQ(bad->subcode, open_error::kBadPeerAs);
  EXPECT_EQ(bad->data, hex("fde9"));
}

struct OpenErrorCase {
  const char* name;
  std::string body;
  std::uint8_t subcode;  // of OPEN Message Error
  std::string data;
};

class OpenError : public ::testing::TestWithParam<OpenErrorCase> {};

TEST_P(OpenError, YieldsTheNotification) {
  const OpenErrorCase& c = GetParam();
  auto d = decode_message(message(1, hex(c.body)), {});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, ErrorCode::kOpenMessageError);
  EXPECT_EQ(d.error().subcode, c.subcode) << describe(d.error());
  EXPECT_EQ(to_hex(d.error().data), to_hex(hex(c.data)));
}

INSTANTIATE_TEST_SUITE_P(
    Bgp, OpenError,
    ::testing::Values(
        OpenErrorCase{"version_3", "03 fde9 00b4 c6120002 00",
                      open_error::kUnsupportedVersionNumber, "0004"},
        OpenErrorCase{"hold_time_1", "04 fde9 0001 c6120002 00",
                      open_error::kUnacceptableHoldTime, ""},
        OpenErrorCase{"hold_time_2", "04 fde9 0002 c6120002 00",
                      open_error::kUnacceptableHoldTime, ""},
        OpenErrorCase{"identifier_0", "04 fde9 00b4 00000000 00",
                      open_error::kBadBgpIdentifier, ""},
        OpenErrorCase{"authentication_parameter", kFixed + "04 01 02 0000",
                      open_error::kUnsupportedOptionalParameter, ""},
        OpenErrorCase{"parameter_length_too_long", kFixed + "05 02 02 0200",
                      open_error::kUnspecific, ""},
        OpenErrorCase{"parameter_length_too_short", kFixed + "03 02 02 0200",
                      open_error::kUnspecific, ""},
        OpenErrorCase{"parameter_overruns", kFixed + "04 02 05 0200",
                      open_error::kUnspecific, ""},
        OpenErrorCase{"capability_overruns", kFixed + "04 02 02 4104",
                      open_error::kUnspecific, ""},
        OpenErrorCase{"multiprotocol_length_3", kFixed + "07 02 05 0103 000100",
                      open_error::kUnspecific, ""},
        OpenErrorCase{"route_refresh_length_1", kFixed + "05 02 03 020100",
                      open_error::kUnspecific, ""},
        OpenErrorCase{"four_octet_as_length_2", kFixed + "06 02 04 4102 fde9",
                      open_error::kUnspecific, ""},
        OpenErrorCase{"extended_length_mismatch", kFixed + "ff ff 0006 02 0002 0200",
                      open_error::kUnspecific, ""}),
    [](const auto& tp) { return std::string(tp.param.name); });

TEST(Open, HoldTimeZeroAndThreeAreAccepted) {
  EXPECT_TRUE(decode_message(message(1, hex("04 fde9 0000 c6120002 00")), {}).ok());
  EXPECT_TRUE(decode_message(message(1, hex("04 fde9 0003 c6120002 00")), {}).ok());
}

}  // namespace
}  // namespace nva::bgp::test
