// SPDX-License-Identifier: MIT
// The interface every sum model implements, and the list of models.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/context.h"
#include "sum/kernel.h"

namespace concbench::sum {

// A concurrency model: how the problem is split and dispatched. Models are built outside the
// timed region (pools, arenas and worker processes start there) after the problem's data is
// in memory, so forked workers see it.
class Model {
 public:
  virtual ~Model() = default;
  // The sum of the problem's elements. Throws std::runtime_error when a worker failed.
  virtual int64_t sum(const Problem& problem) = 0;
  // What worker processes that are still alive have used (CPU time, faults, switches), which
  // getrusage(RUSAGE_CHILDREN) cannot see until they are reaped.
  virtual Usage live_children_usage() { return {}; }
  // Where the workers run, when that is worth recording (mpi: "ranks on <host>,<host>"), or
  // empty; the benchmark's label.
  virtual std::string placement() const { return {}; }
};

// A worker's partial sum on its own cache line, for the thread models: neighbouring writes
// from different cores would otherwise bounce one line between them.
struct alignas(64) Partial {
  int64_t value = 0;
};

using ModelFactory = std::unique_ptr<Model> (*)(int workers);

struct ModelInfo {
  std::string_view name;
  bool parallel;  // false: runs on one thread whatever the worker count
  ModelFactory make;
};

// Every model, in the order they run and are plotted.
std::span<const ModelInfo> all_models();

std::unique_ptr<Model> make_seq(int workers);
std::unique_ptr<Model> make_threads(int workers);
std::unique_ptr<Model> make_pool(int workers);
std::unique_ptr<Model> make_tbb(int workers);
std::unique_ptr<Model> make_openmp(int workers);
std::unique_ptr<Model> make_fork(int workers);
std::unique_ptr<Model> make_process_pool(int workers);
std::unique_ptr<Model> make_std_par(int workers);
std::unique_ptr<Model> make_mpi(int workers);

// The mpi model's ranks go to the hosts of this Open MPI hostfile (--mpi_hosts), or this host.
void set_mpi_hostfile(const std::string& path);
// "Open MPI v4.1.4": the MPI library this build uses, for the run's context.
std::string mpi_library();
// MPI_Finalize, if an mpi model started MPI: after it, this process's later forks (fork and
// process_pool models, fetch's) are plain forks again. MPI cannot start again after it.
void finish_mpi();

// What a worker process does wrong, for the tests that prove a failing worker is an error and
// never a hang or a zombie. hang_at_start: an mpi rank that never starts MPI, so that the spawn
// never returns (the fork models' workers treat it as hang).
enum class WorkerFault { none, crash, garbage, hang, exit_early, hang_at_start };
inline const char* fault_name(WorkerFault fault) {
  switch (fault) {
    case WorkerFault::none: return "none";
    case WorkerFault::crash: return "crash";
    case WorkerFault::garbage: return "garbage";
    case WorkerFault::hang: return "hang";
    case WorkerFault::exit_early: return "exit_early";
    case WorkerFault::hang_at_start: return "hang_at_start";
  }
  return "unknown";
}
struct ProcessOptions {
  WorkerFault fault = WorkerFault::none;
  // How long to wait for a worker's answer before killing it.
  std::chrono::milliseconds timeout = std::chrono::minutes(10);
  // mpi: how long MPI_Comm_spawn and the ranks' first message may take (ssh to another host
  // included) before the ranks are killed and the model fails.
  std::chrono::milliseconds start_timeout = std::chrono::seconds(60);
};
std::unique_ptr<Model> make_fork(int workers, ProcessOptions options);
std::unique_ptr<Model> make_process_pool(int workers, ProcessOptions options);
std::unique_ptr<Model> make_mpi(int workers, ProcessOptions options);

}  // namespace concbench::sum
