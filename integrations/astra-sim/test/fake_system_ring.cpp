// A FAKE ASTRA-sim system layer (not ASTRA-sim) driving the podsim adapter the way ASTRA-sim's Sys
// does: a ring all-reduce issued as sim_send/sim_recv with handlers, with the reduction's compute
// time as sim_schedule delays, every rank on its own AstraNetworkAPI instance.
//
//   fake_system_ring TOPOLOGY EXPECTED
//
// EXPECTED comes from expected_ring.py, which runs the same all-reduce as a batch of podsim
// messages through Python's podsim.simulate. Every send start, send completion and receive
// completion must match it to the picosecond. Exits 1 on a mismatch.
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "podsim_network.h"

namespace {

using podsim::Time;
using podsim_astra::PodsimBackend;
using podsim_astra::PodsimNetworkApi;

struct Scenario {
  std::string name;
  int ranks = 0;
  int steps = 0;
  std::uint64_t chunk_bytes = 0;
  std::uint64_t compute_ns = 0;
  std::uint64_t post_ns = 0;  // 0: post the receive before sending; else this long after
  // (rank, step) -> (send start, receive completion at rank+1, send completion), ps
  std::map<std::pair<int, int>, std::tuple<Time, Time, Time>> expected;
};

std::vector<Scenario> read_expected(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::string line;
  if (!std::getline(in, line) || line != "podsim-astra-ring 1") throw std::runtime_error(path + ": bad header");
  std::vector<Scenario> out;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string word;
    ls >> word;
    if (word == "scenario") {
      Scenario s;
      std::string k;
      ls >> s.name >> k >> s.ranks >> k >> s.steps >> k >> s.chunk_bytes >> k >> s.compute_ns >> k >> s.post_ns;
      if (!ls || s.ranks < 2) throw std::runtime_error(path + ": bad scenario line: " + line);
      out.push_back(std::move(s));
    } else if (word == "m" && !out.empty()) {
      int r = 0;
      int k = 0;
      Time start = 0;
      Time recv = 0;
      Time end = 0;
      ls >> r >> k >> start >> recv >> end;
      if (!ls) throw std::runtime_error(path + ": bad message line: " + line);
      out.back().expected[{r, k}] = {start, recv, end};
    } else if (!word.empty()) {
      throw std::runtime_error(path + ": unexpected line: " + line);
    }
  }
  return out;
}

class Ring;

// Handler argument: one per (rank, step), at a stable address for the whole run.
struct StepRef {
  Ring* ring;
  int rank;
  int step;
};

// The system layer: what ASTRA-sim's Sys and its collective implementation would do.
class Ring {
 public:
  Ring(const Scenario& s, PodsimBackend& net) : s_(s), net_(net) {
    for (int r = 0; r < s.ranks; ++r) {
      api_.push_back(std::make_unique<PodsimNetworkApi>(net, r));
      for (int k = 0; k < s.steps; ++k) refs_.push_back(StepRef{this, r, k});
    }
    const std::size_t n = refs_.size();
    send_start_.assign(n, podsim::kNever);
    send_done_.assign(n, podsim::kNever);
    recv_done_.assign(n, podsim::kNever);
  }

  void fire() {
    for (int r = 0; r < s_.ranks; ++r) start_step(ref(r, 0));
  }

  Time send_start(int r, int k) const { return send_start_[index(r, k)]; }
  Time send_done(int r, int k) const { return send_done_[index(r, k)]; }
  Time recv_done(int r, int k) const { return recv_done_[index(r, k)]; }

 private:
  std::size_t index(int r, int k) const { return static_cast<std::size_t>(r) * static_cast<std::size_t>(s_.steps) + static_cast<std::size_t>(k); }
  StepRef& ref(int r, int k) { return refs_[index(r, k)]; }
  PodsimNetworkApi& api(int r) { return *api_[static_cast<std::size_t>(r)]; }
  int right(int r) const { return (r + 1) % s_.ranks; }
  int left(int r) const { return (r + s_.ranks - 1) % s_.ranks; }

  void start_step(StepRef& at) {
    PodsimNetworkApi& a = api(at.rank);
    send_start_[index(at.rank, at.step)] = net_.now_ps();
    if (s_.post_ns == 0) post_recv(&at);  // the receive is waiting before any data can arrive
    a.sim_send(nullptr, s_.chunk_bytes, 0, right(at.rank), at.step, nullptr, on_sent, &at);
    if (s_.post_ns != 0) a.sim_schedule({podsim_astra::NS, static_cast<long double>(s_.post_ns)}, post_recv, &at);
  }

