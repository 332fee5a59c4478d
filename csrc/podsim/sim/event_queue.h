// The pending-event set.
//
// Events are ordered by (time, payload word). The payload (type, arg) makes the order total
// over distinct events, so the order of same-picosecond events is fixed by the events themselves,
// not by a data structure's internals: runs are deterministic whatever the queue implementation.
//
// Almost every event lands within a few microseconds of now (a serialization, a propagation
// delay, a switch pipeline), so the queue is a calendar: a ring of 256 ps buckets covering
// 4.2 us ahead of the current bucket, with a two-level occupancy bitmap to find the next busy
// bucket, and a 4-ary heap for the rare events further ahead (delayed message starts). Ring
// buckets are unsorted lists; when a bucket becomes current its events are sorted once, and
// events pushed into it later go to a small heap, so a burst of simultaneous events (every
// endpoint starting at once; every channel of a synchronised collective finishing a packet in
// the same picosecond) costs O(log k) each, not O(k). A sort is a fraction of the work of a heap
// of the same events, and most events are in such bursts: a bucket is sorted as one 64-bit key
// per event, without data-dependent branches (see radix_sort.h), and stays as keys, each decoded
// when popped. The sorted bucket, the current heap and the far heap are compared on every pop,
// so the order is exactly that of a single priority queue.
//
// A bucket's list links blocks of events, not single events: on a large fabric a bucket holds
// tens of events pushed long before, so a list of single events made loading it a chain of
// dependent cache misses, one per event; blocks make it one per block.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "podsim/sim/huge_pages.h"
#include "podsim/sim/radix_sort.h"
#include "podsim/sim/time.h"

