// The shape of ASTRA-sim's network backend interface, written for podsim from ASTRA-sim's
// documented behaviour (its `AstraSim::AstraNetworkAPI` in astra-sim/common/AstraNetworkAPI.hh).
// This is NOT ASTRA-sim's header and contains none of its code: it exists so that the adapter can
// be built and tested here, where ASTRA-sim is not available.
//
// Inside an ASTRA-sim tree (the adapter copied to astra-sim/network_frontend/podsim/), the real
// header would be used instead: podsim_network.h would include "astra-sim/common/AstraNetworkAPI.hh"
// and derive from AstraSim::AstraNetworkAPI. The members below keep the real ones' names, argument
// lists and meaning so that the switch is a change of include and namespace. Members of the real
// class that only concern ASTRA-sim's own bookkeeping (sim_init, sim_finish,
// sim_time_resolution, get_backend_type) are left out.
#pragma once

#include <cstdint>
#include <string>

namespace podsim_astra {

// The unit of a timespec_t. ASTRA-sim's backends report time in NS.
enum time_type_e { SE, MS, US, NS, FS };

struct timespec_t {
  time_type_e time_res;
  long double time_val;
};

// Describes one send or receive; the simulated backends only fill it in or ignore it.
struct sim_request {
  std::uint32_t srcRank;
  std::uint32_t dstRank;
  std::uint32_t tag;
  int reqType;
  std::uint64_t reqCount;
  std::uint32_t vnet;
  int layerNum;
};

// A communicator; ASTRA-sim only ever uses the world.
struct sim_comm {
  std::string comm_name;
};

// One instance per NPU rank; all instances of a run share one network simulator.
class AstraNetworkAPI {
 public:
  explicit AstraNetworkAPI(int r) : rank(r) {}
  AstraNetworkAPI(const AstraNetworkAPI&) = delete;
  AstraNetworkAPI& operator=(const AstraNetworkAPI&) = delete;
  virtual ~AstraNetworkAPI() = default;

  virtual int sim_comm_size(sim_comm comm, int* size) = 0;
  virtual int sim_comm_get_rank() { return rank; }
  virtual int sim_comm_set_rank(int r) {
    rank = r;
    return rank;
  }

  // The network simulator owns the clock: ASTRA-sim reads it and schedules its own events on it.
  virtual timespec_t sim_get_time() = 0;
  virtual void sim_schedule(timespec_t delta, void (*fun_ptr)(void* fun_arg), void* fun_arg) = 0;

  // Sends `count` bytes from this rank to `dst`; `msg_handler(fun_arg)` runs when the send is
  // complete. `buffer` and `type` carry no data in a simulation.
  virtual int sim_send(void* buffer, std::uint64_t count, int type, int dst, int tag, sim_request* request,
                       void (*msg_handler)(void* fun_arg), void* fun_arg) = 0;
  // Posts a receive of `count` bytes from `src` with `tag`; `msg_handler(fun_arg)` runs once they
  // have arrived. It may be posted before or after the data arrives.
  virtual int sim_recv(void* buffer, std::uint64_t count, int type, int src, int tag, sim_request* request,
                       void (*msg_handler)(void* fun_arg), void* fun_arg) = 0;

  // Bandwidth of one dimension of the logical topology, GB/s; the collective scheduler uses it.
  virtual double get_BW_at_dimension(int dim) = 0;
  // This rank's workload is done.
  virtual void sim_notify_finished() = 0;

  int rank;
};

}  // namespace podsim_astra
