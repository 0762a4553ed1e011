// SPDX-License-Identifier: MIT
// concbench_mpi_worker: a rank of the sum/mpi model, spawned by the benchmark process, summing its slice on command.
//
// For the array kernel the benchmark process sends each rank its slice of the caller's array
// once (MpiCommand::scatter), and the rank keeps it, on its own host in an --mpi_hosts run.
#include <mpi.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/context.h"
#include "sum/kernel.h"
#include "sum/model.h"
#include "sum/mpi_protocol.h"

using namespace concbench;
using namespace concbench::sum;

// In the sanitize build, LeakSanitizer would report Open MPI's own allocations when a rank
// exits and make it exit non-zero, which Open MPI takes for a failed rank. A rank's leaks are
// not this project's to find; the benchmark process (which runs this code too) is still checked.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }

// The fault a test asked for (--fault=NAME on every rank's command line), or none.
WorkerFault fault_from(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    for (WorkerFault f : {WorkerFault::crash, WorkerFault::garbage, WorkerFault::hang, WorkerFault::exit_early,
                          WorkerFault::hang_at_start})
      if (arg == std::string("--fault=") + fault_name(f)) return f;
  }
  return WorkerFault::none;
}

int main(int argc, char** argv) {
  // argv also holds the spawn's token (--spawn=...), only so that the benchmark process can find
  // and kill this rank by its command line if the spawn never returns.
  WorkerFault fault = fault_from(argc, argv);
  if (fault == WorkerFault::hang_at_start)
    while (true) pause();
  MPI_Init(&argc, &argv);
  MPI_Comm parent = MPI_COMM_NULL;
  MPI_Comm_get_parent(&parent);
  // Short naps while waiting (wait_for) must be short: without this, the kernel may let a 20 us
  // sleep run 50 us longer.
  prctl(PR_SET_TIMERSLACK, 1UL);
  if (parent == MPI_COMM_NULL) {
    // Started by hand, not by the benchmark: nothing to serve.
    MPI_Finalize();
    return 2;
  }
  {
    MpiRankInfo me;
    me.pid = static_cast<int32_t>(getpid());
    gethostname(me.host, sizeof me.host - 1);
    MPI_Request request;
    MPI_Igather(&me, sizeof me, MPI_BYTE, nullptr, 0, MPI_BYTE, 0, parent, &request);
    wait_for(request);
  }
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  if (rank != ranks - 1) fault = WorkerFault::none;  // one failing rank, the last
  // For the array kernel each rank holds only its own slice of the caller's array, sent once
  // (c.scatter) in an untimed call: memory is distributed, as it is across machines.
  std::vector<int64_t> mine;
  while (true) {
    MpiCommand c;
    MPI_Request request;
    MPI_Ibcast(&c, sizeof c, MPI_BYTE, 0, parent, &request);
    if (wait_for(request) != MPI_SUCCESS) break;
    if (c.op == MpiCommand::kQuit) {
      // The benchmark process waits, with a deadline, for every rank here before it
      // disconnects (see ~Mpi).
      MPI_Ibarrier(parent, &request);
      wait_for(request);
      break;
    }
    if (c.op == MpiCommand::kUsage) {
      const Usage u = own_usage();
      const double fields[4] = {u.cpu_seconds, u.minor_faults, u.voluntary_switches, u.involuntary_switches};
      MPI_Ireduce(fields, nullptr, 4, MPI_DOUBLE, MPI_SUM, 0, parent, &request);
      wait_for(request);
      continue;
    }
    const Slice s = slice_of(c.n, c.parts, rank + 1);
    const auto kernel = static_cast<Kernel>(c.kernel);
    int64_t part = 0, repeated = 0;
    if (kernel == Kernel::array) {
      if (c.scatter != 0) {
        std::vector<int64_t>(static_cast<size_t>(s.end - s.begin)).swap(mine);
        bool received = true;
        for (int64_t k = 0, rounds = scatter_rounds(c.n, c.parts); k < rounds && received; ++k) {
          const auto at = static_cast<size_t>(std::min<int64_t>(k * kScatterChunk, s.end - s.begin));
          MPI_Iscatterv(nullptr, nullptr, nullptr, MPI_INT64_T, mine.data() + at,
                        scatter_count(c.n, c.parts, rank + 1, k), MPI_INT64_T, 0, parent, &request);
          received = wait_for(request) == MPI_SUCCESS;
        }
        if (!received) break;
      }
      part = sum_slice(Problem{kernel, s.end - s.begin, mine.data(), c.repeat}, 0, s.end - s.begin, &repeated);
    } else {
      part = sum_slice(Problem{kernel, c.n, nullptr, c.repeat}, s.begin, s.end, &repeated);
    }
    switch (fault) {  // the tests' faults strike in the first call
      case WorkerFault::crash: raise(SIGKILL); break;
      case WorkerFault::exit_early: _exit(3);
      case WorkerFault::hang:
        while (true) pause();
      case WorkerFault::garbage: part += 1; break;  // a wrong answer, which only the benchmark's check can see
      default: break;
    }
    fault = WorkerFault::none;
    MPI_Ireduce(&part, nullptr, 1, MPI_INT64_T, MPI_SUM, 0, parent, &request);
    wait_for(request);
    if (c.report_pids != 0) {
      int pid = static_cast<int>(getpid());
      MPI_Igather(&pid, 1, MPI_INT, nullptr, 0, MPI_INT, 0, parent, &request);
      wait_for(request);
      MPI_Igather(&repeated, 1, MPI_INT64_T, nullptr, 0, MPI_INT64_T, 0, parent, &request);
      wait_for(request);
    }
  }
  MPI_Comm_disconnect(&parent);
  MPI_Finalize();
  return 0;
}
