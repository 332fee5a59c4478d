#include "podsim/config_io.h"

#include <fstream>
#include <iterator>
#include <span>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "podsim/sim/text_records.h"

namespace podsim {

namespace {

constexpr const char* kMagic = "podsim-run 1";

// The file's settings: SimConfig's fields and memory_txn_bytes.
struct Settings {
  SimConfig config;
  std::uint64_t memory_txn_bytes = 0;
};

// The names of RoutingPolicy's and LossRecovery's values, in order of their codes.
constexpr const char* kRoutingNames[] = {"ecmp", "spray", "adaptive"};
static_assert(std::size(kRoutingNames) == static_cast<std::size_t>(RoutingPolicy::kAdaptive) + 1);
constexpr const char* kRecoveryNames[] = {"retransmit", "replay"};
static_assert(std::size(kRecoveryNames) == static_cast<std::size_t>(LossRecovery::kReplay) + 1);

// One field of the file: how to read it from and write it into the settings, its largest value
// (the field's type; flags 0 or 1), and for an enumeration the names of its values in order.
// One table serves saving and loading, so the two cannot drift apart.
struct Field {
  const char* name;
  std::uint64_t (*get)(const Settings&);
  void (*set)(Settings&, std::uint64_t);
  std::uint64_t max;
  std::span<const char* const> names;
};

template <auto Member>
constexpr Field setting(const char* name, std::span<const char* const> names = {}) {
  using T = std::remove_cvref_t<decltype(std::declval<SimConfig&>().*Member)>;
  std::uint64_t max = 0;
  if constexpr (std::is_enum_v<T>)
    max = names.size() - 1;  // a value per name
  else
    max = text::largest<T>();
  return {name, [](const Settings& s) -> std::uint64_t { return static_cast<std::uint64_t>(s.config.*Member); },
          [](Settings& s, std::uint64_t v) { s.config.*Member = static_cast<T>(v); }, max, names};
}

const Field kFields[] = {
    setting<&SimConfig::mtu_bytes>("mtu_bytes"),
    setting<&SimConfig::header_bytes>("header_bytes"),
    setting<&SimConfig::ack_bytes>("ack_bytes"),
    setting<&SimConfig::request_bytes>("request_bytes"),
    setting<&SimConfig::txn_bytes>("txn_bytes"),
    setting<&SimConfig::routing>("routing", kRoutingNames),
    setting<&SimConfig::seed>("seed"),
    setting<&SimConfig::endpoint_window_packets>("endpoint_window_packets"),
    setting<&SimConfig::check>("check"),
    setting<&SimConfig::trace_limit>("trace_limit"),
    setting<&SimConfig::recovery>("recovery", kRecoveryNames),
    setting<&SimConfig::retransmit_timeout_ps>("retransmit_timeout_ps"),
    setting<&SimConfig::replay_ps>("replay_ps"),
    {"memory_txn_bytes", [](const Settings& s) { return s.memory_txn_bytes; },
     [](Settings& s, std::uint64_t v) { s.memory_txn_bytes = v; }, text::largest<std::uint64_t>(), {}},
};

std::string known_names(std::span<const char* const> names) {
  std::string known;
  for (const char* n : names) known += (known.empty() ? "" : ", ") + std::string(n);
  return known;
}

std::uint64_t read_value(std::istringstream& in, const Field& f) {
  if (f.names.empty()) return text::read_field<std::uint64_t>(in, f.name, "<field> <value>", f.max);
  std::string token;
  if (!(in >> token)) throw std::invalid_argument(std::string(f.name) + ": missing (<field> <value>)");
  for (std::size_t i = 0; i < f.names.size(); ++i)
    if (token == f.names[i]) return i;
  throw std::invalid_argument(std::string(f.name) + ": must be one of " + known_names(f.names) + ", got '" + token + "'");
}

}  // namespace

void save_sim_config(const SimConfig& config, std::uint64_t memory_txn_bytes, std::ostream& out) {
  const Settings s{config, memory_txn_bytes};
  out << kMagic << '\n';
  validate(config);  // an enumeration out of range would have no name
  for (const Field& f : kFields) {
    out << f.name << ' ';
    if (f.names.empty())
      out << f.get(s);
    else
      out << f.names[f.get(s)];
    out << '\n';
  }
  out << "end\n";
}

SimConfig load_sim_config(std::istream& in, bool with_memory) {
  Settings s;
  const std::span<const Field> all = kFields;
  std::vector<bool> seen(all.size(), false);
  text::read_records(in, "run file", kMagic, [&](const std::string& name, std::istringstream& record) {
    std::size_t k = 0;
    while (k < all.size() && name != all[k].name) ++k;
    if (k == all.size()) {
      std::vector<const char*> names;
      for (const Field& f : all) names.push_back(f.name);
      throw std::invalid_argument("unknown field '" + name + "' (the fields: " + known_names(names) + ")");
    }
    if (seen[k]) throw std::invalid_argument(name + ": given twice");
    all[k].set(s, read_value(record, all[k]));
    seen[k] = true;
  });
  for (std::size_t k = 0; k < all.size(); ++k)
    if (!seen[k])
      throw std::invalid_argument(std::string("run file: ") + all[k].name + ": missing (every field must be given)");
  if (with_memory) s.config.txn_bytes = s.memory_txn_bytes;
  try {
    validate(s.config);
  } catch (const std::invalid_argument& err) {
    throw std::invalid_argument(std::string("run file: ") + err.what());
  }
  return s.config;
}

void save_sim_config(const SimConfig& config, std::uint64_t memory_txn_bytes, const std::string& path) {
  std::ofstream out = text::open_to_write(path);
  save_sim_config(config, memory_txn_bytes, out);
}

SimConfig load_sim_config(const std::string& path, bool with_memory) {
  std::ifstream in = text::open_to_read(path, "a run file");
  return load_sim_config(in, with_memory);
}

}  // namespace podsim
