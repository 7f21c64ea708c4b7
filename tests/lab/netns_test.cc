// The namespace helper: unique names, traffic between two namespaces over a
// veth pair, and removal of everything it made.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/support/netns.h"

namespace nva::test {
namespace {

class NetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!can_use_netns(&why)) GTEST_SKIP() << why;
  }
};

TEST_F(NetnsTest, RunCommandReportsExitCodeOutputAndTimeout) {
  const CommandResult ok = run_command({"sh", "-c", "echo hi; exit 3"});
  EXPECT_EQ(ok.exit_code, 3);
  EXPECT_EQ(ok.output, "hi\n");
  EXPECT_EQ(run_command({"/nonexistent/binary"}).exit_code, 127);
  const CommandResult slow = run_command({"sleep", "5"}, 200);
  EXPECT_EQ(slow.exit_code, 128 + 9);
}

TEST_F(NetnsTest, NamesAreUniqueAndCarryTheRunPrefix) {
  Netns a("x");
  Netns b("x");
  EXPECT_NE(a.name(), b.name());
  EXPECT_EQ(a.name().rfind(netns_prefix(), 0), 0u);
  VethPair v(a, b);
  EXPECT_LE(v.a_name().size(), 15u);
  EXPECT_LE(v.b_name().size(), 15u);
  EXPECT_NE(v.a_name(), v.b_name());
}

TEST_F(NetnsTest, VethCarriesTrafficBetweenNamespaces) {
  Netns client("client");
  Netns server("server");
  VethPair link(client, server);
  link.address_a("198.18.100.1/30");
  link.address_b("198.18.100.2/30");
  const CommandResult ping =
      client.exec({"ping", "-c", "1", "-W", "2", "-n", "198.18.100.2"}, 5000);
  EXPECT_EQ(ping.exit_code, 0) << ping.output;
  // The root namespace has no route into the lab's addresses via our links.
  const CommandResult links = run_command({"ip", "-o", "link", "show"});
  EXPECT_EQ(links.output.find(link.a_name()), std::string::npos);
}

TEST_F(NetnsTest, EverythingIsRemovedAfterwards) {
  std::string ns_name, link_name;
  {
    auto a = std::make_unique<Netns>("gone");
    auto b = std::make_unique<Netns>("gone");
    VethPair v(*a, *b);
    ns_name = a->name();
    link_name = v.a_name();
    EXPECT_EQ(list_netns(ns_name).size(), 1u);
  }
  EXPECT_TRUE(list_netns(ns_name).empty());
  const CommandResult links = run_command({"ip", "-o", "link", "show"});
  EXPECT_EQ(links.output.find(link_name), std::string::npos);
}

TEST_F(NetnsTest, CleanupHappensWhenATestThrows) {
  std::string ns_name;
  try {
    Netns a("throw");
    ns_name = a.name();
    throw std::runtime_error("test failure in the middle");
  } catch (const std::runtime_error&) {
  }
  EXPECT_TRUE(list_netns(ns_name).empty());
}

}  // namespace
}  // namespace nva::test
