// Bindings of the HBM model (podsim::memory). Argument checking for users lives in
// python/podsim/hbm; the C++ checks raise ValueError as a second line of defence.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "arrays.h"
#include "podsim/memory/hbm_config_io.h"
#include "podsim/memory/hbm_device.h"
#include "podsim/memory/hbm_stream.h"

namespace py = pybind11;
using namespace podsim;
using namespace podsim::memory;
using podsim_bindings::as_span;
using podsim_bindings::column;
using podsim_bindings::to_numpy;

template <typename T>
using Arr = py::array_t<T, py::array::c_style>;

namespace {

py::dict completions_dict(const std::vector<Completion>& cs) {
  py::dict d;
  d["id"] = column(cs, &Completion::id);
  d["submit_ps"] = column(cs, &Completion::submit);
  d["done_ps"] = column(cs, &Completion::done);
  d["bytes"] = column(cs, &Completion::bytes);
  d["is_write"] = column(cs, &Completion::is_write);
  return d;
}

// Per-PC counters of several devices as (devices, pcs) arrays.
py::dict counters_dict(const std::vector<const HbmDevice*>& devs) {
  const auto nd = static_cast<py::ssize_t>(devs.size());
  const auto np = static_cast<py::ssize_t>(devs.front()->counters().size());
  const char* names[] = {"read_bursts", "write_bursts", "accesses", "row_hits",
                         "activates",   "precharges",   "refreshes", "busy_ps"};
  std::vector<Arr<std::uint64_t>> arrs;
  for (std::size_t k = 0; k < 8; ++k) arrs.emplace_back(std::vector<py::ssize_t>{nd, np});
  for (py::ssize_t d = 0; d < nd; ++d) {
    const auto& cs = devs[static_cast<std::size_t>(d)]->counters();
    for (py::ssize_t p = 0; p < np; ++p) {
      const PcCounters& c = cs[static_cast<std::size_t>(p)];
      const std::uint64_t v[] = {c.read_bursts, c.write_bursts, c.accesses,   c.row_hits,
                                 c.activates,   c.precharges,   c.refreshes, c.busy_ps};
      for (std::size_t k = 0; k < 8; ++k) arrs[k].mutable_data()[d * np + p] = v[k];
    }
  }
  py::dict out;
  for (std::size_t k = 0; k < 8; ++k) out[names[k]] = arrs[k];
  return out;
}

py::dict trace_dict(const std::vector<Command>& tr) {
  const auto n = static_cast<py::ssize_t>(tr.size());
  Arr<Time> time(n);
  Arr<std::uint32_t> pc(n), row(n);
  Arr<std::uint16_t> bg(n), bank(n);
  Arr<std::uint8_t> type(n);
  for (py::ssize_t i = 0; i < n; ++i) {
    const Command& c = tr[static_cast<std::size_t>(i)];
    time.mutable_data()[i] = c.time;
    pc.mutable_data()[i] = c.pc;
    row.mutable_data()[i] = c.row;
    bg.mutable_data()[i] = c.bank_group;
    bank.mutable_data()[i] = c.bank;
    type.mutable_data()[i] = static_cast<std::uint8_t>(c.type);
  }
  py::dict d;
  d["time_ps"] = time;
  d["pc"] = pc;
  d["bank_group"] = bg;
  d["bank"] = bank;
  d["row"] = row;
  d["command"] = type;
  return d;
}

}  // namespace

