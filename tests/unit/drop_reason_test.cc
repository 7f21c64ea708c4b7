// Drop reasons: stable values, unique names, a description for each.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "dataplane/packet/drop_reason.h"

namespace nva::packet {
namespace {

TEST(DropReason, ValuesAreStable) {
  // Values are part of the counter interface: these must never change.
  EXPECT_EQ(static_cast<int>(DropReason::kNone), 0);
  EXPECT_EQ(static_cast<int>(DropReason::kNotIp), 4);
  EXPECT_EQ(static_cast<int>(DropReason::kIpv4BadIhl), 7);
  EXPECT_EQ(static_cast<int>(DropReason::kIpv6ExtTooMany), 15);
  EXPECT_EQ(static_cast<int>(DropReason::kHeadersSplit), 24);
}

TEST(DropReason, EveryValueHasAUniqueNameAndText) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    const auto r = static_cast<DropReason>(i);
    const std::string name(drop_reason_name(r));
    EXPECT_NE(name, "unknown") << i;
    EXPECT_FALSE(drop_reason_text(r).empty()) << i;
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    for (char c : name)
      EXPECT_TRUE(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) << name;
  }
  EXPECT_EQ(drop_reason_name(static_cast<DropReason>(kDropReasonCount)), "unknown");
}

}  // namespace
}  // namespace nva::packet
