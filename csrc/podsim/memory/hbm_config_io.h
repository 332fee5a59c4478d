// A plain-text form of HbmConfig, so a C++ host can couple its endpoints to the HBM of a shipped
// system (`podsim export SYSTEM FILE` writes FILE.hbm from the sourced presets) without Python
// or a TOML parser:
//
//   podsim-hbm 1
//   <field> <value>          every field of HbmConfig but `trace`, once each, in any order;
//                            timings (tCL ... tREFI) in integer ps, flags 0 or 1
//   order <five fields>      the address map, lowest first: a permutation of pc (pseudo-channel),
//                            bg (bank group), ba (bank), co (column), ro (row)
//   end
//
// Blank lines and '#' comment lines are skipped, as in a topology file. Loading refuses a missing,
// repeated or unknown field and a file without the end record (cut short), and validates the
// result (HbmConfig::validate), so what loads is a configuration the device accepts.
#pragma once

#include <iosfwd>
#include <string>

#include "podsim/memory/hbm_config.h"

namespace podsim::memory {

void save_hbm_config(const HbmConfig& config, std::ostream& out);
HbmConfig load_hbm_config(std::istream& in);
void save_hbm_config(const HbmConfig& config, const std::string& path);
HbmConfig load_hbm_config(const std::string& path);

}  // namespace podsim::memory
