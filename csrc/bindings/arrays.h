// Small helpers shared by the binding files: std::vector <-> numpy.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <span>
#include <vector>

namespace podsim_bindings {

namespace py = pybind11;

// A numpy copy of a vector (results outlive later engine activity, so they are snapshots).
template <typename T>
py::array_t<T> to_numpy(const std::vector<T>& v) {
  py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

// One field of every element of an array of structs, as a numpy column.
template <typename S, typename T>
py::array_t<T> column(const std::vector<S>& rows, T S::*field) {
  py::array_t<T> a(static_cast<py::ssize_t>(rows.size()));
  T* out = a.mutable_data();
  for (std::size_t i = 0; i < rows.size(); ++i) out[i] = rows[i].*field;
  return a;
}

// A read-only span over a 1-D, C-contiguous numpy array of exactly type T (the Python layer
// converts dtypes before calling).
template <typename T>
std::span<const T> as_span(const py::array_t<T, py::array::c_style>& a) {
  if (a.ndim() != 1) throw std::invalid_argument("expected a 1-D array");
  return {a.data(), static_cast<std::size_t>(a.size())};
}

}  // namespace podsim_bindings
