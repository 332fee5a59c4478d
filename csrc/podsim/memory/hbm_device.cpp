#include "podsim/memory/hbm_device.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace podsim::memory {

namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

// `field` in [lo, hi] (in `unit`), or invalid_argument naming the field, the range and the value.
void in_range(std::uint64_t v, std::uint64_t lo, std::uint64_t hi, const char* field, const char* unit = "") {
  require(v >= lo && v <= hi, std::string(field) + ": must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                  "]" + unit + ", got " + std::to_string(v));
}

}  // namespace

void HbmConfig::validate() const {
  // No DRAM timing is near a second; the bound also keeps the device's sums of a few timings far
  // from the engine's last time (kMaxTime), so a huge value cannot wrap.
  constexpr Time kMaxTiming = 1'000'000'000'000;  // 1 s
  const auto timing = [](Time v, const char* field, Time lo) { in_range(v, lo, kMaxTiming, field, " ps"); };
  timing(t.tCL, "tCL", 1);
  timing(t.tCWL, "tCWL", 1);
  timing(t.tRCDRD, "tRCDRD", 1);
  timing(t.tRCDWR, "tRCDWR", 1);
  timing(t.tRP, "tRP", 1);
  timing(t.tRAS, "tRAS", 1);
  timing(t.tRC, "tRC", 1);
  timing(t.tWR, "tWR", 0);
  timing(t.tRTP, "tRTP", 0);
  timing(t.tCCD_S, "tCCD_S", 1);
  timing(t.tCCD_L, "tCCD_L", 1);
  timing(t.tRRD_S, "tRRD_S", 0);
  timing(t.tRRD_L, "tRRD_L", 0);
  timing(t.tFAW, "tFAW", 0);
  timing(t.tWTR_S, "tWTR_S", 0);
  timing(t.tWTR_L, "tWTR_L", 0);
  timing(t.tRTW, "tRTW", 0);
  timing(t.tRFC, "tRFC", refresh ? 1 : 0);
  timing(t.tREFI, "tREFI", 0);
  if (refresh)
    require(t.tREFI > t.tRFC, "tREFI: must be > tRFC = " + std::to_string(t.tRFC) + " ps when refresh is on, got " +
                                  std::to_string(t.tREFI));
  in_range(stacks, 1, 64, "stacks");
  in_range(pcs_per_stack, 1, 256, "pcs_per_stack");
  in_range(pc_width_bits, 1, 1024, "pc_width_bits");
  in_range(rate_kbps, 1, 1'000'000'000ULL, "rate_kbps", " kbit/s");
  in_range(burst_bytes, 1, 4096, "burst_bytes");
  in_range(bank_groups, 1, 256, "bank_groups");
  in_range(banks_per_group, 1, 256, "banks_per_group");
  require(row_bytes >= burst_bytes && row_bytes % burst_bytes == 0,
          "row_bytes: must be a positive multiple of burst_bytes = " + std::to_string(burst_bytes) + ", got " +
              std::to_string(row_bytes));
  in_range(rows, 1, 0xFFFFFFFEU, "rows");
  require(bg_spread >= 1 && bank_groups % bg_spread == 0,
          "bg_spread: must be >= 1 and divide bank_groups = " + std::to_string(bank_groups) + ", got " +
              std::to_string(bg_spread));
  require(interleave_bytes >= burst_bytes * bg_spread && interleave_bytes % (burst_bytes * bg_spread) == 0,
          "interleave_bytes: must be a multiple of burst_bytes * bg_spread = " + std::to_string(burst_bytes * bg_spread) +
              ", got " + std::to_string(interleave_bytes));
  const std::uint64_t per_bank = interleave_bytes / bg_spread;  // bytes a chunk puts in one bank
  require(per_bank <= row_bytes && row_bytes % per_bank == 0,
          "interleave_bytes: interleave_bytes / bg_spread = " + std::to_string(per_bank) + " must divide row_bytes = " +
              std::to_string(row_bytes));
  require(interleave_bytes / burst_bytes <= 0xFFFFU, "interleave_bytes: at most 65535 bursts per chunk, got " +
                                                          std::to_string(interleave_bytes / burst_bytes));
  in_range(lookahead, 1, 1024, "lookahead");
  in_range(queue_depth, 1, 65536, "queue_depth");
  bool seen[kMapFields] = {};
  for (MapField f : order) {
    const auto i = static_cast<std::size_t>(f);
    require(i < kMapFields && !seen[i], "order: must be a permutation of pc, bg, ba, co, ro");
    seen[i] = true;
  }
}

HbmDevice::HbmDevice(const HbmConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  burst_ps_ = cfg_.burst_ps();
  chunk_bursts_ = cfg_.interleave_bytes / cfg_.burst_bytes;
  cols_per_chunk_bank_ = chunk_bursts_ / cfg_.bg_spread;
  radix_[static_cast<std::size_t>(MapField::kPc)] = cfg_.pcs();
  radix_[static_cast<std::size_t>(MapField::kBankGroup)] = cfg_.bank_groups / cfg_.bg_spread;
  radix_[static_cast<std::size_t>(MapField::kBank)] = cfg_.banks_per_group;
  radix_[static_cast<std::size_t>(MapField::kColumn)] = cfg_.row_bytes / cfg_.burst_bytes / cols_per_chunk_bank_;
  radix_[static_cast<std::size_t>(MapField::kRow)] = cfg_.rows;
  pcs_.resize(cfg_.pcs());
  for (Pc& p : pcs_) {
    p.banks.resize(cfg_.banks());
    p.act_ok_bg.assign(cfg_.bank_groups, 0);
    p.col_ok_bg.assign(cfg_.bank_groups, 0);
    p.rd_ok_bg.assign(cfg_.bank_groups, 0);
    p.window.assign(cfg_.lookahead, 0);
    p.ref_due = cfg_.t.tREFI;
  }
  counters_.resize(cfg_.pcs());
}

void HbmDevice::submit(std::uint64_t addr, std::uint64_t bytes, bool is_write, std::uint64_t id, Time now) {
  require(bytes >= 1, "bytes: must be >= 1");
  require(now >= now_, "now: must be >= the device time (" + std::to_string(now_) + " ps)");
  require(now <= kMaxSubmitTime, "now: must be <= 2^62 ps (so that no time can overflow)");
  const std::uint64_t cap = cfg_.capacity_bytes();
  require(addr < cap && bytes <= cap - addr,
          "addr: the range [addr, addr + bytes) must lie inside the capacity of " + std::to_string(cap) + " bytes");
  std::uint32_t slot;
  if (free_requests_.empty()) {
    slot = static_cast<std::uint32_t>(requests_.size());
    requests_.emplace_back();
  } else {
    slot = free_requests_.back();
    free_requests_.pop_back();
  }
  const std::uint64_t first = addr / cfg_.burst_bytes;
  const std::uint64_t last = (addr + bytes - 1) / cfg_.burst_bytes;
  requests_[slot] = Request{id, now, now, bytes, 0, is_write};
  ++in_flight_;
  // The address-map digits of the first chunk; later chunks of the request count up from there
  // (mixed radix, lowest field first), which spares the divisions.
  std::uint64_t field[kMapFields];
  std::uint64_t rest = first / chunk_bursts_;
  for (MapField f : cfg_.order) {
    const auto i = static_cast<std::size_t>(f);
    field[i] = rest % radix_[i];
    rest /= radix_[i];
  }
  // One access per interleave chunk the burst range touches.
  for (std::uint64_t b = first; b <= last;) {
    const std::uint64_t chunk = b / chunk_bursts_;
    const auto in_chunk = static_cast<std::uint32_t>(b - chunk * chunk_bursts_);
    const std::uint64_t end = std::min<std::uint64_t>(last + 1, (chunk + 1) * chunk_bursts_);
    const auto pc = static_cast<std::uint32_t>(field[static_cast<std::size_t>(MapField::kPc)]);
    Access a{};
    a.arrival = now;
    a.request = slot;
    a.row = static_cast<std::uint32_t>(field[static_cast<std::size_t>(MapField::kRow)]);
    a.bank = static_cast<std::uint16_t>(field[static_cast<std::size_t>(MapField::kBank)]);
    a.bg_base = static_cast<std::uint16_t>(field[static_cast<std::size_t>(MapField::kBankGroup)] * cfg_.bg_spread);
    a.first = static_cast<std::uint16_t>(in_chunk);
    a.bursts = static_cast<std::uint16_t>(end - b);
    a.bg_first = static_cast<std::uint16_t>(in_chunk % cfg_.bg_spread);
    a.touched = static_cast<std::uint16_t>(std::min<std::uint64_t>(a.bursts, cfg_.bg_spread));
    a.is_write = is_write;
    pcs_[pc].queue.push_back(a);
    ++requests_[slot].pending;
    if (!pcs_[pc].scheduled) schedule(pc, now);
    b = end;
    for (MapField f : cfg_.order) {
      const auto i = static_cast<std::size_t>(f);
      if (++field[i] < radix_[i]) break;
      field[i] = 0;
    }
  }
}

void HbmDevice::schedule(std::uint32_t pc, Time not_before) {
  Pc& p = pcs_[pc];
  // The next pick waits for a free slot in the command queue of depth `lookahead`.
  const Time slot = p.commits >= cfg_.lookahead ? p.window[p.commits % cfg_.lookahead] : 0;
  const Time t = std::max({not_before, slot, p.queue.front().arrival, p.last_decision});
  p.scheduled = true;
  decisions_.push(Entry{t, pc});
}

Time HbmDevice::next_event_time() const {
  Time t = kNever;
  if (!decisions_.empty()) t = decisions_.top().time;
  if (!completions_.empty()) t = std::min(t, completions_.top().time);
  return t;
}

void HbmDevice::advance_until(Time t, std::vector<Completion>& out) {
  require(t >= now_, "t: must be >= the device time (" + std::to_string(now_) + " ps)");
  while (!decisions_.empty() && decisions_.top().time <= t) {
    const Entry e = decisions_.top();
    decisions_.pop();
    decide(e.index, e.time);
  }
  while (!completions_.empty() && completions_.top().time <= t) {
    const Entry e = completions_.top();
    completions_.pop();
    const Request& r = requests_[e.index];
    out.push_back(Completion{r.id, r.submit, r.done, r.bytes, r.is_write});
    free_requests_.push_back(e.index);
    --in_flight_;
  }
  now_ = t;
}

void HbmDevice::decide(std::uint32_t pc, Time t) {
  Pc& p = pcs_[pc];
  p.scheduled = false;
  p.last_decision = t;
  if (cfg_.refresh && p.ref_due <= t) {
    refresh(pc, p.ref_due);
    p.ref_due += cfg_.t.tREFI;
    if (p.ref_due <= t) {
      // The PC sat idle through more refresh intervals: with every bank now closed, each of those
      // refreshes goes exactly at its due time (tREFI > tRFC), so they are booked in one step
      // (the trace shows the last of them) and a long idle gap costs no time to simulate.
      const std::uint64_t n = (t - p.ref_due) / cfg_.t.tREFI + 1;
      const Time last = p.ref_due + (n - 1) * cfg_.t.tREFI;
      record(last, pc, CommandType::kRefresh, 0, 0, 0);
      counters_[pc].refreshes += n;
      for (Bank& k : p.banks) k.act_ok = last + cfg_.t.tRFC;
      p.ref_due = last + cfg_.t.tREFI;
    }
  }
  // FR-FCFS over the oldest `queue_depth` accesses that have arrived: the oldest row hit in the
  // bus's current direction (a read/write turnaround costs tWTR or tRTW), else the oldest row hit;
  // else the oldest access whose banks can be opened by the time the PC may activate at all; else
  // the one whose banks free up first. ACTs are committed in order, so picking an access whose
  // bank is still busy (tRC, tRAS, tWR) would hold back every later ACT of the PC.
  std::size_t pick = 0;
  std::size_t first_hit = kNone;
  Time best = kNever;
  const Time act_floor = std::max(t, p.act_ok);
  const std::size_t scan = std::min<std::size_t>(p.queue.size(), cfg_.queue_depth);
  for (std::size_t i = 0; i < scan; ++i) {
    const Access& a = p.queue[i];
    if (a.arrival > t) break;
    const Time ready = open_time(p, a);
    if (ready == 0) {  // row hit
      if (a.is_write == p.writing) {
        first_hit = i;
        break;
      }
      if (first_hit == kNone) first_hit = i;
    } else if (first_hit == kNone && std::max(ready, act_floor) < best) {
      best = std::max(ready, act_floor);
      pick = i;
    }
  }
  if (first_hit != kNone) pick = first_hit;
  const Access a = p.queue[pick];
  p.queue.remove(pick);
  issue(pc, a, t);
  if (!p.queue.empty()) schedule(pc, t);
}

void HbmDevice::refresh(std::uint32_t pc, Time due) {
  Pc& p = pcs_[pc];
  const HbmTiming& tm = cfg_.t;
  Time ref = due;
  for (std::uint32_t b = 0; b < cfg_.banks(); ++b) {
    Bank& k = p.banks[b];
    if (k.open_row != kNoRow) {
      const Time pre = std::max(due, k.pre_ok);
      record(pre, pc, CommandType::kPre, b / cfg_.banks_per_group, b % cfg_.banks_per_group, 0);
      ++counters_[pc].precharges;
      k.open_row = kNoRow;
      k.act_ok = std::max(k.act_ok, pre + tm.tRP);
    }
    ref = std::max(ref, k.act_ok);  // all banks precharged for tRP, and tRC since their last ACT
  }
  record(ref, pc, CommandType::kRefresh, 0, 0, 0);
  ++counters_[pc].refreshes;
  for (Bank& k : p.banks) k.act_ok = ref + tm.tRFC;
}

void HbmDevice::issue(std::uint32_t pc, const Access& a, Time t) {
  Pc& p = pcs_[pc];
  PcCounters& c = counters_[pc];
  const HbmTiming& tm = cfg_.t;
  const std::uint32_t spread = cfg_.bg_spread;
  const std::uint32_t touched = a.touched;
  bool hit = true;
  // Open the row in every bank the access touches (PRE if another row is open, then ACT).
  for (std::uint32_t k = 0; k < touched; ++k) {
    const std::uint32_t bg = a.bg_base + (a.first + k) % spread;
    Bank& bank = p.banks[bg * cfg_.banks_per_group + a.bank];
    if (bank.open_row == a.row) continue;
    hit = false;
    if (bank.open_row != kNoRow) {
      const Time pre = std::max(t, bank.pre_ok);
      record(pre, pc, CommandType::kPre, bg, a.bank, 0);
      ++c.precharges;
      bank.act_ok = std::max(bank.act_ok, pre + tm.tRP);
    }
    Time act = std::max({t, bank.act_ok, p.act_ok, p.act_ok_bg[bg]});
    if (p.acts >= 4) act = std::max(act, p.faw[p.acts % 4] + tm.tFAW);
    record(act, pc, CommandType::kAct, bg, a.bank, a.row);
    ++c.activates;
    p.faw[p.acts % 4] = act;
    ++p.acts;
    p.act_ok = act + tm.tRRD_S;
    p.act_ok_bg[bg] = act + tm.tRRD_L;
    bank.open_row = a.row;
    bank.act_ok = act + tm.tRC;
    bank.pre_ok = act + tm.tRAS;
    bank.rd_ok = act + tm.tRCDRD;
    bank.wr_ok = act + tm.tRCDWR;
  }
  // One column command per burst, bank groups in turn.
  Time first_col = 0;
  Time last_col = 0;
  const Time lat = a.is_write ? tm.tCWL : tm.tCL;
  // State after a column command of burst k at `col` (constraints on later commands).
  const auto apply = [&](std::uint32_t k, Time col) {
    const std::uint32_t bg = a.bg_base + (a.first + k) % spread;
    Bank& bank = p.banks[bg * cfg_.banks_per_group + a.bank];
    const Time data_end = col + lat + burst_ps_;
    p.bus_free = data_end;
    p.col_ok = col + tm.tCCD_S;
    p.col_ok_bg[bg] = col + tm.tCCD_L;
    if (a.is_write) {
      p.rd_ok = std::max(p.rd_ok, data_end + tm.tWTR_S);
      p.rd_ok_bg[bg] = std::max(p.rd_ok_bg[bg], data_end + tm.tWTR_L);
      bank.pre_ok = std::max(bank.pre_ok, data_end + tm.tWR);
    } else {
      p.wr_ok = std::max(p.wr_ok, col + tm.tRTW);
      bank.pre_ok = std::max(bank.pre_ok, col + tm.tRTP);
    }
    last_col = col;
  };
  // Once every bank group of the access has had its first burst, the bursts' own bounds (tRCD,
  // turnaround, refresh) are behind them and only tCCD_S, the bus and tCCD_L remain. If
  // spread x max(tCCD_S, burst) >= tCCD_L the last two never bind, so the rest of the access is
  // one burst per max(tCCD_S, burst): computed in closed form. The trace needs every command, so
  // it takes the burst-by-burst path (tests compare both).
  const Time step = std::max(tm.tCCD_S, burst_ps_);
  const bool closed_form = !cfg_.trace && a.bursts > spread && Time{spread} * step >= tm.tCCD_L;
  const std::uint32_t explicit_bursts = closed_form ? spread : a.bursts;
  for (std::uint32_t k = 0; k < explicit_bursts; ++k) {
    const std::uint32_t bg = a.bg_base + (a.first + k) % spread;
    const Bank& bank = p.banks[bg * cfg_.banks_per_group + a.bank];
    Time col = std::max({t, p.col_ok, p.col_ok_bg[bg], a.is_write ? bank.wr_ok : bank.rd_ok});
    col = a.is_write ? std::max(col, p.wr_ok) : std::max({col, p.rd_ok, p.rd_ok_bg[bg]});
    if (p.bus_free > col + lat) col = p.bus_free - lat;  // the data bus carries one burst at a time
    record(col, pc, a.is_write ? CommandType::kWrite : CommandType::kRead, bg, a.bank, 0);
    if (k == 0) first_col = col;
    apply(k, col);
  }
  if (closed_form) {
    // The last `spread` bursts are the last of each bank group: only they leave state behind.
    const Time base = last_col;
    for (std::uint32_t k = std::max(spread, a.bursts - spread); k < a.bursts; ++k)
      apply(k, base + Time{k - (spread - 1)} * step);
  }
  const Time done = last_col + lat + burst_ps_;
  (a.is_write ? c.write_bursts : c.read_bursts) += a.bursts;
  c.busy_ps += Time{a.bursts} * burst_ps_;
  ++c.accesses;
  if (hit) ++c.row_hits;
  if (cfg_.close_page) {
    for (std::uint32_t k = 0; k < touched; ++k) {
      const std::uint32_t bg = a.bg_base + (a.first + k) % spread;
      Bank& bank = p.banks[bg * cfg_.banks_per_group + a.bank];
      record(bank.pre_ok, pc, CommandType::kPre, bg, a.bank, 0);
      ++c.precharges;
      bank.open_row = kNoRow;
      bank.act_ok = std::max(bank.act_ok, bank.pre_ok + tm.tRP);
    }
  }
  p.writing = a.is_write;
  p.window[p.commits % cfg_.lookahead] = first_col;
  ++p.commits;
  Request& r = requests_[a.request];
  r.done = std::max(r.done, done);
  if (--r.pending == 0) completions_.push(Entry{r.done, a.request});
}

void HbmDevice::record(Time time, std::uint32_t pc, CommandType type, std::uint32_t bg, std::uint32_t bank,
                       std::uint32_t row) {
  if (!cfg_.trace) return;
  trace_.push_back(
      Command{time, pc, row, static_cast<std::uint16_t>(bg), static_cast<std::uint16_t>(bank), type});
}

}  // namespace podsim::memory
