// SimConfig fields a C++ host sets directly are checked by the Simulator: an out-of-range
// enumerator or time is refused with std::invalid_argument naming the field, not run as
// something else. Prints "ok" when every case behaves.
#include <cstdio>
#include <stdexcept>
#include <string>

#include "podsim/podsim.h"

namespace {

int failures = 0;

void expect_refused(const char* what, const podsim::SimConfig& cfg, const std::string& field) {
  podsim::Topology topo;
  const auto a = topo.add_endpoint("a", 1 << 16, 0, 0, {});
  const auto b = topo.add_endpoint("b", 1 << 16, 0, 0, {});
  topo.connect(a, b, 1e9, 1000);
  try {
    podsim::Simulator sim(topo, cfg);
    std::printf("%s: accepted\n", what);
    ++failures;
  } catch (const std::invalid_argument& err) {
    if (std::string(err.what()).rfind(field + ":", 0) != 0) {
      std::printf("%s: message '%s' does not start with '%s:'\n", what, err.what(), field.c_str());
      ++failures;
    }
  }
}

}  // namespace

int main() {
  podsim::SimConfig cfg;
  cfg.routing = static_cast<podsim::RoutingPolicy>(9);
  expect_refused("routing 9", cfg, "routing");
  cfg = {};
  cfg.recovery = static_cast<podsim::LossRecovery>(2);
  expect_refused("recovery 2", cfg, "recovery");
  cfg = {};
  cfg.retransmit_timeout_ps = podsim::kMaxTime + 1;
  expect_refused("retransmit timeout past 2^62 ps", cfg, "retransmit_timeout_ps, replay_ps");
  if (failures == 0) std::printf("ok\n");
  return failures == 0 ? 0 : 1;
}
