// The pending-event set: a 4-ary min-heap ordered by (time, sequence number). The sequence
// number is the order of scheduling, so events at the same picosecond run first-scheduled,
// first-run and every run is deterministic.
#pragma once

#include <cstdint>
#include <vector>

#include "podsim/sim/time.h"

namespace podsim {

enum class EventType : std::uint32_t {
  kArrive,        // a packet becomes eligible at the node at the end of a channel (arg: packet)
  kKick,          // a channel has finished a transmission; arbitrate again (arg: channel)
  kCredit,        // credits come back to the sender of a channel (arg: channel)
  kMessageStart,  // a message's dependencies and delay are satisfied (arg: message)
};

// 24 bytes: the type rides in the low bits of the scheduling order, so ordering by
// (time, order) is ordering by (time, sequence number).
struct Event {
  Time time;
  std::uint64_t order;  // (sequence number << 2) | type
  std::uint32_t arg;    // packet, channel or message id
  std::uint32_t aux;    // bytes, for credit returns
  EventType type() const { return static_cast<EventType>(order & 3U); }
};

class EventQueue {
 public:
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  Time next_time() const { return heap_.empty() ? kNever : heap_.front().time; }

  void push(Time time, EventType type, std::uint32_t arg, std::uint32_t aux = 0) {
    heap_.push_back(Event{time, (next_seq_++ << 2) | static_cast<std::uint64_t>(type), arg, aux});
    sift_up(heap_.size() - 1);
  }

  Event pop() {
    Event top = heap_.front();
    heap_.front() = heap_.back();
    heap_.pop_back();
    if (!heap_.empty()) sift_down(0);
    return top;
  }

 private:
  static bool before(const Event& a, const Event& b) {
    return a.time < b.time || (a.time == b.time && a.order < b.order);
  }
  void sift_up(std::size_t i) {
    const Event e = heap_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / 4;
      if (!before(e, heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = e;
  }
  void sift_down(std::size_t i) {
    const Event e = heap_[i];
    const std::size_t n = heap_.size();
    for (;;) {
      const std::size_t first = 4 * i + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t last = first + 4 < n ? first + 4 : n;
      for (std::size_t c = first + 1; c < last; ++c)
        if (before(heap_[c], heap_[best])) best = c;
      if (!before(heap_[best], e)) break;
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = e;
  }

  std::vector<Event> heap_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace podsim
