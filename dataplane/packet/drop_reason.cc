// Names and descriptions of the parse drop reasons.
#include "dataplane/packet/drop_reason.h"

namespace nva::packet {

namespace {
#define NVA_X(name, value, metric, text) +1
static_assert(0 NVA_PARSE_DROP_REASONS(NVA_X) == kDropReasonCount,
              "kDropReasonCount is out of date");
#undef NVA_X
}  // namespace

std::string_view drop_reason_name(DropReason r) noexcept {
  switch (r) {
#define NVA_X(name, value, metric, text) \
  case DropReason::name:                 \
    return metric;
    NVA_PARSE_DROP_REASONS(NVA_X)
#undef NVA_X
  }
  return "unknown";
}

std::string_view drop_reason_text(DropReason r) noexcept {
  switch (r) {
#define NVA_X(name, value, metric, text) \
  case DropReason::name:                 \
    return text;
    NVA_PARSE_DROP_REASONS(NVA_X)
#undef NVA_X
  }
  return "unknown drop reason";
}

}  // namespace nva::packet
