// Configuration of one HBM device (the memory of one die or GPU): organisation, DRAM timing in
// integer picoseconds, address mapping and controller policy. The Python layer converts the
// sourced presets (python/podsim/specs/hbm/*.toml) from clock cycles to picoseconds; the engine
// never sees a clock or a floating-point time.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "podsim/sim/time.h"

namespace podsim::memory {

// Every constraint is the minimum distance in ps between two commands (JEDEC naming).
struct HbmTiming {
  Time tCL = 0;     // RD command -> first read data beat
  Time tCWL = 0;    // WR command -> first write data beat
  Time tRCDRD = 0;  // ACT -> RD, same bank
  Time tRCDWR = 0;  // ACT -> WR, same bank
  Time tRP = 0;     // PRE -> ACT, same bank
  Time tRAS = 0;    // ACT -> PRE, same bank
  Time tRC = 0;     // ACT -> ACT, same bank
  Time tWR = 0;     // end of write data -> PRE, same bank (write recovery)
  Time tRTP = 0;    // RD -> PRE, same bank
  Time tCCD_S = 0;  // column -> column, different bank group
  Time tCCD_L = 0;  // column -> column, same bank group
  Time tRRD_S = 0;  // ACT -> ACT, different bank group
  Time tRRD_L = 0;  // ACT -> ACT, same bank group
  Time tFAW = 0;    // window holding at most four ACTs per pseudo-channel
  Time tWTR_S = 0;  // end of write data -> RD, different bank group
  Time tWTR_L = 0;  // end of write data -> RD, same bank group
  Time tRTW = 0;    // RD -> WR, any bank of the pseudo-channel
  Time tRFC = 0;    // all-bank REF -> next ACT
  Time tREFI = 0;   // interval between all-bank refreshes of one pseudo-channel
};

// Fields of the address map above the interleave chunk, low to high (mixed radix).
enum class MapField : std::uint8_t { kPc = 0, kBankGroup = 1, kBank = 2, kColumn = 3, kRow = 4 };
inline constexpr std::size_t kMapFields = 5;

// A default-constructed HbmConfig is not a device: its timings are zero, which validate() refuses.
// A host loads a sourced preset (hbm_config_io.h, written by `podsim export`) or sets every
// timing itself; no datasheet figure lives in this header.
struct HbmConfig {
  HbmTiming t;
  // Organisation. A pseudo-channel (PC) is the unit with its own data bus and command timing.
  std::uint32_t stacks = 4;
  std::uint32_t pcs_per_stack = 16;
  std::uint32_t pc_width_bits = 64;    // data pins per PC
  std::uint64_t rate_kbps = 3'200'000;  // per-pin data rate, kbit/s (exact integer)
  std::uint32_t burst_bytes = 32;      // bytes moved by one column command
  std::uint32_t bank_groups = 4;       // per PC (HBM3 stack IDs are folded in here)
  std::uint32_t banks_per_group = 4;
  std::uint32_t row_bytes = 1024;      // row buffer (page) of one bank
  std::uint32_t rows = 65536;          // rows per bank
  // Address map: the bursts of an `interleave_bytes` chunk stay in one PC, one row and one bank
  // index, dealt round robin over `bg_spread` consecutive bank groups (so back-to-back column
  // commands alternate bank groups and tCCD_L does not throttle a stream); chunks are then spread
  // over the fields in `order`, lowest first.
  std::uint32_t interleave_bytes = 256;
  std::uint32_t bg_spread = 2;
  std::array<MapField, kMapFields> order = {MapField::kPc, MapField::kBankGroup, MapField::kBank, MapField::kColumn,
                                            MapField::kRow};
  // Controller policy.
  bool close_page = false;    // precharge a bank as soon as its access is done
  bool refresh = true;        // all-bank refresh every tREFI per PC
  std::uint32_t lookahead = 8;     // accesses per PC committed ahead of the data bus (command queue)
  std::uint32_t queue_depth = 32;  // oldest queued accesses per PC the FR-FCFS scheduler looks at
  bool trace = false;              // record every DRAM command (debug)

  std::uint32_t pcs() const { return stacks * pcs_per_stack; }
  std::uint32_t banks() const { return bank_groups * banks_per_group; }
  // Time one burst occupies the PC data bus: ceil(bits / (pins * rate)), rounded up so the model
  // can never beat the pins.
  Time burst_ps() const {
    const std::uint64_t bits = std::uint64_t{burst_bytes} * 8U;
    const std::uint64_t den = std::uint64_t{pc_width_bits} * rate_kbps;
    return (bits * 1'000'000'000ULL + den - 1) / den;
  }
  // Peak pin bandwidth of the device in bytes/s (read and write share the pins): pins x rate / 8.
  double peak_Bps() const {
    return static_cast<double>(pcs()) * pc_width_bits * static_cast<double>(rate_kbps) * 1e3 / 8.0;
  }
  std::uint64_t capacity_bytes() const { return std::uint64_t{pcs()} * banks() * rows * std::uint64_t{row_bytes}; }

  // Throws std::invalid_argument naming the field and its allowed range.
  void validate() const;
};

}  // namespace podsim::memory
