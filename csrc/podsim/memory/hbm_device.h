// One HBM device (all stacks of one die or GPU) at request granularity.
//
// A request is cut at the interleave granularity into accesses; each access lives in one
// pseudo-channel (PC), one row and one bank index, spread over `bg_spread` bank groups. A PC keeps
// its accesses in arrival order and an FR-FCFS scheduler picks the next one (the oldest row hit
// among the `queue_depth` oldest, same bus direction first; else the oldest whose banks are free
// first). Picking an access *commits* all its DRAM commands at once: PRE/ACT for every bank it
// touches that is not open at its row, then one column command per burst. Their times are
// computed in closed form from the per-bank and per-PC state, so a request of many bursts costs
// one scheduling step per PC it touches, not one event per burst. Commands of the PC are placed so that ACTs and column commands are each in
// non-decreasing time order; together with the "earliest next" bounds kept per bank, per bank
// group and per PC, every pairwise JEDEC constraint (tRCD, tRP, tRAS, tRC, tCCD_S/L, tRRD_S/L,
// tFAW, tWR, tRTP, tWTR_S/L, tRTW, tRFC, data-bus occupancy) holds by construction; the debug
// trace lets tests check that independently.
//
// The controller looks ahead: the k-th access of a PC is picked when the (k - lookahead)-th has
// issued its first column command, so row opens overlap earlier data transfers the way a command
// queue of that depth allows. All-bank refresh: when a decision happens at or after a refresh due
// time, the PC precharges all banks and refreshes (refresh may thus be postponed by at most the
// lookahead, as JEDEC allows postponing).
//
// Embedding: submit(), next_event_time(), advance_until(). One object owns all its state.
#pragma once

#include <algorithm>
#include <cstdint>
#include <queue>
#include <vector>

#include "podsim/memory/hbm_config.h"
#include "podsim/sim/time.h"

namespace podsim::memory {

enum class CommandType : std::uint8_t { kAct = 0, kPre = 1, kRead = 2, kWrite = 3, kRefresh = 4 };

struct Command {
  Time time;
  std::uint32_t pc;
  std::uint32_t row;        // ACT only
  std::uint16_t bank_group;  // not meaningful for REF
  std::uint16_t bank;        // index within the bank group
  CommandType type;
};

struct Completion {
  std::uint64_t id;
  Time submit;
  Time done;  // last data beat of the request has crossed the pins
  std::uint64_t bytes;
  bool is_write;
};

// Counters of one PC. Bursts are column commands; an access is the part of a request in one PC.
struct PcCounters {
  std::uint64_t read_bursts = 0;
  std::uint64_t write_bursts = 0;
  std::uint64_t accesses = 0;
  std::uint64_t row_hits = 0;  // accesses that needed no ACT
  std::uint64_t activates = 0;
  std::uint64_t precharges = 0;
  std::uint64_t refreshes = 0;
  Time busy_ps = 0;  // data bus occupied
};

// Latest submission time accepted: leaves ample headroom below 2^64 ps for every later command.
inline constexpr Time kMaxSubmitTime = Time{1} << 62;

class HbmDevice {
 public:
  explicit HbmDevice(const HbmConfig& cfg);

  // A request of `bytes` at `addr` arrives at `now` (>= the last advance_until time). The byte
  // range must lie inside the device capacity. `id` is returned in its Completion.
  void submit(std::uint64_t addr, std::uint64_t bytes, bool is_write, std::uint64_t id, Time now);
  // Earliest time at which advance_until() has something to do; kNever when idle.
  Time next_event_time() const;
  // Runs the controllers up to and including `t` and appends the requests completed at or before
  // `t` to `out`, in completion-time order.
  void advance_until(Time t, std::vector<Completion>& out);

  Time now() const { return now_; }
  std::uint64_t in_flight() const { return in_flight_; }
  const HbmConfig& config() const { return cfg_; }
  const std::vector<PcCounters>& counters() const { return counters_; }
  const std::vector<Command>& trace() const { return trace_; }

 private:
  static constexpr std::uint32_t kNoRow = 0xFFFFFFFFU;
  static constexpr std::size_t kNone = ~std::size_t{0};

