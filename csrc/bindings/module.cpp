// podsim._core: the thin pybind11 layer over the C++ core. Argument checking, documentation and
// typing for users live in the Python package; this layer converts and forwards.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_topology(py::module_& m);
void register_simulator(py::module_& m);
void register_memory(py::module_& m);

PYBIND11_MODULE(_core, m, py::mod_gil_not_used()) {
  m.doc() = "podsim C++ engine (internal; use the podsim package)";
  register_topology(m);
  register_simulator(m);
  register_memory(m);
}
