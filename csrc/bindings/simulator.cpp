#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>

#include "arrays.h"
#include "podsim/config_io.h"
#include "podsim/simulator.h"

namespace py = pybind11;
using namespace podsim;
using podsim_bindings::as_span;
using podsim_bindings::column;
using podsim_bindings::to_numpy;

template <typename T>
using Arr = py::array_t<T, py::array::c_style>;

namespace {

// Runs with the GIL released, in chunks of `chunk_events` events counted from the simulation's
// start. After each chunk it calls the progress callback and lets Python see signals, so Ctrl-C
// stops a long run (the KeyboardInterrupt propagates; the engine state stays consistent and can
// be read or resumed). The callback is called once more when the run is over (idle, or `until`
// reached), but not when it pauses for a completion: a host that stops at every completion would
// otherwise hear of progress once per message.
StopReason run_chunked(Simulator& s, Time until, std::uint64_t max_events, const py::object& progress,
                       std::uint64_t chunk_events) {
  std::uint64_t remaining = max_events;
  chunk_events = std::max<std::uint64_t>(chunk_events, 1);
  for (;;) {
    const std::uint64_t before = s.events();
    const std::uint64_t to_chunk_end = chunk_events - before % chunk_events;
    StopReason r;
    {
      py::gil_scoped_release nogil;
      r = s.run(until, std::min(to_chunk_end, remaining));
    }
    remaining -= s.events() - before;
    const bool chunk_done = s.events() - before == to_chunk_end;
    if (!progress.is_none() && (chunk_done || r == StopReason::kIdle || r == StopReason::kTime))
      progress(s.now(), s.events());
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (r != StopReason::kEvents || remaining == 0) return r;
  }
}

// A run's settings as Python reads them (enumerations by their code, as the constructor takes them).
py::dict config_dict(const SimConfig& c) {
  py::dict d;
  d["mtu_bytes"] = c.mtu_bytes;
  d["header_bytes"] = c.header_bytes;
  d["ack_bytes"] = c.ack_bytes;
  d["request_bytes"] = c.request_bytes;
  d["txn_bytes"] = c.txn_bytes;
  d["routing"] = static_cast<int>(c.routing);
  d["seed"] = c.seed;
  d["endpoint_window_packets"] = c.endpoint_window_packets;
  d["check"] = c.check;
  d["trace_limit"] = c.trace_limit;
  d["recovery"] = static_cast<int>(c.recovery);
  d["retransmit_timeout_ps"] = c.retransmit_timeout_ps;
  d["replay_ps"] = c.replay_ps;
  return d;
}

}  // namespace

