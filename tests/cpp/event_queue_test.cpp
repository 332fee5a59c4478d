// Checks the engine's event queue against a reference ordered multiset, and its radix sort
// against std::sort. Built and run by tests/test_event_queue.py; exits non-zero on the first
// difference, printing it.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "podsim/sim/event_queue.h"
#include "podsim/sim/radix_sort.h"

namespace {

int failures = 0;

void fail(const char* what, std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  std::printf("FAIL %s: %llu %llu %llu\n", what, static_cast<unsigned long long>(a), static_cast<unsigned long long>(b),
              static_cast<unsigned long long>(c));
  ++failures;
}

// Keys as the queue makes them: few distinct high bits (a bucket's picoseconds and event types)
// over arguments of varying width, plus fully random and all-equal keys.
std::vector<std::uint64_t> keys(std::mt19937_64& rng, std::size_t n, int pattern) {
  std::vector<std::uint64_t> k(n);
  for (auto& x : k) {
    switch (pattern) {
      case 0: x = rng() & ((std::uint64_t{1} << 44) - 1); break;
      case 1: x = (rng() % 3) << 36 | (rng() % 2) << 32 | (rng() % 200000); break;
      case 2: x = 7ULL << 36 | (rng() & 0xFFFFFFFFu); break;
      case 3: x = 5ULL << 32 | 42; break;
      case 4: x = rng() & 0xFFFFFF; break;  // three digits: an odd number of passes
      default: x = rng() % 300; break;
    }
  }
  return k;
}

// The reference: every pending event as (time, payload word), in the order pops must follow.
using Reference = std::multiset<std::pair<podsim::Time, std::uint64_t>>;

void push(podsim::EventQueue& q, Reference& ref, podsim::Time t, podsim::EventType type, std::uint32_t arg) {
  q.push(t, type, arg);
  ref.emplace(t, static_cast<std::uint64_t>(type) << 32 | arg);
}

// Whether `e` is the reference's earliest event; takes that one off the reference.
bool is_next(Reference& ref, const podsim::Event& e) {
  if (ref.empty()) return false;
  const auto want = *ref.begin();
  ref.erase(ref.begin());
  return e.time == want.first && e.word == want.second;
}

// Pops every event left: each must come in the reference's order, and none may be missing.
void drain(podsim::EventQueue& q, Reference& ref, const char* what, std::uint64_t seed) {
  podsim::Event e;
  while (q.pop_until(podsim::kNever, e))
    if (!is_next(ref, e)) return fail(what, seed, e.time, 0);
  if (!ref.empty()) fail("events lost (seed, left, 0)", seed, ref.size(), 0);
}

void check_radix_sort() {
  std::mt19937_64 rng(1);
  podsim::RadixSorter<44> sorter;
  for (const std::size_t n : {0, 1, 2, 3, 4, 5, 6, 17, 31, 64, 127, 128, 129, 1000, 4097, 20000})
    for (int pattern = 0; pattern < 6; ++pattern) {
      std::vector<std::uint64_t> k = keys(rng, n, pattern);
      std::vector<std::uint64_t> want = k;
      std::sort(want.begin(), want.end());
      const std::span<const std::uint64_t> got = sorter.sort(k);
      if (!std::ranges::equal(got, want)) fail("sort differs from std::sort (n, pattern)", n, static_cast<std::uint64_t>(pattern), 0);
    }
}

// Pops must come in (time, payload) order whatever the mix: bursts in one picosecond (large
// buckets, radix sorted), events into the current bucket after it was loaded, events past the
// ring's span, and pops bounded by a time limit.
void check_queue_order(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  podsim::EventQueue q;
  Reference ref;
  podsim::Time now = 0;
  const auto push_at = [&](podsim::Time t) {
    push(q, ref, t, static_cast<podsim::EventType>(rng() % 11), static_cast<std::uint32_t>(rng() % 5000));
  };
  // The queue's ring spans kRing picoseconds ahead of the current bucket (2^14 buckets of 256 ps);
  // pushes land on both sides of its end, and exactly around it.
  constexpr podsim::Time kBucket = 256;
  constexpr podsim::Time kRing = (podsim::Time{1} << 14) * kBucket;
  for (int round = 0; round < 400; ++round) {
    const int burst = static_cast<int>(rng() % 600);
    const podsim::Time at = now + rng() % 3000;  // many events in one picosecond
    for (int i = 0; i < burst; ++i) push_at(at);
    for (int i = 0, m = static_cast<int>(rng() % 300); i < m; ++i) {
      switch (rng() % 6) {
        case 0: push_at(now); break;                                   // into the current bucket
        case 1: push_at(now + rng() % 100000); break;                  // within the ring
        case 2: push_at(now + rng() % (2 * kRing)); break;             // either side of its end
        case 3: push_at((now / kBucket + kRing / kBucket - 1 + rng() % 3) * kBucket + rng() % kBucket); break;
        case 4: push_at(now + 5'000'000 + rng() % 10'000'000); break;  // past the ring's span
        default: push_at(now + rng() % 256); break;
      }
    }
    const podsim::Time until = now + rng() % 20000;
    for (int i = 0, m = static_cast<int>(rng() % 2000); i < m; ++i) {
      podsim::Event e;
      const bool popped = q.pop_until(until, e);
      const bool due = !ref.empty() && ref.begin()->first <= until;
      if (popped != due)
        return fail("pop_until returned an event when none was due, or none when one was (seed, now, popped)", seed, now,
                    popped);
      if (!popped) break;
      if (!is_next(ref, e)) return fail("event out of order (seed, time, 0)", seed, e.time, 0);
      now = e.time;
      // Follow-ups as the engine makes them: now or later.
      if (rng() % 2) push_at(now + rng() % 400);
    }
    if (q.size() != ref.size())
      return fail("size differs (seed, queue, reference)", seed, q.size(), ref.size());
  }
  drain(q, ref, "event out of order while draining (seed, time, 0)", seed);
}

// Enough events pending at once that the queue's block storage passes 2 MiB (its huge-page
// allocation), popped in order.
void check_large_queue() {
  std::mt19937_64 rng(99);
  podsim::EventQueue q;
  Reference ref;
  for (std::uint32_t i = 0; i < 300000; ++i)
    push(q, ref, 1 + rng() % 4'000'000, static_cast<podsim::EventType>(rng() % 11), i);
  drain(q, ref, "large queue: event out of order (seed, time, 0)", 99);
}

}  // namespace

int main() {
  check_radix_sort();
  check_large_queue();
  for (std::uint64_t seed = 1; seed <= 20; ++seed) check_queue_order(seed);
  if (failures == 0) std::printf("ok\n");
  return failures == 0 ? 0 : 1;
}