  static void post_recv(void* arg) {
    auto* at = static_cast<StepRef*>(arg);
    at->ring->api(at->rank).sim_recv(nullptr, at->ring->s_.chunk_bytes, 0, at->ring->left(at->rank), at->step, nullptr,
                                     on_received, at);
  }
  static void on_sent(void* arg) {
    auto* at = static_cast<StepRef*>(arg);
    at->ring->send_done_[at->ring->index(at->rank, at->step)] = at->ring->net_.now_ps();
  }
  static void on_received(void* arg) {
    auto* at = static_cast<StepRef*>(arg);
    Ring& ring = *at->ring;
    ring.recv_done_[ring.index(at->rank, at->step)] = ring.net_.now_ps();
    if (at->step + 1 == ring.s_.steps) {
      ring.api(at->rank).sim_notify_finished();
      return;
    }
    // Reduce the received chunk, then go on to the next step.
    ring.api(at->rank).sim_schedule({podsim_astra::NS, static_cast<long double>(ring.s_.compute_ns)}, next_step,
                                    &ring.ref(at->rank, at->step + 1));
  }
  static void next_step(void* arg) {
    auto* at = static_cast<StepRef*>(arg);
    at->ring->start_step(*at);
  }

  const Scenario& s_;
  PodsimBackend& net_;
  std::vector<std::unique_ptr<PodsimNetworkApi>> api_;
  std::vector<StepRef> refs_;  // sized once: handlers hold pointers into it
  std::vector<Time> send_start_;
  std::vector<Time> send_done_;
  std::vector<Time> recv_done_;
};

int check(const std::string& what, Time got, Time want) {
  if (got == want) return 0;
  std::cerr << "MISMATCH " << what << ": adapter " << got << " ps, podsim.simulate " << want << " ps\n";
  return 1;
}

int run_scenario(const std::string& topology, const Scenario& s) {
  PodsimBackend net(podsim::load_topology(topology), podsim::SimConfig{}, static_cast<std::size_t>(s.ranks));
  Ring ring(s, net);
  ring.fire();
  net.run();

  int bad = 0;
  for (int r = 0; r < s.ranks; ++r) {
    for (int k = 0; k < s.steps; ++k) {
      const auto it = s.expected.find({r, k});
      if (it == s.expected.end()) throw std::runtime_error("expected file lacks rank " + std::to_string(r));
      const auto [start, recv, end] = it->second;
      const std::string at = s.name + " rank " + std::to_string(r) + " step " + std::to_string(k);
      bad += check(at + " send start", ring.send_start(r, k), start);
      bad += check(at + " send completion", ring.send_done(r, k), end);
      bad += check(at + " receive completion at the next rank", ring.recv_done((r + 1) % s.ranks, k), recv);
    }
  }
  const auto all = static_cast<std::uint64_t>(s.ranks) * static_cast<std::uint64_t>(s.steps);
  const podsim_astra::MatchStats& st = net.stats();
  const std::uint64_t matched = s.post_ns == 0 ? st.recv_waited_for_data : st.data_waited_for_recv;
  if (net.finished_ranks() != s.ranks || net.pending_receives() != 0 || net.unclaimed_bytes() != 0 ||
      matched != all) {
    std::cerr << "MISMATCH " << s.name << ": finished ranks " << net.finished_ranks() << ", pending receives "
              << net.pending_receives() << ", unclaimed bytes " << net.unclaimed_bytes() << ", receives matched "
              << (s.post_ns == 0 ? "on arrival " : "on posting ") << matched << " of " << all << "\n";
    ++bad;
  }
  std::cout << "fake_system_ring " << s.name << ": " << s.ranks << " ranks, " << s.steps << " steps, all-reduce done at "
            << net.now_ps() << " ps, " << net.simulator().events() << " engine events, " << bad << " mismatches\n";
  return bad;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: fake_system_ring TOPOLOGY EXPECTED\n";
    return 2;
  }
  try {
    const std::vector<Scenario> scenarios = read_expected(argv[2]);
    if (scenarios.empty()) throw std::runtime_error(std::string(argv[2]) + ": no scenario");
    int bad = 0;
    for (const Scenario& s : scenarios) bad += run_scenario(argv[1], s);
    return bad == 0 ? 0 : 1;
  } catch (const std::exception& err) {
    std::cerr << "fake_system_ring: " << err.what() << "\n";
    return 1;
  }
}
