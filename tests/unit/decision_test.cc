// The advertisement decision per VIP: down at once, back after the
// hold-down, damping holds a flapping VIP down until its penalty decays,
// de-prefer instead of withdraw, and the health summary of a VIP.
#include <gtest/gtest.h>

#include "controlplane/health/decision.h"

namespace nva::health {
namespace {

using namespace std::chrono_literals;

const Health kUp{true, "service web: 2 of 2 backends healthy (need 1)"};
const Health kDown{false, "service web: 0 of 2 backends healthy (need 1)"};

DecisionConfig no_damping() {
  DecisionConfig c;
  c.damping = false;
  return c;
}

TEST(Decision, FirstAnnouncementNeedsNoHoldDownButComingBackDoes) {
  VipDecision d(no_damping());
  const auto t0 = Clock::now();
  EXPECT_EQ(d.state(), Advert::kWithdraw);
  EXPECT_FALSE(d.update({false, "service web: no probe result yet", false}, t0));
  auto c = d.update(kUp, t0);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->from, Advert::kWithdraw);
  EXPECT_EQ(c->to, Advert::kAnnounce);
  EXPECT_EQ(c->reason, kUp.reason);

  c = d.update(kDown, t0 + 1s);  // down: at once
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to, Advert::kWithdraw);
  EXPECT_EQ(c->reason, kDown.reason);
  EXPECT_FALSE(d.update(kDown, t0 + 2s));

  EXPECT_FALSE(d.update(kUp, t0 + 3s));  // healthy again: hold-down starts
  EXPECT_NE(d.reason().find("holding down"), std::string::npos);
  EXPECT_FALSE(d.update(kUp, t0 + 3s + 999ms));
  c = d.update(kUp, t0 + 4s);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to, Advert::kAnnounce);
  EXPECT_NE(c->reason.find("healthy for 1000 ms"), std::string::npos);
}

TEST(Decision, AFlapDuringTheHoldDownRestartsIt) {
  VipDecision d(no_damping());
  const auto t0 = Clock::now();
  ASSERT_TRUE(d.update(kUp, t0));
  ASSERT_TRUE(d.update(kDown, t0 + 1s));
  EXPECT_FALSE(d.update(kUp, t0 + 2s));
  EXPECT_FALSE(d.update(kDown, t0 + 2500ms));  // still down: no change to send
  EXPECT_FALSE(d.update(kUp, t0 + 2600ms));
  EXPECT_FALSE(d.update(kUp, t0 + 3500ms));  // 900 ms since the last fall
  EXPECT_TRUE(d.update(kUp, t0 + 3600ms));
}

TEST(Decision, DampingSuppressesAFlappingVipUntilThePenaltyDecays) {
  DecisionConfig cfg;  // 1000 per fall, suppress 3000, reuse 750, half-life 15 s
  cfg.hold_down = 0ms;
  VipDecision d(cfg);
  auto t = Clock::now();
  ASSERT_TRUE(d.update(kUp, t));
  int changes = 0;
  // Fall and recover every 100 ms: 4 falls push the penalty over 3000.
  for (int i = 0; i < 10; ++i) {
    t += 100ms;
    changes += d.update(kDown, t).has_value();
    t += 100ms;
    changes += d.update(kUp, t).has_value();
  }
  EXPECT_TRUE(d.suppressed());
  EXPECT_EQ(d.state(), Advert::kWithdraw);
  EXPECT_EQ(changes, 4 + 3) << "4 falls, 3 recoveries, then suppressed";
  EXPECT_GT(d.penalty(t), 3000);
  EXPECT_NE(d.reason().find("suppressed by damping"), std::string::npos);
  // Healthy from now on: released once 3000+ has decayed below 750, i.e.
  // after two half-lives (30 s) and before three.
  EXPECT_FALSE(d.update(kUp, t + 29s));
  EXPECT_TRUE(d.update(kUp, t + 45s));
  EXPECT_FALSE(d.suppressed());
  EXPECT_EQ(d.falls(), 4u);
}

TEST(Decision, DepreferInsteadOfWithdraw) {
  DecisionConfig cfg = no_damping();
  cfg.deprefer = true;
  cfg.hold_down = 0ms;
  VipDecision d(cfg);
  const auto t0 = Clock::now();
  // Unknown health: nothing is announced; known down: announced as backup.
  EXPECT_FALSE(d.update({false, "service web: no probe result yet", false}, t0));
  auto c = d.update(kDown, t0);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to, Advert::kDeprefer);
  c = d.update(kUp, t0 + 1s);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->from, Advert::kDeprefer);
  EXPECT_EQ(c->to, Advert::kAnnounce);
  c = d.update(kDown, t0 + 2s);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to, Advert::kDeprefer);
  // A reload to withdraw moves the down state along.
  cfg.deprefer = false;
  d.set_config(cfg);
  c = d.update(kDown, t0 + 3s);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to, Advert::kWithdraw);
}

TEST(Decision, VipHealthNeedsTheDataPlaneAndEveryService) {
  std::vector<ServiceState> s = {{"web", 2, 2, 2, 1}, {"dns", 1, 2, 2, 1}};
  Health h = vip_health(true, "", s);
  EXPECT_TRUE(h.ok);
  EXPECT_EQ(h.reason,
            "service web: 2 of 2 backends healthy (need 1), service dns: 1 of 2 "
            "backends healthy (need 1)");
  h = vip_health(false, "worker 0 heartbeat stopped", s);
  EXPECT_FALSE(h.ok);
  EXPECT_EQ(h.reason, "data plane: worker 0 heartbeat stopped");
  s[1].healthy = 0;
  h = vip_health(true, "", s);
  EXPECT_FALSE(h.ok);
  EXPECT_TRUE(h.known);
  EXPECT_EQ(h.reason, "service dns: 0 of 2 backends healthy (need 1)");
  s[1].known = 0;
  h = vip_health(true, "", s);
  EXPECT_FALSE(h.known);
  // min_healthy_backends = 0: the service never holds its VIP down.
  s[1].min_healthy = 0;
  EXPECT_TRUE(vip_health(true, "", s).ok);
}

}  // namespace
}  // namespace nva::health
