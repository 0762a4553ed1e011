// SPDX-License-Identifier: MIT
// What the mpi model's ranks are told over their intercommunicator, and who tells them.
#pragma once

#include <mpi.h>
#include <time.h>

#include <algorithm>
#include <cstdint>

#include "common/spin.h"
#include "sum/kernel.h"

namespace concbench::sum {

// What wait_for returns, besides MPI's own codes, when `give_up` ended the wait.
constexpr int kWaitGaveUp = -1;

// Waits for a non-blocking MPI operation as the other models' workers wait for work: polling
// for kCpuSpin, then polling with short sleeps. Open MPI's blocking calls poll without end, and
// a waiting process that never leaves the core takes it from the ranks that are computing
// (measured: two ranks and a polling parent on two cores made W = 2 slower than W = 1).
// While napping it asks `give_up` about every 10 ms: a peer that died or hangs must end the wait
// (MPI itself never would: a spawned rank killed mid-call left its parent polling for good), and
// then the request stays pending and kWaitGaveUp is returned.
template <class GiveUp>
int wait_for(MPI_Request& request, GiveUp&& give_up) {
  int done = 0, rc = MPI_SUCCESS;
  const bool soon = spin_until([&] {
    rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    return rc != MPI_SUCCESS || done != 0;
  });
  const timespec nap{0, 20'000};
  for (int naps = 1; !soon && rc == MPI_SUCCESS && done == 0; ++naps) {
    if (naps % 256 == 0 && give_up()) return kWaitGaveUp;
    nanosleep(&nap, nullptr);
    rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
  }
  return rc;
}

inline int wait_for(MPI_Request& request) {
  return wait_for(request, [] { return false; });
}

// One command, broadcast by the benchmark process (MPI_ROOT) to every rank it spawned.
struct MpiCommand {
  enum Op : int32_t { kSum = 1, kUsage = 2, kQuit = 3 };
  int32_t op = kQuit;
  int32_t kernel = 0;       // Kernel, for kSum
  int64_t n = 0;
  double repeat = 0;        // Problem::repeat, the calibration test hook
  int32_t report_pids = 0;  // kSum: each rank also sends its pid (the untimed calls count workers)
                            // and how many elements the test hook had it sum again
  int32_t parts = 1;        // kSum: slices of [0, n); the benchmark process sums slice 0, rank r slice r + 1
  int32_t scatter = 0;      // kSum, array kernel: the caller's array follows (MPI_Iscatterv), each
                            // rank's slice, which it keeps for later calls (see Mpi::sum)
};

// The array goes to the ranks in rounds of at most kScatterChunk elements a rank, copied into a
// staging buffer the model owns: a send that a failure abandons (see Mpi::fail) never reads the
// caller's array after the caller has freed it, and no count passes an int.
constexpr int64_t kScatterChunk = int64_t{1} << 19;  // 4 MiB a rank

// Rounds of a scatter of n elements in `parts` slices (rank r holds slice r, r >= 1; slice 1
// is the largest of theirs), and how many elements rank r receives in round k.
inline int64_t scatter_rounds(int64_t n, int parts) {
  if (parts < 2) return 0;
  const Slice s = slice_of(n, parts, 1);
  return (s.end - s.begin + kScatterChunk - 1) / kScatterChunk;
}
inline int scatter_count(int64_t n, int parts, int r, int64_t k) {
  const Slice s = slice_of(n, parts, r);
  return static_cast<int>(std::clamp<int64_t>(s.end - s.begin - k * kScatterChunk, 0, kScatterChunk));
}

// What each rank tells the benchmark process once, right after the spawn: where it runs, so
// that the benchmark can record it and, on this host, notice a rank that dies.
struct MpiRankInfo {
  int32_t pid = 0;
  char host[64] = {};
};

}  // namespace concbench::sum
