// IPv4/IPv6 prefixes: strict construction, text forms, and the NLRI field
// checks of RFC 7606 section 5.3 (length > 32/128, overrun; trailing bits
// are irrelevant per RFC 4271 4.3 and are cleared).
#include <gtest/gtest.h>

#include "tests/bgp/test_util.h"

namespace nva::bgp::test {
namespace {

TEST(Prefix, ParseIsStrict) {
  EXPECT_EQ(Ipv4Prefix::parse("198.18.200.0/24")->to_string(), "198.18.200.0/24");
  EXPECT_EQ(Ipv4Prefix::parse("0.0.0.0/0")->length, 0);
  EXPECT_EQ(Ipv4Prefix::parse("198.18.200.1/32")->length, 32);
  EXPECT_FALSE(Ipv4Prefix::parse("198.18.200.1/24"));  // host bits set
  EXPECT_FALSE(Ipv4Prefix::parse("198.18.200.0/33"));
  EXPECT_FALSE(Ipv4Prefix::parse("198.18.200.0/"));
  EXPECT_FALSE(Ipv4Prefix::parse("198.18.200.0/2x"));
  EXPECT_FALSE(Ipv4Prefix::parse("198.18.200.0"));
  EXPECT_FALSE(Ipv4Prefix::parse("2001:db8::/32"));
  EXPECT_EQ(Ipv6Prefix::parse("2001:db8::/32")->to_string(), "2001:db8::/32");
  EXPECT_FALSE(Ipv6Prefix::parse("2001:db8::1/64"));
  EXPECT_FALSE(Ipv6Prefix::parse("2001:db8::/129"));
  EXPECT_TRUE(Ipv6Prefix::parse("2001:db8::1/128"));
  EXPECT_FALSE(Ipv4Prefix::make(a4("198.18.200.128"), 24));
  EXPECT_TRUE(Ipv4Prefix::make(a4("198.18.200.128"), 25));
}

struct NlriCase {
  const char* name;
  std::string field;
  NlriError error;
  std::vector<std::string> prefixes;
};

class Ipv4Nlri : public ::testing::TestWithParam<NlriCase> {};

TEST_P(Ipv4Nlri, Decodes) {
  const NlriCase& c = GetParam();
  std::vector<Ipv4Prefix> got;
  EXPECT_EQ(decode_prefixes(hex(c.field), got), c.error);
  if (c.error != NlriError::kNone) return;
  std::vector<std::string> text;
  for (const auto& p : got) text.push_back(p.to_string());
  EXPECT_EQ(text, c.prefixes);
}

INSTANTIATE_TEST_SUITE_P(
    Bgp, Ipv4Nlri,
    ::testing::Values(
        NlriCase{"empty", "", NlriError::kNone, {}},
        NlriCase{"default", "00", NlriError::kNone, {"0.0.0.0/0"}},
        NlriCase{"two",
                 "18c612c8 20c6120001",
                 NlriError::kNone,
                 {"198.18.200.0/24", "198.18.0.1/32"}},
        NlriCase{"trailing_bits_cleared",
                 "17c612c9 01ff",
                 NlriError::kNone,
                 {"198.18.200.0/23", "128.0.0.0/1"}},
        NlriCase{"length_33", "21c6120001ff", NlriError::kPrefixLengthTooLong, {}},
        NlriCase{"overrun", "18c612", NlriError::kOverrun, {}},
        NlriCase{"overrun_last", "18c612c8 20c612", NlriError::kOverrun, {}}),
    [](const auto& tp) { return std::string(tp.param.name); });

TEST(Prefix, Ipv6NlriChecks) {
  std::vector<Ipv6Prefix> got;
  EXPECT_EQ(decode_prefixes(hex("30 20010db80200"), got), NlriError::kNone);
  EXPECT_EQ(got, std::vector<Ipv6Prefix>{p6("2001:db8:200::/48")});
  EXPECT_EQ(decode_prefixes(hex("81" + std::string(34, '0')), got),
            NlriError::kPrefixLengthTooLong);
  EXPECT_EQ(decode_prefixes(hex("80 20010db8"), got), NlriError::kOverrun);
}

TEST(Prefix, EncodesTheMinimumOctets) {
  Bytes out;
  Writer w(out);
  encode_prefix(w, p4("198.18.200.0/24"));
  encode_prefix(w, p4("0.0.0.0/0"));
  encode_prefix(w, p6("2001:db8:200::/48"));
  EXPECT_EQ(to_hex(out),
            "18c612c8"
            "00"
            "3020010db80200");
  EXPECT_EQ(p4("198.18.0.1/32").encoded_size(), 5u);
  EXPECT_EQ(p6("::/0").encoded_size(), 1u);
}

}  // namespace
}  // namespace nva::bgp::test