void register_memory(py::module_& m) {
  py::class_<HbmTiming>(m, "HbmTiming")
      .def(py::init<>())
      .def_readwrite("tCL", &HbmTiming::tCL)
      .def_readwrite("tCWL", &HbmTiming::tCWL)
      .def_readwrite("tRCDRD", &HbmTiming::tRCDRD)
      .def_readwrite("tRCDWR", &HbmTiming::tRCDWR)
      .def_readwrite("tRP", &HbmTiming::tRP)
      .def_readwrite("tRAS", &HbmTiming::tRAS)
      .def_readwrite("tRC", &HbmTiming::tRC)
      .def_readwrite("tWR", &HbmTiming::tWR)
      .def_readwrite("tRTP", &HbmTiming::tRTP)
      .def_readwrite("tCCD_S", &HbmTiming::tCCD_S)
      .def_readwrite("tCCD_L", &HbmTiming::tCCD_L)
      .def_readwrite("tRRD_S", &HbmTiming::tRRD_S)
      .def_readwrite("tRRD_L", &HbmTiming::tRRD_L)
      .def_readwrite("tFAW", &HbmTiming::tFAW)
      .def_readwrite("tWTR_S", &HbmTiming::tWTR_S)
      .def_readwrite("tWTR_L", &HbmTiming::tWTR_L)
      .def_readwrite("tRTW", &HbmTiming::tRTW)
      .def_readwrite("tRFC", &HbmTiming::tRFC)
      .def_readwrite("tREFI", &HbmTiming::tREFI);

  py::class_<HbmConfig>(m, "HbmConfig")
      .def(py::init<>())
      .def_readwrite("timing", &HbmConfig::t)
      .def_readwrite("stacks", &HbmConfig::stacks)
      .def_readwrite("pcs_per_stack", &HbmConfig::pcs_per_stack)
      .def_readwrite("pc_width_bits", &HbmConfig::pc_width_bits)
      .def_readwrite("rate_kbps", &HbmConfig::rate_kbps)
      .def_readwrite("burst_bytes", &HbmConfig::burst_bytes)
      .def_readwrite("bank_groups", &HbmConfig::bank_groups)
      .def_readwrite("banks_per_group", &HbmConfig::banks_per_group)
      .def_readwrite("row_bytes", &HbmConfig::row_bytes)
      .def_readwrite("rows", &HbmConfig::rows)
      .def_readwrite("interleave_bytes", &HbmConfig::interleave_bytes)
      .def_readwrite("bg_spread", &HbmConfig::bg_spread)
      .def_property(
          "order",
          [](const HbmConfig& c) {
            std::vector<int> o;
            for (MapField f : c.order) o.push_back(static_cast<int>(f));
            return o;
          },
          [](HbmConfig& c, const std::vector<int>& o) {
            if (o.size() != kMapFields) throw std::invalid_argument("order: must name all five fields");
            for (std::size_t i = 0; i < kMapFields; ++i) {
              if (o[i] < 0 || o[i] >= static_cast<int>(kMapFields))
                throw std::invalid_argument("order: field codes must be in [0, 4]");
              c.order[i] = static_cast<MapField>(o[i]);
            }
          })
      .def_readwrite("close_page", &HbmConfig::close_page)
      .def_readwrite("refresh", &HbmConfig::refresh)
      .def_readwrite("lookahead", &HbmConfig::lookahead)
      .def_readwrite("queue_depth", &HbmConfig::queue_depth)
      .def_readwrite("trace", &HbmConfig::trace)
      .def("validate", &HbmConfig::validate)
      .def_property_readonly("burst_ps", &HbmConfig::burst_ps)
      .def_property_readonly("peak_Bps", &HbmConfig::peak_Bps)
      .def_property_readonly("capacity_bytes", &HbmConfig::capacity_bytes)
      .def("save", [](const HbmConfig& c, const std::string& path) { save_hbm_config(c, path); }, py::arg("path"))
      .def_static("load", [](const std::string& path) { return load_hbm_config(path); }, py::arg("path"));

  py::class_<HbmDevice>(m, "HbmDevice")
      .def(py::init<const HbmConfig&>(), py::arg("config"))
      .def("submit", &HbmDevice::submit, py::arg("addr"), py::arg("bytes"), py::arg("is_write"), py::arg("id"),
           py::arg("now"))
      .def("next_event_time", &HbmDevice::next_event_time)
      .def("advance_until",
           [](HbmDevice& d, Time t) {
             std::vector<Completion> out;
             {
               py::gil_scoped_release nogil;
               d.advance_until(t, out);
             }
             return completions_dict(out);
           },
           py::arg("t"))
      .def("replay",
           [](HbmDevice& d, const Arr<Time>& arrival, const Arr<std::uint64_t>& addr, const Arr<std::uint64_t>& bytes,
              const Arr<std::uint8_t>& is_write) {
             Arr<Time> done(arrival.size());
             const auto a = as_span(arrival);
             const auto ad = as_span(addr);
             const auto b = as_span(bytes);
             const auto w = as_span(is_write);
             std::span<Time> out(done.mutable_data(), static_cast<std::size_t>(done.size()));
             {
               py::gil_scoped_release nogil;
               replay(d, a, ad, b, w, out);
             }
             return done;
           },
           py::arg("arrival_ps"), py::arg("addr"), py::arg("bytes"), py::arg("is_write"))
      .def_property_readonly("now", &HbmDevice::now)
      .def_property_readonly("in_flight", &HbmDevice::in_flight)
      .def("counters", [](const HbmDevice& d) { return counters_dict({&d}); })
      .def("trace", [](const HbmDevice& d) { return trace_dict(d.trace()); });

  py::class_<HbmStream>(m, "HbmStream")
      .def(py::init([](const HbmConfig& cfg, int kind, std::uint64_t request_bytes, std::uint64_t stride_bytes,
                       std::uint64_t base, std::uint64_t footprint_bytes, double write_fraction, std::uint32_t devices,
                       std::uint32_t outstanding, std::uint64_t max_requests, std::uint64_t seed) {
             if (kind < 0 || kind > 3) throw std::invalid_argument("kind: must be in [0, 3]");
             Pattern p;
             p.kind = static_cast<AddressPattern>(kind);
             p.request_bytes = request_bytes;
             p.stride_bytes = stride_bytes;
             p.base = base;
             p.footprint_bytes = footprint_bytes;
             p.write_fraction = write_fraction;
             return new HbmStream(cfg, p, devices, outstanding, max_requests, seed);
           }),
           py::arg("config"), py::arg("kind"), py::arg("request_bytes"), py::arg("stride_bytes"), py::arg("base"),
           py::arg("footprint_bytes"), py::arg("write_fraction"), py::arg("devices"), py::arg("outstanding"),
           py::arg("max_requests"), py::arg("seed"))
      .def("run_until",
           [](HbmStream& s, Time t) {
             py::gil_scoped_release nogil;
             return s.run_until(t);
           },
           py::arg("t"))
      .def_property_readonly("now", &HbmStream::now)
      .def_property_readonly("completed", &HbmStream::completed)
      .def_property_readonly("read_bytes", &HbmStream::read_bytes)
      .def_property_readonly("write_bytes", &HbmStream::write_bytes)
      .def_property_readonly("last_completion", &HbmStream::last_completion)
      .def("latency",
           [](const HbmStream& s) {
             const LatencyStats& l = s.latency();
             py::dict d;
             d["count"] = l.count;
             d["min_ps"] = l.count ? l.min : 0;
             d["max_ps"] = l.max;
             d["sum_ps"] = static_cast<double>(l.sum);
             d["hist_ns"] = to_numpy(l.hist);
             return d;
           })
      .def("counters",
           [](const HbmStream& s) {
             std::vector<const HbmDevice*> devs;
             for (std::uint32_t i = 0; i < s.devices(); ++i) devs.push_back(&s.device(i));
             return counters_dict(devs);
           })
      .def("trace", [](const HbmStream& s) { return trace_dict(s.device(0).trace()); });
}
