// A plain-text form of a run's settings (SimConfig), so that a C++ host runs a shipped system as
// podsim.simulate(system) does without Python: `podsim export SYSTEM FILE` writes FILE.run.
//
//   podsim-run 1
//   <field> <value>          every field of SimConfig, once each, in any order: integers, but
//                            routing (ecmp, spray, adaptive) and recovery (retransmit, replay) by
//                            name and check 0 or 1
//   memory_txn_bytes <n>     txn_bytes of a run whose endpoints are coupled to their HBM (memory
//                            is accessed a transaction at a time: Python's memory=True uses it)
//   end
//
// Blank lines and '#' comment lines are skipped, as in a topology file. Loading refuses a
// missing, repeated or unknown field, an unknown name, a file without the end record (cut short)
// and settings the Simulator would refuse (validate), so what loads is a configuration it accepts.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "podsim/config.h"

namespace podsim {

void save_sim_config(const SimConfig& config, std::uint64_t memory_txn_bytes, std::ostream& out);
void save_sim_config(const SimConfig& config, std::uint64_t memory_txn_bytes, const std::string& path);
// The settings of the file; with_memory: txn_bytes is the file's memory_txn_bytes.
SimConfig load_sim_config(std::istream& in, bool with_memory);
SimConfig load_sim_config(const std::string& path, bool with_memory);

}  // namespace podsim
