#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "arrays.h"
#include "podsim/fabric/topology.h"
#include "podsim/fabric/topology_io.h"

namespace py = pybind11;
using podsim::Topology;
using podsim_bindings::to_numpy;

void register_topology(py::module_& m) {
  py::class_<Topology>(m, "Topology")
      .def(py::init<>())
      .def("add_endpoint",
           [](Topology& t, const std::string& name, std::uint64_t buffer_bytes, podsim::Time latency_ps,
              std::uint32_t max_ports, podsim::Time issue_ps, podsim::Time read_fetch_ps, podsim::Time write_commit_ps,
              std::uint32_t max_reads, std::uint32_t max_writes, double read_rate_Bps, double write_rate_Bps,
              double write_issue_rate_Bps) {
             for (const double r : {read_rate_Bps, write_rate_Bps, write_issue_rate_Bps})
               if (!(r >= 0 && r <= 1e15))
                 throw std::invalid_argument("read_rate_Bps/write_rate_Bps/write_issue_rate_Bps: must be in [0, 1e15]");
             return t.add_endpoint(name, buffer_bytes, latency_ps, max_ports,
                                   podsim::EndpointParams{issue_ps, read_fetch_ps, write_commit_ps, max_reads, max_writes,
                                                          podsim::rate_from_Bps(read_rate_Bps),
                                                          podsim::rate_from_Bps(write_rate_Bps),
                                                          podsim::rate_from_Bps(write_issue_rate_Bps)});
           },
           py::arg("name"), py::arg("buffer_bytes"), py::arg("latency_ps") = 0, py::arg("max_ports") = 0,
           py::arg("issue_ps") = 0, py::arg("read_fetch_ps") = 0, py::arg("write_commit_ps") = 0,
           py::arg("max_reads") = 0, py::arg("max_writes") = 0, py::arg("read_rate_Bps") = 0.0,
           py::arg("write_rate_Bps") = 0.0, py::arg("write_issue_rate_Bps") = 0.0)
      .def("add_switch", &Topology::add_switch, py::arg("name"), py::arg("latency_ps"), py::arg("buffer_bytes"),
           py::arg("cut_through"), py::arg("max_ports") = 0)
      .def("connect", &Topology::connect, py::arg("a"), py::arg("b"), py::arg("rate_Bps"), py::arg("latency_ps"))
      .def("save", [](const Topology& t, const std::string& path) { podsim::save_topology(t, path); }, py::arg("path"))
      .def_static("load", [](const std::string& path) { return podsim::load_topology(path); }, py::arg("path"))
      .def_property_readonly("num_nodes", &Topology::num_nodes)
      .def_property_readonly("num_channels", &Topology::num_channels)
      .def_property_readonly("num_endpoints", &Topology::num_endpoints)
      .def_property_readonly("endpoints", [](const Topology& t) { return to_numpy(t.endpoints()); })
      .def_property_readonly("node_names",
                             [](const Topology& t) {
                               std::vector<std::string> names;
                               names.reserve(t.num_nodes());
                               for (podsim::NodeId n = 0; n < t.num_nodes(); ++n) names.push_back(t.node(n).name);
                               return names;
                             })
      .def("node_columns",
           [](const Topology& t) {
             const std::size_t n = t.num_nodes();
             std::vector<std::uint8_t> kind(n), cut(n);
             std::vector<std::uint64_t> lat(n), buf(n), issue(n), fetch(n), commit(n);
             std::vector<std::uint32_t> ports(n), reads(n), writes(n);
             std::vector<double> read_rate(n), write_rate(n), issue_rate(n);
             for (podsim::NodeId i = 0; i < n; ++i) {
               const auto& nd = t.node(i);
               kind[i] = static_cast<std::uint8_t>(nd.kind);
               cut[i] = nd.cut_through;
               lat[i] = nd.latency_ps;
               buf[i] = nd.buffer_bytes;
               ports[i] = nd.max_ports;
               issue[i] = nd.ep.issue_ps;
               fetch[i] = nd.ep.read_fetch_ps;
               commit[i] = nd.ep.write_commit_ps;
               reads[i] = nd.ep.max_reads;
               writes[i] = nd.ep.max_writes;
               read_rate[i] = static_cast<double>(nd.ep.read_rate) / 1000.0;
               write_rate[i] = static_cast<double>(nd.ep.write_rate) / 1000.0;
               issue_rate[i] = static_cast<double>(nd.ep.write_issue_rate) / 1000.0;
             }
             py::dict d;
             d["kind"] = to_numpy(kind);
             d["latency_ps"] = to_numpy(lat);
             d["buffer_bytes"] = to_numpy(buf);
             d["cut_through"] = to_numpy(cut);
             d["max_ports"] = to_numpy(ports);
             d["issue_ps"] = to_numpy(issue);
             d["read_fetch_ps"] = to_numpy(fetch);
             d["write_commit_ps"] = to_numpy(commit);
             d["max_reads"] = to_numpy(reads);
             d["max_writes"] = to_numpy(writes);
             d["read_rate_Bps"] = to_numpy(read_rate);
             d["write_rate_Bps"] = to_numpy(write_rate);
             d["write_issue_rate_Bps"] = to_numpy(issue_rate);
             return d;
           })
      .def("channel_columns", [](const Topology& t) {
        const std::size_t n = t.num_channels();
        std::vector<std::uint32_t> src(n), dst(n), rev(n);
        std::vector<std::uint64_t> lat(n);
        std::vector<double> rate(n);
        for (podsim::ChannelId c = 0; c < n; ++c) {
          const auto& ch = t.channel(c);
          src[c] = ch.src;
          dst[c] = ch.dst;
          rev[c] = ch.reverse;
          lat[c] = ch.latency_ps;
          rate[c] = static_cast<double>(ch.rate) / 1000.0;
        }
        py::dict d;
        d["src"] = to_numpy(src);
        d["dst"] = to_numpy(dst);
        d["reverse"] = to_numpy(rev);
        d["latency_ps"] = to_numpy(lat);
        d["rate_Bps"] = to_numpy(rate);
        return d;
      });
}
