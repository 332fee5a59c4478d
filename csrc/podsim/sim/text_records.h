// Reading and writing the plain-text record files (a topology, an HBM configuration, a run's
// settings) that let a C++ host load what the Python layer built, without Python or a TOML parser. A record is a line
// of whitespace-separated fields; blank lines and lines whose first non-blank character is '#'
// hold none, and lines may end with "\r\n" (a file edited on Windows).
#pragma once

#include <cerrno>
#include <cstdint>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>

namespace podsim::text {

// The largest value a field of type T holds in a file: 1 for a flag (bool), else the type's own.
template <typename T>
constexpr std::uint64_t largest() {
  if constexpr (std::is_same_v<T, bool>)
    return 1;
  else
    return std::numeric_limits<T>::max();
}

// The next field of a record, as an unsigned integer of type T, at most `max` (a flag: 0 or 1).
// Not `fields >> value`: stream extraction takes "-1" and wraps it around to the type's largest
// value, which would load as a huge buffer or timing without complaint.
template <typename T>
T read_field(std::istringstream& fields, const char* name, const char* record,
             T max = std::numeric_limits<T>::max()) {
  std::string token;
  if (!(fields >> token)) throw std::invalid_argument(std::string(name) + ": missing (" + record + ")");
  T value{};
  const char* end = token.data() + token.size();
  const auto [stop, ec] = std::from_chars(token.data(), end, value);
  const std::string bound = max == 1 ? "must be 0 or 1" : "must be at most " + std::to_string(max);
  if (ec == std::errc::result_out_of_range || (ec == std::errc{} && stop == end && value > max))
    throw std::invalid_argument(std::string(name) + ": " + bound + ", got " + token);
  if (ec != std::errc{} || stop != end)
    throw std::invalid_argument(std::string(name) + ": expected a non-negative integer, got '" + token + "'");
  return value;
}

// A line without its line ending and trailing blanks (a name never ends with whitespace, so
// nothing of a record is lost).
inline std::string trimmed(std::string line) {
  line.erase(line.find_last_not_of(" \t\r") + 1);
  return line;
}

inline bool is_comment_or_blank(const std::string& line) {
  const std::size_t first = line.find_first_not_of(" \t\r");
  return first == std::string::npos || line[first] == '#';
}

inline std::string rest_of_line(std::istringstream& fields) {
  std::string rest;
  std::getline(fields >> std::ws, rest);
  return rest;
}

// A record of numbers ends after its last field (`last`, for the message).
inline void expect_no_more(std::istringstream& fields, const char* last) {
  if ((fields >> std::ws).eof()) return;
  const std::string extra = rest_of_line(fields);
  throw std::invalid_argument(std::string("unexpected text after ") + last + ": '" + extra + "'" +
                              (extra.front() == '#' ? " (a comment must be on a line of its own)" : ""));
}

// Reads a file whose first line is `magic` and whose records end with an "end" record: calls
// on_record(name, fields) for each record before it, with the rest of the line in `fields`, and
// checks that nothing follows its last field. Errors name the file kind `what` ("HBM file") and
// the line; a file without the end record was cut short.
template <typename OnRecord>
void read_records(std::istream& in, const char* what, const char* magic, OnRecord on_record) {
  std::string line;
  std::size_t lineno = 1;
  const std::string first = std::getline(in, line) ? trimmed(line) : std::string();
  if (first != magic)
    throw std::invalid_argument(std::string(what) + ": line 1 must be '" + magic + "', got '" + first.substr(0, 60) +
                                (first.size() > 60 ? "...'" : "'"));
  bool ended = false;
  while (std::getline(in, line)) {
    ++lineno;
    if (is_comment_or_blank(line)) continue;
    std::istringstream fields(trimmed(line));
    std::string name;
    fields >> name;
    try {
      if (ended) throw std::invalid_argument("a '" + name + "' record after the end record");
      if (name == "end")
        ended = true;
      else
        on_record(name, fields);
      expect_no_more(fields, name.c_str());
    } catch (const std::invalid_argument& err) {
      throw std::invalid_argument(std::string(what) + ": line " + std::to_string(lineno) + ": " + err.what());
    }
  }
  if (!ended)
    throw std::invalid_argument(std::string(what) + ": ends at line " + std::to_string(lineno) +
                                " with no end record: the file is cut short (a partial copy?)");
}

inline std::ofstream open_to_write(const std::string& path) {
  std::ofstream out(path);
  if (!out) throw std::invalid_argument("path: cannot write '" + path + "'");
  return out;
}

// `what` names the kind of file in the message ("a topology file").
inline std::ifstream open_to_read(const std::string& path, const char* what) {
  // A directory opens as a stream on Linux and only fails at the first read, which would be
  // reported as a bad first line.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw std::invalid_argument("path: '" + path + "' is a directory, not " + what);
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("path: cannot read '" + path + "': " + std::strerror(errno));
  return in;
}

}  // namespace podsim::text
