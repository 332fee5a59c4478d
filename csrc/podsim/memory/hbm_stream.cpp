#include "podsim/memory/hbm_stream.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace podsim::memory {

namespace {

constexpr double kTwo53 = 9007199254740992.0;

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

}  // namespace

PatternGenerator::PatternGenerator(const Pattern& p, std::uint64_t capacity, std::uint64_t seed)
    : p_(p), rng_(seed) {
  require(p.request_bytes >= 1, "request_bytes: must be >= 1");
  require(p.base < capacity, "base: must be below the device capacity of " + std::to_string(capacity) + " bytes");
  if (p_.footprint_bytes == 0) p_.footprint_bytes = capacity - p.base;
  require(p_.footprint_bytes <= capacity - p.base, "footprint_bytes: base + footprint must not exceed the capacity");
  require(p.write_fraction >= 0.0 && p.write_fraction <= 1.0, "write_fraction: must be in [0, 1]");
  const std::uint64_t span = p.kind == AddressPattern::kCopy ? p_.footprint_bytes / 2 : p_.footprint_bytes;
  const std::uint64_t step = p.kind == AddressPattern::kStrided ? p.stride_bytes : p.request_bytes;
  require(step >= 1, "stride_bytes: must be >= 1 for a strided pattern");
  require(span >= std::max(step, p.request_bytes),
          "footprint_bytes: must hold at least one request (two halves for copy) and one stride");
  // A request never straddles the end of the footprint: addresses are slot * step with
  // slot * step + request_bytes <= span.
  slots_ = (span - p.request_bytes) / step + 1;
  write_threshold_ = static_cast<std::uint64_t>(p.write_fraction * kTwo53);
}

void PatternGenerator::next(std::uint64_t& addr, bool& is_write) {
  switch (p_.kind) {
    case AddressPattern::kSequential:
      addr = p_.base + (i_++ % slots_) * p_.request_bytes;
      break;
    case AddressPattern::kStrided:
      addr = p_.base + (i_++ % slots_) * p_.stride_bytes;
      break;
    case AddressPattern::kRandom:
      addr = p_.base + (rng_.next() % slots_) * p_.request_bytes;
      break;
    case AddressPattern::kCopy: {
      const std::uint64_t k = i_++;
      is_write = (k & 1U) != 0;
      addr = p_.base + (is_write ? p_.footprint_bytes / 2 : 0) + ((k >> 1) % slots_) * p_.request_bytes;
      return;
    }
  }
  is_write = (rng_.next() >> 11) < write_threshold_;
}

void LatencyStats::add(Time latency) {
  ++count;
  min = std::min(min, latency);
  max = std::max(max, latency);
  sum += static_cast<long double>(latency);
  ++hist[std::min<std::size_t>(latency / 1000U, kBins - 1)];
}

HbmStream::HbmStream(const HbmConfig& cfg, const Pattern& pattern, std::uint32_t devices, std::uint32_t outstanding,
                     std::uint64_t max_requests, std::uint64_t seed)
    : max_requests_(max_requests) {
  require(devices >= 1 && devices <= 1'000'000, "devices: must be in [1, 1000000]");
  require(outstanding >= 1 && outstanding <= 1'000'000, "outstanding: must be in [1, 1000000]");
  require(max_requests >= 1, "requests: must be >= 1");
  devices_.reserve(devices);
  generators_.reserve(devices);
  for (std::uint32_t d = 0; d < devices; ++d) {
    devices_.emplace_back(cfg);
    generators_.emplace_back(pattern, cfg.capacity_bytes(), hash_combine(seed, d));
  }
  issued_.assign(devices, 0);
  for (std::uint32_t d = 0; d < devices; ++d)
    for (std::uint32_t k = 0; k < outstanding; ++k) issue(d, 0);
}

void HbmStream::issue(std::uint32_t d, Time now) {
  if (issued_[d] >= max_requests_) return;
  std::uint64_t addr = 0;
  bool is_write = false;
  generators_[d].next(addr, is_write);
  devices_[d].submit(addr, generators_[d].request_bytes(), is_write, issued_[d]++, now);
}

bool HbmStream::run_until(Time t) {
  require(t >= now_, "t: must be >= the stream time");
  bool all_done = true;
  for (std::uint32_t d = 0; d < devices_.size(); ++d) {
    HbmDevice& dev = devices_[d];
    for (Time next = dev.next_event_time(); next <= t; next = dev.next_event_time()) {
      dev.advance_until(next, buffer_);
      for (const Completion& c : buffer_) {
        ++completed_;
        (c.is_write ? write_bytes_ : read_bytes_) += c.bytes;
        last_completion_ = std::max(last_completion_, c.done);
        latency_.add(c.done - c.submit);
        // The closed loop: the freed slot is refilled at the completion time.
        issue(d, c.done);
      }
      buffer_.clear();
    }
    all_done = all_done && dev.in_flight() == 0 && issued_[d] >= max_requests_;
  }
  now_ = t;
  return all_done;
}

void replay(HbmDevice& device, std::span<const Time> arrival, std::span<const std::uint64_t> addr,
            std::span<const std::uint64_t> bytes, std::span<const std::uint8_t> is_write, std::span<Time> done) {
  const std::size_t n = arrival.size();
  require(addr.size() == n && bytes.size() == n && is_write.size() == n && done.size() == n,
          "requests: arrival, addr, bytes and is_write must have the same length");
  for (std::size_t k = 1; k < n; ++k) require(arrival[k] >= arrival[k - 1], "arrival: must be non-decreasing");
  std::vector<Completion> out;
  std::size_t next = 0;
  while (next < n || device.in_flight() > 0) {
    const Time t_dev = device.next_event_time();
    // Decisions and completions at the arrival time run before the arrival (a fixed tie rule).
    if (next < n && arrival[next] <= t_dev) {
      device.advance_until(arrival[next], out);
      device.submit(addr[next], bytes[next], is_write[next] != 0, next, arrival[next]);
      ++next;
    } else {
      device.advance_until(t_dev, out);
    }
    for (const Completion& c : out) done[c.id] = c.done;
    out.clear();
  }
}

}  // namespace podsim::memory
