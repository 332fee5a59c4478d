#include "podsim/memory/hbm_config_io.h"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "podsim/sim/text_records.h"

namespace podsim::memory {

namespace {

constexpr const char* kMagic = "podsim-hbm 1";

// One integer field of the file: how to read it from and write it into a configuration, and its
// largest value (the field's type; flags 0 or 1). One table serves saving and loading, so the two
// cannot drift apart.
struct Field {
  const char* name;
  std::uint64_t (*get)(const HbmConfig&);
  void (*set)(HbmConfig&, std::uint64_t);
  std::uint64_t max;
};

template <auto Member>
constexpr Field timing(const char* name) {
  return {name, [](const HbmConfig& c) -> std::uint64_t { return c.t.*Member; },
          [](HbmConfig& c, std::uint64_t v) { c.t.*Member = v; }, text::largest<Time>()};
}

template <auto Member>
constexpr Field setting(const char* name) {
  using T = std::remove_cvref_t<decltype(std::declval<HbmConfig&>().*Member)>;
  return {name, [](const HbmConfig& c) -> std::uint64_t { return static_cast<std::uint64_t>(c.*Member); },
          [](HbmConfig& c, std::uint64_t v) { c.*Member = static_cast<T>(v); },
          text::largest<T>()};
}

const Field kFields[] = {
    timing<&HbmTiming::tCL>("tCL"),
    timing<&HbmTiming::tCWL>("tCWL"),
    timing<&HbmTiming::tRCDRD>("tRCDRD"),
    timing<&HbmTiming::tRCDWR>("tRCDWR"),
    timing<&HbmTiming::tRP>("tRP"),
    timing<&HbmTiming::tRAS>("tRAS"),
    timing<&HbmTiming::tRC>("tRC"),
    timing<&HbmTiming::tWR>("tWR"),
    timing<&HbmTiming::tRTP>("tRTP"),
    timing<&HbmTiming::tCCD_S>("tCCD_S"),
    timing<&HbmTiming::tCCD_L>("tCCD_L"),
    timing<&HbmTiming::tRRD_S>("tRRD_S"),
    timing<&HbmTiming::tRRD_L>("tRRD_L"),
    timing<&HbmTiming::tFAW>("tFAW"),
    timing<&HbmTiming::tWTR_S>("tWTR_S"),
    timing<&HbmTiming::tWTR_L>("tWTR_L"),
    timing<&HbmTiming::tRTW>("tRTW"),
    timing<&HbmTiming::tRFC>("tRFC"),
    timing<&HbmTiming::tREFI>("tREFI"),
    setting<&HbmConfig::stacks>("stacks"),
    setting<&HbmConfig::pcs_per_stack>("pcs_per_stack"),
    setting<&HbmConfig::pc_width_bits>("pc_width_bits"),
    setting<&HbmConfig::rate_kbps>("rate_kbps"),
    setting<&HbmConfig::burst_bytes>("burst_bytes"),
    setting<&HbmConfig::bank_groups>("bank_groups"),
    setting<&HbmConfig::banks_per_group>("banks_per_group"),
    setting<&HbmConfig::row_bytes>("row_bytes"),
    setting<&HbmConfig::rows>("rows"),
    setting<&HbmConfig::interleave_bytes>("interleave_bytes"),
    setting<&HbmConfig::bg_spread>("bg_spread"),
    setting<&HbmConfig::close_page>("close_page"),
    setting<&HbmConfig::refresh>("refresh"),
    setting<&HbmConfig::lookahead>("lookahead"),
    setting<&HbmConfig::queue_depth>("queue_depth"),
};

// MapField values in order, as the file (and podsim.hbm.Device's `mapping`) names them.
const char* const kMapNames[kMapFields] = {"pc", "bg", "ba", "co", "ro"};

MapField map_field(const std::string& name) {
  for (std::size_t i = 0; i < kMapFields; ++i)
    if (name == kMapNames[i]) return static_cast<MapField>(i);
  throw std::invalid_argument("order: unknown field '" + name + "' (pc, bg, ba, co, ro)");
}

}  // namespace

void save_hbm_config(const HbmConfig& config, std::ostream& out) {
  out << kMagic << '\n';
  for (const Field& f : kFields) out << f.name << ' ' << f.get(config) << '\n';
  out << "order";
  for (MapField m : config.order) out << ' ' << kMapNames[static_cast<std::size_t>(m)];
  out << "\nend\n";
}

HbmConfig load_hbm_config(std::istream& in) {
  HbmConfig config;
  constexpr std::size_t kOrder = std::size(kFields);  // `seen` index of the order record
  std::vector<bool> seen(kOrder + 1, false);
  text::read_records(in, "HBM file", kMagic, [&](const std::string& name, std::istringstream& fields) {
    std::size_t k = 0;
    while (k < kOrder && name != kFields[k].name) ++k;
    if (k == kOrder && name != "order") throw std::invalid_argument("unknown field '" + name + "'");
    if (seen[k]) throw std::invalid_argument(name + ": given twice");
    if (k == kOrder) {
      for (MapField& m : config.order) {
        std::string field;
        if (!(fields >> field))
          throw std::invalid_argument("order: needs all five fields, lowest first, e.g. 'order pc bg ba co ro'");
        m = map_field(field);
      }
    } else {
      kFields[k].set(config, text::read_field<std::uint64_t>(fields, kFields[k].name, "<field> <value>", kFields[k].max));
    }
    seen[k] = true;
  });
  for (std::size_t k = 0; k <= kOrder; ++k)
    if (!seen[k])
      throw std::invalid_argument(std::string("HBM file: ") + (k == kOrder ? "order" : kFields[k].name) +
                                  ": missing (every field must be given)");
  try {
    config.validate();
  } catch (const std::invalid_argument& err) {
    throw std::invalid_argument(std::string("HBM file: ") + err.what());
  }
  return config;
}

void save_hbm_config(const HbmConfig& config, const std::string& path) {
  std::ofstream out = text::open_to_write(path);
  save_hbm_config(config, out);
}

HbmConfig load_hbm_config(const std::string& path) {
  std::ifstream in = text::open_to_read(path, "an HBM file");
  return load_hbm_config(in);
}

}  // namespace podsim::memory