  struct Bank {
    std::uint32_t open_row = kNoRow;
    Time act_ok = 0;     // earliest ACT (tRP after PRE, tRC after ACT, tRFC after REF)
    Time pre_ok = 0;     // earliest PRE (tRAS after ACT, tRTP after RD, tWR after write data)
    Time rd_ok = 0;      // earliest RD (tRCDRD after ACT)
    Time wr_ok = 0;      // earliest WR (tRCDWR after ACT)
  };
  struct Access {
    Time arrival;
    std::uint32_t request;
    std::uint32_t row;
    std::uint16_t bank;       // index within the bank group
    std::uint16_t bg_base;    // first of the bg_spread bank groups
    std::uint16_t first;      // first burst within the chunk
    std::uint16_t bursts;
    std::uint16_t bg_first;   // bank group offset (within the spread) of the first burst
    std::uint16_t touched;    // bank groups the access touches: min(bursts, bg_spread)
    bool is_write;
  };
  // Accesses of one PC in arrival order. The scheduler removes entries near the front only (among
  // the oldest queue_depth), so removal shifts the few older entries up by one.
  class AccessQueue {
   public:
    bool empty() const { return head_ == items_.size(); }
    std::size_t size() const { return items_.size() - head_; }
    const Access& operator[](std::size_t i) const { return items_[head_ + i]; }
    const Access& front() const { return items_[head_]; }
    void push_back(const Access& a) { items_.push_back(a); }
    void remove(std::size_t i) {
      for (std::size_t k = head_ + i; k > head_; --k) items_[k] = items_[k - 1];
      ++head_;
      if (head_ == items_.size()) {
        items_.clear();
        head_ = 0;
      } else if (head_ >= 64 && 2 * head_ >= items_.size()) {  // at most half dead: amortised O(1)
        items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
      }
    }

   private:
    std::vector<Access> items_;
    std::size_t head_ = 0;
  };
  struct Pc {
    AccessQueue queue;
    std::vector<Bank> banks;
    std::vector<Time> act_ok_bg;  // tRRD_L
    std::vector<Time> col_ok_bg;  // tCCD_L
    std::vector<Time> rd_ok_bg;   // tWTR_L
    std::vector<Time> window;     // first column time of the last `lookahead` accesses (ring)
    Time faw[4] = {0, 0, 0, 0};   // last four ACT times (ring), for tFAW
    std::uint64_t acts = 0;
    std::uint64_t commits = 0;
    Time act_ok = 0;     // tRRD_S
    Time col_ok = 0;     // tCCD_S
    Time rd_ok = 0;      // tWTR_S
    Time wr_ok = 0;      // tRTW
    Time bus_free = 0;   // end of the last data transfer
    Time ref_due = 0;
    Time last_decision = 0;
    bool scheduled = false;
    bool writing = false;  // direction of the last committed access
  };
  struct Request {
    std::uint64_t id;
    Time submit;
    Time done;
    std::uint64_t bytes;
    std::uint32_t pending;  // accesses not yet committed
    bool is_write;
  };
  struct Entry {
    Time time;
    std::uint32_t index;
    bool operator>(const Entry& o) const { return time > o.time || (time == o.time && index > o.index); }
  };
  using MinHeap = std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>>;

  void schedule(std::uint32_t pc, Time not_before);
  void decide(std::uint32_t pc, Time t);
  void refresh(std::uint32_t pc, Time due);
  void issue(std::uint32_t pc, const Access& a, Time t);
  // 0 when every bank the access touches has its row open (a row hit); otherwise the earliest
  // time all of them could take their ACT (after a PRE where another row is open).
  Time open_time(const Pc& p, const Access& a) const {
    Time ready = 0;
    std::uint32_t r = a.bg_first;
    for (std::uint32_t k = 0; k < a.touched; ++k) {
      const Bank& b = p.banks[(a.bg_base + r) * cfg_.banks_per_group + a.bank];
      if (b.open_row != a.row) {
        const Time act = b.open_row == kNoRow ? b.act_ok : std::max(b.act_ok, b.pre_ok + cfg_.t.tRP);
        ready = std::max({ready, act, Time{1}});
      }
      if (++r == cfg_.bg_spread) r = 0;
    }
    return ready;
  }
  void record(Time time, std::uint32_t pc, CommandType type, std::uint32_t bg, std::uint32_t bank, std::uint32_t row);

  HbmConfig cfg_;
  Time burst_ps_;
  std::uint32_t chunk_bursts_;
  std::uint32_t cols_per_chunk_bank_;      // bursts one chunk puts in one bank
  std::uint64_t radix_[kMapFields];        // size of each address-map field
  std::vector<Pc> pcs_;
  std::vector<PcCounters> counters_;
  std::vector<Request> requests_;
  std::vector<std::uint32_t> free_requests_;
  MinHeap decisions_;
  MinHeap completions_;
  std::vector<Command> trace_;
  Time now_ = 0;
  std::uint64_t in_flight_ = 0;
};

}  // namespace podsim::memory
