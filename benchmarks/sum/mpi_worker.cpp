// SPDX-License-Identifier: MIT
// concbench_mpi_worker: a rank of the sum/mpi model, spawned by the benchmark process, summing its slice on command.
//
// The array kernel's mine_n caches the slice per n; a rank of an --mpi_hosts run fills its own
// slice on its own host.
#include <mpi.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "common/context.h"
#include "sum/kernel.h"
#include "sum/mpi_protocol.h"

using namespace concbench;
using namespace concbench::sum;

// In the sanitize build, LeakSanitizer would report Open MPI's own allocations when a rank
// exits and make it exit non-zero, which Open MPI takes for a failed rank. A rank's leaks are
// not this project's to find; the benchmark process (which runs this code too) is still checked.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }

int main(int argc, char** argv) {
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
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  // For the array kernel each rank holds only its own slice, filled once for each n, outside
  // the timed calls: memory is distributed, as it is across machines.
  std::vector<int64_t> mine;
  int64_t mine_n = -1;
  while (true) {
    MpiCommand c;
    MPI_Request request;
    MPI_Ibcast(&c, sizeof c, MPI_BYTE, 0, parent, &request);
    if (wait_for(request) != MPI_SUCCESS) break;
    if (c.op == MpiCommand::kQuit) break;
    if (c.op == MpiCommand::kUsage) {
      const Usage u = own_usage();
      const double fields[4] = {u.cpu_seconds, u.minor_faults, u.voluntary_switches, u.involuntary_switches};
      MPI_Ireduce(fields, nullptr, 4, MPI_DOUBLE, MPI_SUM, 0, parent, &request);
      wait_for(request);
      continue;
    }
    const Slice s = slice_of(c.n, c.parts, rank + 1);
    const auto kernel = static_cast<Kernel>(c.kernel);
    int64_t part = 0;
    if (kernel == Kernel::array) {
      if (mine_n != c.n) {
        std::vector<int64_t>(static_cast<size_t>(s.end - s.begin)).swap(mine);
        for (int64_t i = s.begin; i < s.end; ++i) mine[static_cast<size_t>(i - s.begin)] = i;
        mine_n = c.n;
      }
      part = sum_slice(Problem{kernel, s.end - s.begin, mine.data(), c.repeat}, 0, s.end - s.begin);
    } else {
      part = sum_slice(Problem{kernel, c.n, nullptr, c.repeat}, s.begin, s.end);
    }
    MPI_Ireduce(&part, nullptr, 1, MPI_INT64_T, MPI_SUM, 0, parent, &request);
    wait_for(request);
    if (c.report_pids != 0) {
      int pid = static_cast<int>(getpid());
      MPI_Igather(&pid, 1, MPI_INT, nullptr, 0, MPI_INT, 0, parent, &request);
      wait_for(request);
    }
  }
  MPI_Comm_disconnect(&parent);
  MPI_Finalize();
  return 0;
}