void register_simulator(py::module_& m) {
  py::register_exception<InvariantViolation>(m, "InvariantViolation", PyExc_RuntimeError);
  py::register_exception<Deadlock>(m, "Deadlock", PyExc_RuntimeError);
  py::register_exception<CutOff>(m, "CutOff", PyExc_RuntimeError);

  m.def("load_sim_config", [](const std::string& path, bool with_memory) { return config_dict(load_sim_config(path, with_memory)); },
        py::arg("path"), py::arg("with_memory"));

  py::class_<Simulator>(m, "Simulator")
      .def(py::init([](const Topology& topo, std::uint32_t mtu, std::uint32_t header_bytes, std::uint32_t ack_bytes,
                       std::uint32_t request_bytes, int routing, std::uint64_t seed, std::uint32_t window,
                       bool check, std::uint64_t trace_limit, std::uint64_t txn_bytes, int recovery,
                       Time retransmit_timeout_ps, Time replay_ps) {
             SimConfig cfg;
             cfg.mtu_bytes = mtu;
             cfg.header_bytes = header_bytes;
             cfg.ack_bytes = ack_bytes;
             cfg.request_bytes = request_bytes;
             if (routing < 0 || routing > 2) throw std::invalid_argument("routing: must be 0, 1 or 2");
             cfg.routing = static_cast<RoutingPolicy>(routing);
             cfg.seed = seed;
             cfg.endpoint_window_packets = window;
             cfg.check = check;
             cfg.trace_limit = trace_limit;
             cfg.txn_bytes = txn_bytes;
             if (recovery < 0 || recovery > 1) throw std::invalid_argument("recovery: must be 0 or 1");
             cfg.recovery = static_cast<LossRecovery>(recovery);
             cfg.retransmit_timeout_ps = retransmit_timeout_ps;
             cfg.replay_ps = replay_ps;
             return new Simulator(topo, cfg);
           }),
           py::arg("topology"), py::arg("mtu"), py::arg("header_bytes"), py::arg("ack_bytes"),
           py::arg("request_bytes"), py::arg("routing"), py::arg("seed"), py::arg("endpoint_window_packets"),
           py::arg("check"), py::arg("trace_limit"), py::arg("txn_bytes"), py::arg("recovery") = 0,
           py::arg("retransmit_timeout_ps") = SimConfig{}.retransmit_timeout_ps, py::arg("replay_ps") = 0)
      .def_property_readonly("config", [](const Simulator& s) { return config_dict(s.config()); })
      .def("save_config",
           [](const Simulator& s, const std::string& path, std::uint64_t memory_txn_bytes) {
             save_sim_config(s.config(), memory_txn_bytes, path);
           },
           py::arg("path"), py::arg("memory_txn_bytes"))
      .def("add_message",
           [](Simulator& s, NodeId src, NodeId dst, std::uint64_t size, int kind, Time delay_ps, std::uint64_t tag,
              const std::vector<std::uint32_t>& deps) {
             if (kind < 0 || kind > 1) throw std::invalid_argument("kind: must be 0 (write) or 1 (read)");
             return s.add_message(src, dst, size, static_cast<MessageKind>(kind), delay_ps, tag, deps);
           },
           py::arg("src"), py::arg("dst"), py::arg("size"), py::arg("kind"), py::arg("delay_ps"), py::arg("tag"),
           py::arg("deps"))
      .def("add_messages",
           [](Simulator& s, const Arr<std::uint32_t>& src, const Arr<std::uint32_t>& dst,
              const Arr<std::uint64_t>& size, const Arr<std::uint8_t>& kind, const Arr<std::uint64_t>& delay,
              const Arr<std::uint64_t>& tag, const Arr<std::uint32_t>& dep_before,
              const Arr<std::uint32_t>& dep_after) {
             const auto k = as_span(kind);
             for (const std::uint8_t v : k)
               if (v > 1) throw std::invalid_argument("kind: must be 0 (write) or 1 (read)");
             const std::span<const MessageKind> kinds(reinterpret_cast<const MessageKind*>(k.data()), k.size());
             return s.add_messages(as_span(src), as_span(dst), as_span(size), kinds, as_span(delay), as_span(tag),
                                   as_span(dep_before), as_span(dep_after));
           },
           py::arg("src"), py::arg("dst"), py::arg("size"), py::arg("kind"), py::arg("delay_ps"), py::arg("tag"),
           py::arg("dep_before"), py::arg("dep_after"))
      .def("run",
           [](Simulator& s, Time until, std::uint64_t max_events, const py::object& progress,
              std::uint64_t chunk_events) {
             return static_cast<int>(run_chunked(s, until, max_events, progress, chunk_events));
           },
           py::arg("until"), py::arg("max_events"), py::arg("progress") = py::none(),
           py::arg("chunk_events") = 1u << 20)
      .def("advance_until", &Simulator::advance_until, py::arg("t"), py::call_guard<py::gil_scoped_release>())
      .def("attach_memory", &Simulator::attach_memory, py::arg("endpoint"), py::arg("config"))
      .def("throw_if_stalled", &Simulator::throw_if_stalled)
      .def("schedule_fault", &Simulator::schedule_fault, py::arg("channel"), py::arg("at_ps"), py::arg("up"))
      .def("channel_up", [](const Simulator& s, ChannelId c) {
             if (c >= s.topology().num_channels())
               throw std::invalid_argument("channel: must be in [0, " + std::to_string(s.topology().num_channels() - 1) +
                                           "], got " + std::to_string(c));
             return s.channel_up(c);
           }, py::arg("channel"))
      .def_property_readonly("packets_awaiting_retransmit", &Simulator::packets_awaiting_retransmit)
      .def_property_readonly("packets_stranded", &Simulator::packets_stranded)
      .def("check_invariants", &Simulator::check_invariants)
      .def("settle_credits", &Simulator::settle_credits)
      .def("set_stop_on_completion", &Simulator::set_stop_on_completion, py::arg("on"))
      .def("take_completed", [](Simulator& s) { return to_numpy(s.take_completed()); })
      .def_property_readonly("now", &Simulator::now)
      .def_property_readonly("next_event_time", &Simulator::next_event_time)
      .def_property_readonly("idle", &Simulator::idle)
      .def_property_readonly("events", &Simulator::events)
      .def_property_readonly("packet_hops", &Simulator::packet_hops)
      .def_property_readonly("packets_in_flight", &Simulator::packets_in_flight)
      .def_property_readonly("messages_incomplete", &Simulator::messages_incomplete)
      .def_property_readonly("peak_pending_events", &Simulator::peak_pending_events)
      .def_property_readonly("peak_packets_in_flight", &Simulator::peak_packets_in_flight)
      .def_property_readonly("num_messages", [](const Simulator& s) { return s.messages().src.size(); })
      .def("message_columns",
           [](const Simulator& s) {
             const MessageColumns& mc = s.messages();
             std::vector<std::uint8_t> kind(mc.kind.size());
             std::transform(mc.kind.begin(), mc.kind.end(), kind.begin(),
                            [](MessageKind k) { return static_cast<std::uint8_t>(k); });
             py::dict d;
             d["src"] = to_numpy(mc.src);
             d["dst"] = to_numpy(mc.dst);
             d["size"] = to_numpy(mc.size);
             d["kind"] = to_numpy(kind);
             d["delay_ps"] = to_numpy(mc.delay_ps);
             d["tag"] = to_numpy(mc.tag);
             d["start_ps"] = to_numpy(mc.start_ps);
             d["first_byte_ps"] = to_numpy(mc.first_byte_ps);
             d["delivered_ps"] = to_numpy(mc.delivered_ps);
             d["end_ps"] = to_numpy(mc.end_ps);
             return d;
           })
      .def("channel_columns",
           [](const Simulator& s) {
             const ChannelCounters cc = s.channel_counters();
             py::dict d;
             d["wire_bytes"] = to_numpy(cc.wire_bytes);
             d["payload_bytes"] = to_numpy(cc.payload_bytes);
             d["packets"] = to_numpy(cc.packets);
             d["busy_ps"] = to_numpy(s.busy_ps_until_now());
             return d;
           })
      .def("credit_columns",
           [](Simulator& s) {
             s.settle_credits();
             const auto cs = s.credit_states();
             py::dict d;
             d["buffer"] = column(cs, &CreditState::buffer);
             d["credits"] = column(cs, &CreditState::credits);
             d["on_wire"] = column(cs, &CreditState::on_wire);
             d["buffered"] = column(cs, &CreditState::buffered);
             d["returning"] = column(cs, &CreditState::returning);
             return d;
           })
      .def("ledger_columns",
           [](const Simulator& s) {
             const Ledger& l = s.ledger();
             py::dict d;
             d["injected_bytes"] = to_numpy(l.injected_bytes);
             d["delivered_bytes"] = to_numpy(l.delivered_bytes);
             d["injected_packets"] = to_numpy(l.injected_packets);
             d["delivered_packets"] = to_numpy(l.delivered_packets);
             d["received_bytes"] = to_numpy(l.received_bytes);
             d["hbm_read_bytes"] = to_numpy(l.hbm_read_bytes);
             d["hbm_write_bytes"] = to_numpy(l.hbm_write_bytes);
             d["lost_packets"] = to_numpy(l.lost_packets);
             d["lost_bytes"] = to_numpy(l.lost_bytes);
             d["retransmitted_packets"] = to_numpy(l.retransmitted_packets);
             d["retransmitted_bytes"] = to_numpy(l.retransmitted_bytes);
             d["replayed_packets"] = to_numpy(l.replayed_packets);
             d["replayed_bytes"] = to_numpy(l.replayed_bytes);
             return d;
           })
      .def("trace_columns",
           [](const Simulator& s) {
             const Trace& tr = s.trace();
             py::dict d;
             d["start_ps"] = column(tr.records, &TransmissionRecord::start_ps);
             d["end_ps"] = column(tr.records, &TransmissionRecord::end_ps);
             d["channel"] = column(tr.records, &TransmissionRecord::channel);
             d["msg"] = column(tr.records, &TransmissionRecord::msg);
             d["wire_bytes"] = column(tr.records, &TransmissionRecord::wire_bytes);
             d["payload_bytes"] = column(tr.records, &TransmissionRecord::payload_bytes);
             d["dropped"] = tr.dropped;
             return d;
           })
      .def("packet_latency_histogram", [](const Simulator& s) { return to_numpy(s.packet_latency_histogram()); })
      .def("hops", [](const Simulator& s, NodeId node, std::uint32_t dst_ep) {
             s.topology().check_node(node, "node");
             if (dst_ep >= s.topology().num_endpoints()) throw std::invalid_argument("dst_ep: out of range");
             return s.routing().hops(node, dst_ep);
           }, py::arg("node"), py::arg("dst_ep"))
      .def("candidates", [](const Simulator& s, NodeId node, std::uint32_t dst_ep) {
             s.topology().check_node(node, "node");
             if (dst_ep >= s.topology().num_endpoints()) throw std::invalid_argument("dst_ep: out of range");
             std::vector<std::uint32_t> out;
             for (const auto k : s.routing().candidates(node, dst_ep)) out.push_back(s.topology().out_channels(node)[k]);
             return out;
           }, py::arg("node"), py::arg("dst_ep"));
}
