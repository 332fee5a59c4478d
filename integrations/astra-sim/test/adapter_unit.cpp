// Unit tests of the ASTRA-sim adapter on a one-switch fabric whose timings have closed forms:
// time conversions, send/recv matching in both orders, byte counting, scheduled callbacks.
// Plays the part of ASTRA-sim's system layer by hand; it is not ASTRA-sim. Exits 1 on a failure.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "podsim_network.h"

namespace {

using podsim::Time;
using podsim_astra::PodsimBackend;
using podsim_astra::PodsimNetworkApi;

int failures = 0;

template <class A, class B>
void expect_eq(const A& got, const B& want, const std::string& what) {
  if (got == want) return;
  ++failures;
  std::cerr << "FAIL " << what << ": got " << got << ", want " << want << "\n";
}

template <class F>
void expect_throws(F&& f, const std::string& what) {
  try {
    f();
  } catch (const std::exception&) {
    return;
  }
  ++failures;
  std::cerr << "FAIL " << what << ": no exception\n";
}

// The fabric: 4 endpoints on one store-and-forward switch.
constexpr double kRateBps = 25e9;
constexpr Time kLinkPs = 10'000;
constexpr Time kSwitchPs = 100'000;
constexpr std::uint32_t kHeader = 32;  // SimConfig defaults: header and acknowledgement bytes
constexpr std::uint32_t kAck = 32;

podsim::Topology star4() {
  podsim::Topology t;
  const podsim::NodeId sw = t.add_switch("sw", kSwitchPs, 64 << 10, false);
  for (int i = 0; i < 4; ++i) {
    std::string name = "h";  // not "h" + to_string(i): GCC 12 reports a false -Wrestrict on it at -O3
    name += std::to_string(i);
    t.connect(t.add_endpoint(name, 256 << 10), sw, kRateBps, kLinkPs);
  }
  return t;
}

Time ser(std::uint64_t wire_bytes) {  // ceil(bytes / rate) in ps
  const auto rate_milli = static_cast<std::uint64_t>(kRateBps * 1000);
  return (wire_bytes * 1'000'000'000'000'000ULL + rate_milli - 1) / rate_milli;
}
// One single-packet message endpoint -> switch -> endpoint, nothing else on the fabric.
Time one_packet_ps(std::uint64_t wire_bytes) { return 2 * (ser(wire_bytes) + kLinkPs) + kSwitchPs; }

// What a handler saw: its own argument identifies it.
struct Probe {
  PodsimBackend* net = nullptr;
  PodsimNetworkApi* api = nullptr;
  Time at_ps = podsim::kNever;
  long double at_ns = -1;
  int calls = 0;
};
void record(void* arg) {
  auto* p = static_cast<Probe*>(arg);
  p->at_ps = p->net->now_ps();
  p->at_ns = p->api->sim_get_time().time_val;
  ++p->calls;
}

struct Fixture {
  PodsimBackend net{star4(), podsim::SimConfig{}, 4};
  std::vector<std::unique_ptr<PodsimNetworkApi>> api;
  Fixture() {
    for (int r = 0; r < 4; ++r) api.push_back(std::make_unique<PodsimNetworkApi>(net, r));
  }
  Probe probe(int rank) { return Probe{&net, api[static_cast<std::size_t>(rank)].get()}; }
};

void test_time_conversions() {
  using podsim_astra::ps_to_ns_ceil;
  using podsim_astra::to_ps_ceil;
  expect_eq(ps_to_ns_ceil(0), 0.0L, "0 ps");
  expect_eq(ps_to_ns_ceil(1), 1.0L, "1 ps rounds up");
  expect_eq(ps_to_ns_ceil(1000), 1.0L, "1000 ps");
  expect_eq(ps_to_ns_ceil(1001), 2.0L, "1001 ps rounds up");
  constexpr Time kTwoHoursPs = 2ULL * 3600 * podsim::kPsPerSecond;
  expect_eq(ps_to_ns_ceil(kTwoHoursPs), 7.2e12L, "two hours");
  expect_eq(ps_to_ns_ceil(kTwoHoursPs + 1), 7.2e12L + 1, "two hours + 1 ps");

  expect_eq(to_ps_ceil(1, podsim_astra::NS), Time{1000}, "1 ns");
  expect_eq(to_ps_ceil(0.3L, podsim_astra::NS), Time{300}, "0.3 ns (long double)");
  expect_eq(to_ps_ceil(static_cast<long double>(0.3), podsim_astra::NS), Time{300}, "0.3 ns (double)");
  expect_eq(to_ps_ceil(1.0001L, podsim_astra::NS), Time{1001}, "1.0001 ns rounds up");
  expect_eq(to_ps_ceil(0.0004L, podsim_astra::NS), Time{1}, "0.4 ps rounds up");
  expect_eq(to_ps_ceil(2.5L, podsim_astra::FS), Time{1}, "2.5 fs rounds up");
  expect_eq(to_ps_ceil(3, podsim_astra::US), Time{3'000'000}, "3 us");
  expect_eq(to_ps_ceil(1, podsim_astra::SE), podsim::kPsPerSecond, "1 s");
  expect_eq(to_ps_ceil(7.2e12L, podsim_astra::NS), kTwoHoursPs, "two hours in ns");
  // Round trip at large times: reading the clock and scheduling at that reading never goes back.
  for (const Time t : {Time{0}, Time{1}, Time{999}, Time{1001}, kTwoHoursPs + 1, 3 * kTwoHoursPs + 7}) {
    const Time back = to_ps_ceil(ps_to_ns_ceil(t), podsim_astra::NS);
    expect_eq(back >= t && back - t < 1000, true, "round trip of " + std::to_string(t) + " ps");
  }
  expect_throws([] { to_ps_ceil(-1, podsim_astra::NS); }, "negative time");
  expect_throws([] { to_ps_ceil(1e30L, podsim_astra::NS); }, "time beyond the clock");
}

// Receive posted before the data arrives; closed forms for both handlers.
void test_recv_first() {
  Fixture f;
  Probe sent = f.probe(0);
  Probe got = f.probe(1);
  f.api[1]->sim_recv(nullptr, 1000, 0, 0, 5, nullptr, record, &got);
  f.api[0]->sim_send(nullptr, 1000, 0, 1, 5, nullptr, record, &sent);
  f.net.run();
  const Time delivered = one_packet_ps(1000 + kHeader);
  expect_eq(got.at_ps, delivered, "recv-first: receive handler time");
  expect_eq(got.at_ns, static_cast<long double>((delivered + 999) / 1000), "recv-first: sim_get_time rounds up");
  expect_eq(sent.at_ps, delivered + one_packet_ps(kAck), "recv-first: send handler time (ack back)");
  expect_eq(got.calls + sent.calls, 2, "recv-first: each handler once");
  expect_eq(f.net.stats().recv_waited_for_data, std::uint64_t{1}, "recv-first: matched on arrival");
  expect_eq(f.net.pending_receives(), std::uint64_t{0}, "recv-first: nothing pending");
}

// Receive posted long after the data arrived: its handler runs when it is posted.
void test_send_first() {
  Fixture f;
  Probe got = f.probe(2);
  struct Late {
    PodsimNetworkApi* api;
    Probe* probe;
  } late{f.api[2].get(), &got};
  f.api[3]->sim_send(nullptr, 1000, 0, 2, 9, nullptr, nullptr, nullptr);
  f.api[2]->sim_schedule(
      {podsim_astra::US, 1},
      [](void* a) {
        auto* l = static_cast<Late*>(a);
        l->api->sim_recv(nullptr, 1000, 0, 3, 9, nullptr, record, l->probe);
      },
      &late);
  f.net.run();
  expect_eq(got.at_ps, Time{1'000'000}, "send-first: receive handler at posting time");
  expect_eq(f.net.stats().data_waited_for_recv, std::uint64_t{1}, "send-first: matched on posting");
  expect_eq(f.net.simulator().messages().delivered_ps[0], one_packet_ps(1000 + kHeader), "send-first: delivery");
}

// Bytes are counted per (src, dst, tag): one receive covers two sends; another tag does not match.
void test_byte_counting() {
  Fixture f;
  Probe got = f.probe(1);
  Probe other = f.probe(1);
  f.api[1]->sim_recv(nullptr, 1000, 0, 0, 6, nullptr, record, &got);
  f.api[1]->sim_recv(nullptr, 10, 0, 0, 7, nullptr, record, &other);
  f.api[0]->sim_send(nullptr, 600, 0, 1, 6, nullptr, nullptr, nullptr);
  f.api[0]->sim_send(nullptr, 400, 0, 1, 6, nullptr, nullptr, nullptr);
  f.api[0]->sim_send(nullptr, 10, 0, 1, 8, nullptr, nullptr, nullptr);
  f.net.run();
  const auto& d = f.net.simulator().messages().delivered_ps;
  expect_eq(got.at_ps, std::max(d[0], d[1]), "bytes: receive completes with the last of its bytes");
  expect_eq(got.calls, 1, "bytes: one handler call");
  expect_eq(other.calls, 0, "bytes: a different tag does not match");
  expect_eq(f.net.pending_receives(), std::uint64_t{1}, "bytes: the tag-7 receive still waits");
  expect_eq(f.net.unclaimed_bytes(), std::uint64_t{10}, "bytes: the tag-8 bytes are unclaimed");
}

// Host callbacks at one time run in scheduling order, after the network events of that time.
void test_schedule_order() {
  Fixture f;
  struct Log {
    PodsimBackend* net;
    std::vector<int> order;
    std::vector<Time> at;
  } log{&f.net, {}, {}};
  struct Item {
    Log* log;
    int id;
  };
  std::vector<Item> items{{&log, 0}, {&log, 1}, {&log, 2}, {&log, 3}};
  auto note = [](void* a) {
    auto* it = static_cast<Item*>(a);
    it->log->order.push_back(it->id);
    it->log->at.push_back(it->log->net->now_ps());
  };
  f.api[0]->sim_schedule({podsim_astra::NS, 5}, note, &items[2]);
  f.api[0]->sim_schedule({podsim_astra::NS, 2}, note, &items[0]);
  f.api[1]->sim_schedule({podsim_astra::NS, 5}, note, &items[3]);
  f.api[1]->sim_schedule({podsim_astra::NS, 2}, note, &items[1]);
  f.net.run();
  expect_eq(log.order == std::vector<int>{0, 1, 2, 3}, true, "schedule: time, then scheduling order");
  expect_eq(log.at == std::vector<Time>{2000, 2000, 5000, 5000}, true, "schedule: times");
}

// Random sends and receives (random times, sizes, tags, either order): the j-th receive posted for
// a (src, dst, tag) completes when the bytes delivered for that key (delivery times from the
// engine's own message table) cover the first j receives, and not before it was posted.
void test_random_matching() {
  Fixture f;
  std::mt19937_64 rng(2024);
  auto pick = [&rng](std::uint64_t lo, std::uint64_t hi) { return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng); };
  struct Op {
    Fixture* fx;
    int src, dst, tag;
    std::uint64_t bytes;
    Time posted = podsim::kNever;
    Time done = podsim::kNever;
    int calls = 0;
    std::size_t order = 0;  // position among the receives posted for its key
  };
  constexpr int kOps = 80;
  std::vector<Op> sends;
  std::vector<Op> recvs;
  sends.reserve(kOps);  // handlers hold pointers into these
  recvs.reserve(kOps);
  for (int i = 0; i < kOps; ++i) {
    const int src = static_cast<int>(pick(0, 3));
    const int dst = static_cast<int>((static_cast<std::uint64_t>(src) + pick(1, 3)) % 4);
    const int tag = static_cast<int>(pick(0, 2));
    const std::uint64_t bytes = pick(1, 20'000);
    sends.push_back(Op{&f, src, dst, tag, bytes});
    recvs.push_back(Op{&f, src, dst, tag, bytes});
  }
  std::map<std::tuple<int, int, int>, std::size_t> posted_per_key;
  struct PostCtx {
    Op* op;
    std::map<std::tuple<int, int, int>, std::size_t>* counts;
  };
  std::vector<PostCtx> post_ctx;
  post_ctx.reserve(kOps);
  for (int i = 0; i < kOps; ++i) {
    Op& s = sends[static_cast<std::size_t>(i)];
    f.api[static_cast<std::size_t>(s.src)]->sim_schedule(
        {podsim_astra::NS, static_cast<long double>(pick(0, 5'000))},
        [](void* a) {
          auto* op = static_cast<Op*>(a);
          op->fx->api[static_cast<std::size_t>(op->src)]->sim_send(nullptr, op->bytes, 0, op->dst, op->tag, nullptr,
                                                                   nullptr, nullptr);
        },
        &s);
    post_ctx.push_back(PostCtx{&recvs[static_cast<std::size_t>(i)], &posted_per_key});
    f.api[static_cast<std::size_t>(s.dst)]->sim_schedule(
        {podsim_astra::NS, static_cast<long double>(pick(0, 10'000))},
        [](void* a) {
          auto* ctx = static_cast<PostCtx*>(a);
          Op* op = ctx->op;
          op->posted = op->fx->net.now_ps();
          op->order = (*ctx->counts)[{op->src, op->dst, op->tag}]++;
          op->fx->api[static_cast<std::size_t>(op->dst)]->sim_recv(
              nullptr, op->bytes, 0, op->src, op->tag, nullptr,
              [](void* b) {
                auto* r = static_cast<Op*>(b);
                r->done = r->fx->net.now_ps();
                ++r->calls;
              },
              op);
        },
        &post_ctx.back());
  }
  f.net.run();

  // Expected, per key: deliveries in time order against receives in posting order.
  const podsim::MessageColumns& m = f.net.simulator().messages();
  const auto& eps = f.net.simulator().topology().endpoints();
  auto rank_of = [&eps](podsim::NodeId n) { return static_cast<int>(std::find(eps.begin(), eps.end(), n) - eps.begin()); };
  std::map<std::tuple<int, int, int>, std::vector<std::pair<Time, std::uint64_t>>> arrivals;
  for (std::size_t i = 0; i < m.src.size(); ++i)
    arrivals[{rank_of(m.src[i]), rank_of(m.dst[i]), static_cast<int>(m.tag[i])}].emplace_back(m.delivered_ps[i], m.size[i]);
  std::map<std::tuple<int, int, int>, std::vector<const Op*>> by_key;
  for (const Op& r : recvs) by_key[{r.src, r.dst, r.tag}].push_back(&r);
  int late = 0;
  for (auto& [key, list] : by_key) {
    std::sort(list.begin(), list.end(), [](const Op* a, const Op* b) { return a->order < b->order; });
    auto& arr = arrivals[key];
    std::sort(arr.begin(), arr.end());
    std::uint64_t need = 0;
    std::uint64_t have = 0;
    std::size_t next = 0;
    Time covered = 0;
    for (const Op* r : list) {
      need += r->bytes;
      while (have < need) {
        covered = arr.at(next).first;
        have += arr.at(next++).second;
      }
      const Time want = std::max(covered, r->posted);
      late += r->posted > covered ? 1 : 0;
      expect_eq(r->done, want, "random: receive completion");
      expect_eq(r->calls, 1, "random: receive handler once");
    }
  }
  expect_eq(f.net.pending_receives() + f.net.unclaimed_bytes(), std::uint64_t{0}, "random: all matched");
  // Both orders occurred, so both matching paths were checked.
  expect_eq(late > 0 && late < kOps, true, "random: receives posted both before and after their data");
}

void test_metadata_and_errors() {
  Fixture f;
  int size = 0;
  expect_eq(f.api[0]->sim_comm_size({"world"}, &size), 0, "comm_size: returns 0");
  expect_eq(size, 4, "comm_size");
  expect_eq(f.api[3]->sim_comm_get_rank(), 3, "rank");
  expect_eq(f.api[0]->get_BW_at_dimension(0), 25.0, "bandwidth of dimension 0, GB/s");
  expect_throws([&] { f.api[0]->get_BW_at_dimension(1); }, "unknown dimension");
  expect_throws([&] { f.api[0]->sim_send(nullptr, 8, 0, 4, 0, nullptr, nullptr, nullptr); }, "send to a bad rank");
  expect_throws([&] { f.api[0]->sim_send(nullptr, 8, 0, 0, 0, nullptr, nullptr, nullptr); }, "send to itself");
  expect_throws([&] { f.api[0]->sim_recv(nullptr, 0, 0, 1, 0, nullptr, record, nullptr); }, "zero-byte recv");
  expect_throws([] { PodsimBackend(star4(), podsim::SimConfig{}, 5); }, "more ranks than endpoints");
  expect_throws([] { PodsimBackend(star4(), podsim::SimConfig{}, std::vector<podsim::NodeId>{0}); },
                "a switch as a rank");
  PodsimNetworkApi custom(f.net, 1, {100.0, 50.0});
  expect_eq(custom.get_BW_at_dimension(1), 50.0, "given dimension bandwidths");
}

}  // namespace

int main() {
  try {
    test_time_conversions();
    test_recv_first();
    test_send_first();
    test_byte_counting();
    test_schedule_order();
    test_random_matching();
    test_metadata_and_errors();
  } catch (const std::exception& err) {
    std::cerr << "FAIL: unexpected exception: " << err.what() << "\n";
    return 1;
  }
  if (failures != 0) {
    std::cerr << failures << " check(s) failed\n";
    return 1;
  }
  std::cout << "adapter_unit: all checks passed\n";
  return 0;
}