namespace podsim {

// Same-time events run in this order (the type is the high part of the payload word).
enum class EventType : std::uint32_t {
  kFault,         // a channel fails or is repaired (arg: fault change); first, so it affects all at its time
  kArrive,        // a packet becomes eligible at the node at the end of a channel (arg: packet)
  kKick,          // a channel has finished a transmission; arbitrate again (arg: channel)
  kCredit,        // wake a channel's sender that waits for credits (arg: channel)
  kMessageStart,  // a message's dependencies, delay and issue latency are satisfied (arg: message)
  kTargetReady,   // a target has fetched read data or committed a write (arg: target work item)
  kCommitted,     // a target's write engine has committed an arrived write packet (arg: packet)
  kMemory,        // an endpoint's HBM device has work due (arg: endpoint index)
  kIssue,         // an endpoint's write-issue engine is free again (arg: endpoint index)
  kRetransmit,    // a lost packet's source sends it again, end to end (arg: packet)
  kReplay,        // link-level retry sends a packet lost on a failed wire again (arg: packet)
};

struct Event {
  Time time;
  std::uint64_t word;  // type (4 bits) << 32 | arg (32 bits)
  EventType type() const { return static_cast<EventType>(word >> 32); }
  std::uint32_t arg() const { return static_cast<std::uint32_t>(word); }  // packet, channel or message id
  bool before(const Event& o) const { return time < o.time || (time == o.time && word < o.word); }
};

// A 4-ary min-heap of events (the calendar's overflow).
class EventHeap {
 public:
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  const Event& top() const { return heap_.front(); }
  void push(const Event& e) {
    heap_.push_back(e);
    std::size_t i = heap_.size() - 1;
    while (i > 0) {
      const std::size_t parent = (i - 1) / 4;
      if (!e.before(heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = e;
  }
  Event pop() {
    const Event top = heap_.front();
    const Event e = heap_.back();
    heap_.pop_back();
    const std::size_t n = heap_.size();
    if (n == 0) return top;
    std::size_t i = 0;
    for (;;) {
      const std::size_t first = 4 * i + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t last = first + 4 < n ? first + 4 : n;
      for (std::size_t c = first + 1; c < last; ++c)
        if (heap_[c].before(heap_[best])) best = c;
      if (!heap_[best].before(e)) break;
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = e;
    return top;
  }

 private:
  std::vector<Event> heap_;
};

class EventQueue {
 public:
  EventQueue() : head_(kSlots, kNil), fill_(kSlots, kBlockEvents), bits_(kWords, 0) {}

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  std::size_t peak_size() const { return std::max(peak_, size_); }  // most events pending at once
  // Why push() refused an event (past kMaxTime), empty if it never did. The caller was mid-way
  // through handling an event then, so its state is no longer consistent.
  const std::string& refused() const { return refused_; }

  // Time of the earliest event, kNever if none.
  Time next_time() const {
    Time t = kNever;
    if (sorted_pos_ < sorted_.size()) t = event_of(sorted_[sorted_pos_]).time;
    if (!now_.empty()) t = std::min(t, now_.top().time);
    if (t == kNever && ring_size_ > 0) {
      const std::uint32_t slot = first_slot();
      std::uint32_t count = fill_[slot];
      for (std::uint32_t b = head_[slot]; b != kNil; b = blocks_[b].next, count = kBlockEvents)
        for (std::uint32_t i = 0; i < count; ++i) t = std::min(t, blocks_[b].events[i].time);
    }
    if (!far_.empty()) t = std::min(t, far_.top().time);
    return t;
  }

  // The next events of the current bucket as sorted, those known so far, as sort keys (see
  // type_of, arg_of): what a caller may fetch into the cache ahead of handling them. (An event
  // pushed into the current bucket later may still come before them.)
  std::span<const std::uint64_t> upcoming() const { return sorted_.subspan(sorted_pos_); }
  static EventType type_of(std::uint64_t key) { return static_cast<EventType>((key >> 32) & 0xF); }
  static std::uint32_t arg_of(std::uint64_t key) { return static_cast<std::uint32_t>(key); }

  // Schedules an event. `time` must not be earlier than the last event popped (time never runs
  // backwards); past kMaxTime it throws TimeOverflow and schedules nothing. Inlined where it is
  // called: the common case, an event into a ring bucket's newest block with room, is a few
  // instructions, fewer than a call's own.
  [[gnu::always_inline]] void push(Time time, EventType type, std::uint32_t arg) {
    if (time > kMaxTime) [[unlikely]]
      refuse(time);
    const Event e{time, (static_cast<std::uint64_t>(type) << 32) | arg};
    ++size_;
    const std::uint64_t ahead = (time >> kShift) - current_;  // wraps around for the current bucket
    const auto slot = static_cast<std::uint32_t>((time >> kShift) & (kSlots - 1));
    if (ahead - 1 >= kSlots - 1 || fill_[slot] == kBlockEvents) [[unlikely]]
      return push_elsewhere(e);
    blocks_[head_[slot]].events[fill_[slot]++] = e;
    ++ring_size_;
  }

  // Removes the earliest event into `out` if its time is <= until; returns whether it did.
  bool pop_until(Time until, Event& out) {
    if (size_ == 0) return false;
    if (sorted_pos_ == sorted_.size() && now_.empty() && ring_size_ > 0) load_next_bucket();
    enum { kSorted, kNow, kFar } from = kSorted;
    // With the sorted bucket used up, a time past every event's stands in for it.
    Event best = sorted_pos_ < sorted_.size() ? event_of(sorted_[sorted_pos_]) : Event{kNever, 0};
    if (!now_.empty() && now_.top().before(best)) {
      best = now_.top();
      from = kNow;
    }
    if (!far_.empty() && far_.top().before(best)) {
      best = far_.top();
      from = kFar;
    }
    if (best.time > until) return false;
    out = best;
    // The queue is largest just before a pop (pushes only add), so the peak is taken here, not
    // on every push.
    peak_ = std::max(peak_, size_);
    if (from == kSorted) {
      ++sorted_pos_;
    } else if (from == kNow) {
      now_.pop();
    } else {
      far_.pop();
      // With nothing nearer pending, the ring restarts at this event so later events use it.
      if (sorted_pos_ == sorted_.size() && now_.empty() && ring_size_ == 0)
        current_ = std::max(current_, out.time >> kShift);
    }
    --size_;
    return true;
  }

 private:
  static constexpr unsigned kShift = 8;              // 256 ps buckets
  static constexpr std::uint32_t kSlots = 1U << 14;  // 4.2 us of ring
  static constexpr std::uint32_t kWords = kSlots / 64;
  static constexpr std::uint32_t kSummaryWords = kWords / 64;
  static constexpr std::uint32_t kNil = 0xFFFFFFFFu;

  // Fifteen events and a link fill four cache lines.
  static constexpr std::uint32_t kBlockEvents = 15;
  struct alignas(64) Block {
    Event events[kBlockEvents];
    std::uint32_t next;
  };

  [[noreturn, gnu::noinline]] void refuse(Time time) {
    refused_ = "simulated time: an event at " + std::to_string(time) +
               " ps is past the last simulated time, 2^62 ps (about 53 days); lower delays and latencies or raise rates";
    throw TimeOverflow(refused_);
  }
  // push() for an event into the current bucket or earlier, past the ring, or into a ring bucket
  // whose newest block is full or missing (an empty slot's fill is kBlockEvents: one test for both).
  [[gnu::noinline]] void push_elsewhere(const Event& e) {
    const std::uint64_t bucket = e.time >> kShift;
    if (bucket <= current_) {
      now_.push(e);
      return;
    }
    if (bucket - current_ >= kSlots) {
      far_.push(e);
      return;
    }
    const auto slot = static_cast<std::uint32_t>(bucket & (kSlots - 1));
    std::uint32_t b;
    if (free_ != kNil) {
      b = free_;
      free_ = blocks_[b].next;
    } else {
      b = static_cast<std::uint32_t>(blocks_.size());
      blocks_.emplace_back();
    }
    if (head_[slot] == kNil) set_bit(slot);
    blocks_[b].next = head_[slot];
    head_[slot] = b;
    fill_[slot] = 1;
    blocks_[b].events[0] = e;
    ++ring_size_;
  }
  void set_bit(std::uint32_t slot) {
    bits_[slot >> 6] |= 1ULL << (slot & 63);
    summary_[slot >> 12] |= 1ULL << ((slot >> 6) & 63);
  }
  void clear_bit(std::uint32_t slot) {
    const std::uint32_t w = slot >> 6;
    bits_[w] &= ~(1ULL << (slot & 63));
    if (bits_[w] == 0) summary_[w >> 6] &= ~(1ULL << (w & 63));
  }
  // First non-empty bitmap word at or after word index w (no wrap), or kNil.
  std::uint32_t next_word(std::uint32_t w) const {
    if (w >= kWords) return kNil;
    std::uint32_t sw = w >> 6;
    std::uint64_t m = summary_[sw] & (~0ULL << (w & 63));
    for (;;) {
      if (m) return (sw << 6) + static_cast<std::uint32_t>(std::countr_zero(m));
      if (++sw == kSummaryWords) return kNil;
      m = summary_[sw];
    }
  }
  // First occupied ring slot in circular order after the current bucket: every ring event lies
  // within kSlots buckets after it, so that is the earliest bucket.
  std::uint32_t first_slot() const {
    const auto pos = static_cast<std::uint32_t>((current_ + 1) & (kSlots - 1));
    const std::uint32_t w = pos >> 6;
    const std::uint64_t m = bits_[w] & (~0ULL << (pos & 63));
    if (m) return (w << 6) + static_cast<std::uint32_t>(std::countr_zero(m));
    std::uint32_t nw = next_word(w + 1);
    if (nw == kNil) nw = next_word(0);  // wrap around (may come back to w, below pos)
    return (nw << 6) + static_cast<std::uint32_t>(std::countr_zero(bits_[nw]));
  }
  void prefetch_block(std::uint32_t b) const {
    for (std::size_t line = 0; line < sizeof(Block); line += 64)
      __builtin_prefetch(reinterpret_cast<const char*>(&blocks_[b]) + line);
  }
  // Makes the earliest ring bucket the current one, sorted.
  void load_next_bucket() {
    const std::uint32_t slot = first_slot();
    current_ += 1 + ((slot - (current_ + 1)) & (kSlots - 1));
    sorted_ = {};  // its buffers are rewritten below
    sorted_pos_ = 0;
    std::size_t n = 0;
    std::uint32_t b = head_[slot];
    std::uint32_t count = fill_[slot];  // only the newest block is partly filled
    while (b != kNil) {
      // The blocks were written long ago (up to the ring's span) and have left the cache: fetch
      // the next one while this one is read.
      const std::uint32_t next = blocks_[b].next;
      if (next != kNil) prefetch_block(next);
      // keys_ is a buffer, its size its capacity: no check per key.
      if (keys_.size() < n + kBlockEvents) keys_.resize(2 * (n + kBlockEvents));
      for (std::uint32_t i = 0; i < count; ++i) keys_[n + i] = sort_key(blocks_[b].events[i]);
      n += count;
      ring_size_ -= count;
      blocks_[b].next = free_;
      free_ = b;
      b = next;
      count = kBlockEvents;
    }
    head_[slot] = kNil;
    fill_[slot] = kBlockEvents;
    clear_bit(slot);
    if (ring_size_ > 0) prefetch_block(head_[first_slot()]);  // the next bucket's newest block
    // The bucket stays as sorted keys; pop_until decodes one event at a time.
    sorted_ = sorter_.sort(std::span<std::uint64_t>(keys_.data(), n));
  }
  // One integer that orders the events of one bucket as Event::before does: they share the
  // bucket's time bits, and a payload word uses only its low 36 bits, so the offset in the
  // bucket and the word fit in 44 bits. One comparison per step of the sort instead of two or
  // three, and half the bytes moved.
  static constexpr unsigned kKeyTimeShift = 36;
  static std::uint64_t sort_key(const Event& e) {
    return (e.time & ((Time{1} << kShift) - 1)) << kKeyTimeShift | e.word;
  }
  // The event of a current bucket's key.
  Event event_of(std::uint64_t key) const {
    return Event{current_ << kShift | key >> kKeyTimeShift, key & ((std::uint64_t{1} << kKeyTimeShift) - 1)};
  }

  std::vector<std::uint64_t> keys_;  // the current bucket's events as sort keys, as loaded
  RadixSorter<kKeyTimeShift + kShift> sorter_;
  std::span<const std::uint64_t> sorted_;  // the same in order (in keys_ or sorter_'s buffer)
  std::size_t sorted_pos_ = 0;             // the next of them
  EventHeap now_;               // events pushed into the current bucket (or earlier) after that
  HugeVector<Block> blocks_;   // ring bucket lists
  std::uint32_t free_ = kNil;
  std::vector<std::uint32_t> head_;    // per slot, its newest block
  std::vector<std::uint8_t> fill_;     // per slot, events in its newest block (kBlockEvents if none)
  std::vector<std::uint64_t> bits_;
  std::uint64_t summary_[kSummaryWords] = {};
  EventHeap far_;               // events kSlots buckets or more ahead when scheduled
  std::uint64_t current_ = 0;   // absolute index of the current bucket
  std::size_t size_ = 0;
  std::size_t peak_ = 0;  // the most pending at the last pop (see peak_size)
  std::string refused_;
  std::size_t ring_size_ = 0;
};

}  // namespace podsim
