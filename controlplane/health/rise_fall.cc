// RiseFall: consecutive-result counting (see rise_fall.h).
#include "controlplane/health/rise_fall.h"

#include <algorithm>
#include <limits>

namespace nva::health {

RiseFall::RiseFall(unsigned rise, unsigned fall)
    : rise_(std::max(rise, 1u)), fall_(std::max(fall, 1u)) {}

bool RiseFall::record(bool ok) {
  if (streak_ > 0 && ok == last_) {
    if (streak_ < std::numeric_limits<unsigned>::max()) ++streak_;
  } else {
    last_ = ok;
    streak_ = 1;
  }
  if (!healthy_) {
    healthy_ = ok;
    return true;
  }
  if (*healthy_ == ok) return false;
  if (streak_ < (ok ? rise_ : fall_)) return false;
  healthy_ = ok;
  return true;
}

}  // namespace nva::health
