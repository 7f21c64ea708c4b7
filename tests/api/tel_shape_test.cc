// tel_shape() and to_tel_data(): json within DPDK 22.11 telemetry's limits.
#include <gtest/gtest.h>
#include <rte_telemetry.h>

#include <string>

#include "controlplane/api/telemetry.h"

namespace nva::api {
namespace {

using json = nlohmann::json;

json shape(const json& j, bool* truncated = nullptr) {
  return tel_shape(j, kTelMaxOutputBytes, truncated);
}

TEST(TelShape, ScalarsInADict) {
  bool truncated = true;
  const json out = shape({{"u", 7},
                          {"neg", -3},
                          {"big_neg", -5000000000LL},
                          {"d", 0.25},
                          {"yes", true},
                          {"no", false},
                          {"s", "text"},
                          {"nothing", nullptr},
                          {"max", UINT64_MAX}},
                         &truncated);
  EXPECT_FALSE(truncated);
  EXPECT_EQ(out, (json{{"u", 7},
                       {"neg", -3},
                       {"big_neg", "-5000000000"},
                       {"d", "0.25"},
                       {"yes", 1},
                       {"no", 0},
                       {"s", "text"},
                       {"nothing", "null"},
                       {"max", UINT64_MAX}}));
}

TEST(TelShape, OneLevelOfNestingThenJsonStrings) {
  const json in = {{"peer", {{"state", "Established"}, {"caps", {{"rr", true}}}}},
                   {"list", {1, 2, 3}},
                   {"deep", {{"a", {1, {2, 3}}}}}};
  const json out = shape(in);
  EXPECT_EQ(out["peer"]["state"], "Established");
  EXPECT_EQ(out["peer"]["caps"], R"({"rr":true})");  // depth 2: a JSON string
  EXPECT_EQ(out["list"], json({1, 2, 3}));
  EXPECT_EQ(out["deep"]["a"], "[1,[2,3]]");
}

TEST(TelShape, ArraysAreTypedOrStrings) {
  EXPECT_EQ(shape(json{{"a", {1, 2}}})["a"], json({1, 2}));
  EXPECT_EQ(shape(json{{"a", {-1, 2}}})["a"], json({-1, 2}));
  EXPECT_EQ(shape(json{{"a", {1, "x", 0.5, true}}})["a"], json({"1", "x", "0.5", "1"}));
  EXPECT_EQ(shape(json{{"a", {-1, UINT64_MAX}}})["a"],
            json({"-1", std::to_string(UINT64_MAX)}));
  EXPECT_EQ(shape(json{{"a", json::array()}})["a"], json::array());
  EXPECT_EQ(shape(json{{"a", json::array({json{{"x", 1}}})}})["a"],
            json({R"({"x":1})"}));  // depth 2
}

TEST(TelShape, TopLevelArrayOfObjectsIsKeyedByIndex) {
  const json in = json::array({json{{"id", 0}, {"rx", 10}}, json{{"id", 1}, {"rx", 20}}});
  EXPECT_EQ(shape(in),
            (json{{"0", {{"id", 0}, {"rx", 10}}}, {"1", {{"id", 1}, {"rx", 20}}}}));
  EXPECT_EQ(shape(json{1, 2, 3}), json({1, 2, 3}));  // scalars stay an array
}

TEST(TelShape, TopLevelScalarsBecomeStrings) {
  EXPECT_EQ(shape(42), "42");
  EXPECT_EQ(shape("hello"), "hello");
  bool truncated = false;
  const json out = shape(std::string(9000, 'x'), &truncated);
  EXPECT_TRUE(truncated);
  EXPECT_EQ(out.get<std::string>().size(), RTE_TEL_MAX_SINGLE_STRING_LEN - 1);
}

TEST(TelShape, LongStringsEndInAMarker) {
  bool truncated = false;
  const json out = shape({{"s", std::string(300, 'a')}}, &truncated);
  EXPECT_TRUE(truncated);
  const auto s = out["s"].get<std::string>();
  EXPECT_EQ(s.size(), RTE_TEL_MAX_STRING_LEN - 1);
  EXPECT_EQ(s.substr(s.size() - std::string(kTelStringMarker).size()), kTelStringMarker);
  // Exactly the limit is kept whole.
  truncated = false;
  EXPECT_EQ(shape({{"s", std::string(127, 'a')}}, &truncated)["s"],
            std::string(127, 'a'));
  EXPECT_FALSE(truncated);
}

TEST(TelShape, CutsAtAUtf8Boundary) {
  std::string s;
  for (int i = 0; i < 100; ++i) s += "\xc3\xa9";  // é, two bytes each
  const auto out = shape({{"s", s}})["s"].get<std::string>();
  EXPECT_LE(out.size(), 127u);
  EXPECT_NO_THROW(EXPECT_FALSE(json(out).dump().empty()));  // dump() throws on bad UTF-8
}

TEST(TelShape, StripsControlCharactersAndBadUtf8) {
  const json out = shape({{"s", std::string("a\x01"
                                            "b\n\xff")}});
  EXPECT_EQ(out["s"], "ab\n\xef\xbf\xbd");
}

TEST(TelShape, KeysOutsideDpdksAlphabetBecomeUnderscores) {
  const json out = shape({{"10.0.0.1:80", 1}, {"web-1", 2}, {"a/b_C9", 3}, {"", 4}});
  EXPECT_EQ(out, (json{{"10_0_0_1_80", 1}, {"web_1", 2}, {"a/b_C9", 3}, {"_", 4}}));
  const json clash = shape({{"a.b", 1}, {"a-b", 2}});
  EXPECT_EQ(clash.size(), 2u);
}

TEST(TelShape, TooManyDictEntriesIsMarked) {
  json in = json::object();
  for (int i = 0; i < 300; ++i) in["k" + std::to_string(i)] = i;
  bool truncated = false;
  const json out = shape(in, &truncated);
  EXPECT_TRUE(truncated);
  EXPECT_EQ(out.size(), static_cast<std::size_t>(RTE_TEL_MAX_DICT_ENTRIES));
  EXPECT_EQ(out[kTelTruncatedKey], 1);
  // 256 entries exactly still fit.
  json full = json::object();
  for (int i = 0; i < 256; ++i) full["k" + std::to_string(i)] = i;
  truncated = false;
  EXPECT_EQ(shape(full, &truncated), full);
  EXPECT_FALSE(truncated);
}

TEST(TelShape, TooManyArrayEntriesEndsInAMarker) {
  json in = json::array();
  for (int i = 0; i < 600; ++i) in.push_back(i);
  bool truncated = false;
  const json out = shape(in, &truncated);
  EXPECT_TRUE(truncated);
  ASSERT_EQ(out.size(), static_cast<std::size_t>(RTE_TEL_MAX_ARRAY_ENTRIES));
  EXPECT_EQ(out[0], "0");  // shortened arrays are strings
  EXPECT_EQ(out.back(), "...[truncated: 511 of 600]");
}

TEST(TelShape, StaysUnderTheOutputBuffer) {
  json in = json::object();
  for (int i = 0; i < 200; ++i) in["key" + std::to_string(i)] = std::string(120, 'v');
  bool truncated = false;
  const json out = shape(in, &truncated);
  EXPECT_TRUE(truncated);
  EXPECT_EQ(out[kTelTruncatedKey], 1);
  EXPECT_LT(out.dump().size() + 60, kTelMaxOutputBytes);
  EXPECT_GT(out.size(), 100u);

  json nested = json::object();
  for (int i = 0; i < 20; ++i) {
    json inner = json::object();
    for (int k = 0; k < 20; ++k) inner["f" + std::to_string(k)] = std::string(60, 'n');
    nested["w" + std::to_string(i)] = inner;
  }
  truncated = false;
  const json nout = shape(nested, &truncated);
  EXPECT_TRUE(truncated);
  EXPECT_LT(nout.dump().size() + 60, kTelMaxOutputBytes);
}

TEST(TelShape, SmallBudgetShortensNestedContainers) {
  json in = {{"a", json::object()}, {"b", 1}};
  for (int i = 0; i < 50; ++i) in["a"]["k" + std::to_string(i)] = i;
  bool truncated = false;
  const json out = tel_shape(in, 300, &truncated);
  EXPECT_TRUE(truncated);
  EXPECT_LE(out.dump().size(), 300u);
}

TEST(ToTelData, ReturnCodes) {
  rte_tel_data* d = rte_tel_data_alloc();
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(to_tel_data(json{{"a", 1}, {"b", "x"}}, d), 0);
  EXPECT_EQ(to_tel_data(json{{"a", std::string(200, 'x')}}, d), kTelTruncated);
  EXPECT_EQ(to_tel_data(json{1, 2, 3}, d), 0);
  EXPECT_EQ(to_tel_data(json("top"), d), 0);
  EXPECT_EQ(to_tel_data(json{{"a", 1}}, nullptr), -EINVAL);
  rte_tel_data_free(d);  // nothing nested was attached: no leak
}

}  // namespace
}  // namespace nva::api
