// Drivers for HbmDevice: synthetic access patterns kept at a fixed number of outstanding
// requests per device (a closed loop, the way a streaming kernel or DMA engine keeps its queue
// full), over any number of devices advanced together in time; and open-loop replay of a request
// list.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "podsim/memory/hbm_device.h"
#include "podsim/sim/rng.h"
#include "podsim/sim/time.h"

namespace podsim::memory {

enum class AddressPattern : std::uint8_t {
  kSequential = 0,  // request i at base + i * request_bytes
  kStrided = 1,     // request i at base + i * stride_bytes
  kRandom = 2,      // uniform over the footprint, aligned to request_bytes
  kCopy = 3,        // read source[i], then write destination[i]; the footprint is split in halves
};

struct Pattern {
  AddressPattern kind = AddressPattern::kSequential;
  std::uint64_t request_bytes = 4096;
  std::uint64_t stride_bytes = 0;     // kStrided only
  std::uint64_t base = 0;             // first byte of the footprint
  std::uint64_t footprint_bytes = 0;  // addresses wrap inside [base, base + footprint)
  double write_fraction = 0.0;        // probability that a request is a write (not kCopy)
};

// Generates the request stream of one device. Deterministic for a given seed.
class PatternGenerator {
 public:
  PatternGenerator(const Pattern& p, std::uint64_t capacity, std::uint64_t seed);
  void next(std::uint64_t& addr, bool& is_write);
  std::uint64_t request_bytes() const { return p_.request_bytes; }

 private:
  Pattern p_;
  Xoshiro256 rng_;
  std::uint64_t slots_;      // request-sized slots in the footprint (or in one half, for kCopy)
  std::uint64_t i_ = 0;
  std::uint64_t write_threshold_;  // is_write when rng < threshold (53-bit scale)
};

// Latency statistics with 1 ns histogram bins (the last bin collects everything above).
struct LatencyStats {
  static constexpr std::size_t kBins = 1 << 16;
  std::uint64_t count = 0;
  Time min = kNever;
  Time max = 0;
  long double sum = 0;  // of picoseconds; only for the mean
  std::vector<std::uint64_t> hist = std::vector<std::uint64_t>(kBins, 0);
  void add(Time latency);
};

// `devices` identical devices, each with its own generator seeded from (seed, device index),
// each keeping `outstanding` requests in flight until it has issued `max_requests` (or forever).
class HbmStream {
 public:
  HbmStream(const HbmConfig& cfg, const Pattern& pattern, std::uint32_t devices, std::uint32_t outstanding,
            std::uint64_t max_requests, std::uint64_t seed);
  // Advances every device to `t` (inclusive). Returns true when all devices have completed
  // `max_requests` requests.
  bool run_until(Time t);

  Time now() const { return now_; }
  std::uint32_t devices() const { return static_cast<std::uint32_t>(devices_.size()); }
  const HbmDevice& device(std::uint32_t i) const { return devices_[i]; }
  std::uint64_t completed() const { return completed_; }
  std::uint64_t read_bytes() const { return read_bytes_; }
  std::uint64_t write_bytes() const { return write_bytes_; }
  Time last_completion() const { return last_completion_; }
  const LatencyStats& latency() const { return latency_; }

 private:
  void issue(std::uint32_t d, Time now);

  std::vector<HbmDevice> devices_;
  std::vector<PatternGenerator> generators_;
  std::vector<std::uint64_t> issued_;
  std::uint64_t max_requests_;
  std::vector<Completion> buffer_;
  LatencyStats latency_;
  std::uint64_t completed_ = 0;
  std::uint64_t read_bytes_ = 0;
  std::uint64_t write_bytes_ = 0;
  Time last_completion_ = 0;
  Time now_ = 0;
};

// Open loop: request k arrives at arrival[k] (non-decreasing). Fills done[k] with its completion
// time and runs until all are complete.
void replay(HbmDevice& device, std::span<const Time> arrival, std::span<const std::uint64_t> addr,
            std::span<const std::uint64_t> bytes, std::span<const std::uint8_t> is_write, std::span<Time> done);

}  // namespace podsim::memory
