// Values a C++ host passes to the core directly (Python checks its own first) are refused with
// std::invalid_argument naming the field, the allowed range and the value, not run as something
// else and never a crash. Prints "ok" when every case behaves.
#include <cstdio>
#include <functional>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

#include "podsim/podsim.h"

namespace {

int failures = 0;

// `call` must throw invalid_argument whose message is exactly `message`.
void expect_refused(const char* what, const std::function<void()>& call, const std::string& message) {
  try {
    call();
    std::printf("%s: accepted\n", what);
    ++failures;
  } catch (const std::invalid_argument& err) {
    if (err.what() != message) {
      std::printf("%s: message '%s', expected '%s'\n", what, err.what(), message.c_str());
      ++failures;
    }
  }
}

podsim::Topology two_endpoints() {
  podsim::Topology topo;
  const auto a = topo.add_endpoint("a", 1 << 16, 0, 0, {});
  const auto b = topo.add_endpoint("b", 1 << 16, 0, 0, {});
  topo.connect(a, b, 1e9, 1000);
  return topo;
}

void expect_config_refused(const char* what, const podsim::SimConfig& cfg, const std::string& message) {
  expect_refused(what, [&] { podsim::Simulator sim(two_endpoints(), cfg); }, message);
}

}  // namespace

int main() {
  podsim::SimConfig cfg;
  cfg.routing = static_cast<podsim::RoutingPolicy>(9);
  expect_config_refused("routing 9", cfg, "routing: must be kEcmp, kSpray or kAdaptive (0, 1 or 2), got 9");
  cfg = {};
  cfg.recovery = static_cast<podsim::LossRecovery>(2);
  expect_config_refused("recovery 2", cfg, "recovery: must be kRetransmit or kReplay (0 or 1), got 2");
  cfg = {};
  cfg.retransmit_timeout_ps = podsim::kMaxTime + 1;
  expect_config_refused("retransmit timeout past 2^62 ps", cfg,
                        "retransmit_timeout_ps, replay_ps: must be <= 2^62 ps, got 4611686018427387905, 0");
  cfg = {};
  cfg.mtu_bytes = (1U << 30) + 1;
  expect_config_refused("mtu past 2^30", cfg, "mtu_bytes: must be <= 2^30 bytes, got 1073741825");
  cfg = {};
  cfg.ack_bytes = 5000;
  expect_config_refused("ack larger than the mtu", cfg, "ack_bytes: must be in [1, mtu_bytes = 4096], got 5000");

  // Ids: the valid range is inclusive and names the last id.
  podsim::Simulator sim(two_endpoints(), podsim::SimConfig{});
  expect_refused("channel_up of a channel that does not exist", [&] { (void)sim.channel_up(1'000'000); },
                 "channel: 1000000 does not exist (valid: 0..1)");
  expect_refused("inject to a node that does not exist",
                 [&] { sim.inject(0, 2, 64, podsim::MessageKind::kWrite, 0, nullptr, nullptr); },
                 "dst (message 0): node id 2 does not exist (valid: 0..1)");
  expect_refused("a node of an empty topology", [] { podsim::Topology().check_node(0, "src"); },
                 "src: node id 0 does not exist (the topology has no nodes)");

  // HBM timings: a huge value (a negative number converted by the host) must not wrap time.
  podsim::memory::HbmConfig hbm;
  hbm.t = {14375, 10000, 14375, 14375, 14375, 33000, 47375, 16000, 7500, 2000, 4000, 2000, 4000, 16000, 2500, 7500,
           3000, 350000, 3900000};
  hbm.t.tCL = std::numeric_limits<podsim::Time>::max();
  expect_refused("an HBM timing past a second", [&] { sim.attach_memory(0, hbm); },
                 "tCL: must be in [1, 1000000000000] ps, got 18446744073709551615");
  hbm.t.tCL = 14375;
  hbm.stacks = 0xFFFFFFFFU;
  expect_refused("HBM stacks", [&] { sim.attach_memory(0, hbm); }, "stacks: must be in [1, 64], got 4294967295");

  // A run file, through the stream overloads a host may use: what is saved loads back, and a
  // setting the Simulator would refuse is refused on loading, naming the file.
  podsim::SimConfig run;
  run.mtu_bytes = 2080;
  run.routing = podsim::RoutingPolicy::kSpray;
  run.recovery = podsim::LossRecovery::kReplay;
  std::stringstream saved;
  podsim::save_sim_config(run, 65536, saved);
  std::stringstream again(saved.str());
  const podsim::SimConfig back = podsim::load_sim_config(saved, false);
  const podsim::SimConfig with_memory = podsim::load_sim_config(again, true);
  if (back.mtu_bytes != 2080 || back.routing != podsim::RoutingPolicy::kSpray ||
      back.recovery != podsim::LossRecovery::kReplay || back.txn_bytes != 0 || with_memory.txn_bytes != 65536) {
    std::printf("run file: did not load back what was saved\n");
    ++failures;
  }
  std::string text = saved.str();
  text.replace(text.find("mtu_bytes 2080"), 14, "mtu_bytes 16");
  expect_refused("a run file with an MTU smaller than its header", [&] {
    std::stringstream bad(text);
    (void)podsim::load_sim_config(bad, false);
  }, "run file: mtu_bytes: must be larger than header_bytes = 32, got 16");

  expect_refused("a topology file that is a directory", [] { (void)podsim::load_topology("/"); },
                 "path: '/' is a directory, not a topology file");

  if (failures == 0) std::printf("ok\n");
  return failures == 0 ? 0 : 1;
}
