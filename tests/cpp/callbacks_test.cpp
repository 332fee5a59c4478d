// What a C++ host's callbacks may and may not do (simulator.h, README "Embedding"): replace the
// completion callback from inside it; not run the simulation from inside one; and after one
// throws, the simulator refuses to go on instead of running on with the event half done. Bad
// arguments change nothing. Prints "ok" when every case behaves.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "podsim/podsim.h"

// A copy would be refused deep inside a member; it is refused where it is written. Moving
// (returning a Simulator, keeping several in a vector) works.
static_assert(!std::is_copy_constructible_v<podsim::Simulator> && !std::is_copy_assignable_v<podsim::Simulator>);
static_assert(std::is_move_constructible_v<podsim::Simulator> && std::is_move_assignable_v<podsim::Simulator>);

namespace {

int failures = 0;

void fail(const char* what, const std::string& detail) {
  std::printf("%s: %s\n", what, detail.c_str());
  ++failures;
}

// Two endpoints joined by one link.
podsim::Simulator pair() {
  podsim::Topology topo;
  const auto a = topo.add_endpoint("a", 1 << 16, 0, 0, {});
  const auto b = topo.add_endpoint("b", 1 << 16, 0, 0, {});
  topo.connect(a, b, 1e9, 1000);
  return podsim::Simulator(std::move(topo), podsim::SimConfig{});
}

// Runs `body`, which must throw E with `needle` in its message.
template <typename E, typename F>
void expect_throw(const char* what, F body, const std::string& needle) {
  try {
    body();
    fail(what, "did not throw");
  } catch (const E& err) {
    if (std::string(err.what()).find(needle) == std::string::npos) fail(what, std::string("message: ") + err.what());
  } catch (const std::exception& err) {
    fail(what, std::string("wrong exception: ") + err.what());
  }
}

void replacing_the_callback_from_inside_it() {
  auto sim = pair();
  const std::string label(64, 'x');  // captured: freed with the callback if it is destroyed running
  std::size_t heard = 0;
  sim.set_completion_callback([&sim, &heard, label](std::uint32_t, podsim::Time) {
    sim.set_completion_callback(nullptr);
    heard += label.size();
  });
  sim.inject(0, 1, 1000, podsim::MessageKind::kWrite, 0, nullptr);
  sim.inject(0, 1, 1000, podsim::MessageKind::kWrite, 0, nullptr);
  sim.run_until_idle();
  if (heard != 64) fail("replacing the callback", "heard " + std::to_string(heard) + " bytes of label, expected 64");

  // One that stays hears every completion; one that sets another hands the rest over to it.
  auto again = pair();
  int first = 0;
  int second = 0;
  again.set_completion_callback([&](std::uint32_t, podsim::Time) {
    if (++first == 2) again.set_completion_callback([&](std::uint32_t, podsim::Time) { ++second; });
  });
  for (int i = 0; i < 5; ++i) again.inject(0, 1, 1000, podsim::MessageKind::kWrite, 0, nullptr);
  again.run_until_idle();
  if (first != 2 || second != 3)
    fail("handing over the callback", "first heard " + std::to_string(first) + ", second " + std::to_string(second) +
                                          "; expected 2 and 3");
}

void a_throwing_callback_stops_the_simulation() {
  auto sim = pair();
  sim.inject(0, 1, 1000, podsim::MessageKind::kWrite, 0,
             [](std::uint32_t, podsim::Time) { throw std::runtime_error("handler failed"); });
  sim.inject(0, 1, 1000, podsim::MessageKind::kWrite, 0, nullptr);
  expect_throw<std::runtime_error>("the host's exception", [&] { sim.run_until_idle(); }, "handler failed");
  const std::string why = "the on_complete callback of message 0 threw";
  expect_throw<std::logic_error>("running on", [&] { sim.run_until_idle(); }, why);
  expect_throw<std::logic_error>("injecting", [&] { sim.inject(0, 1, 10, podsim::MessageKind::kWrite, 0, nullptr); }, why);
}

void running_from_inside_a_callback() {
  auto sim = pair();
  sim.inject(0, 1, 1000, podsim::MessageKind::kWrite, 0, nullptr, 0,
             [&sim](std::uint32_t, podsim::Time t) { sim.advance_until(t + 1'000'000); });
  expect_throw<std::logic_error>("advance_until in a callback", [&] { sim.run_until_idle(); }, "called from inside a callback");
}

void a_start_past_the_end_of_time() {
  auto sim = pair();
  sim.advance_until(1000);
  expect_throw<std::invalid_argument>("delay past 2^62 ps",
                                      [&] { sim.inject(0, 1, 100, podsim::MessageKind::kWrite, 0, nullptr, podsim::kMaxTime); },
                                      "past the end of simulated time");
  if (sim.messages_incomplete() != 0) fail("delay past 2^62 ps", "the refused message was added");
  sim.inject(0, 1, 100, podsim::MessageKind::kWrite, 0, nullptr);  // and the simulation goes on
  sim.run_until_idle();
  expect_throw<std::invalid_argument>("advance_until into the past", [&] { sim.advance_until(500); }, "must be >= now()");
}

}  // namespace

int main() {
  replacing_the_callback_from_inside_it();
  a_throwing_callback_stops_the_simulation();
  running_from_inside_a_callback();
  a_start_past_the_end_of_time();
  if (failures == 0) std::printf("ok\n");
  return failures == 0 ? 0 : 1;
}
