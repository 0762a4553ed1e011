// SPDX-License-Identifier: MIT
// sum/mpi: W Open MPI ranks spawned once per model (MPI_Comm_spawn), the problem broadcast, partial sums reduced.
#include <mpi.h>
#include <sys/prctl.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "sum/model.h"
#include "sum/mpi_protocol.h"

namespace concbench::sum {
namespace {

std::string& hostfile() {
  static std::string path;
  return path;
}

// "MPI_Bcast: MPI_ERR_COMM: invalid communicator"
void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw std::runtime_error(std::string(what) + ": " + std::string(text, static_cast<size_t>(len)));
}

// MPI is started once, by the first mpi model of the process, and stopped by finish_mpi().
void start_mpi() {
  int started = 0, finished = 0;
  MPI_Initialized(&started);
  MPI_Finalized(&finished);
  if (finished) throw std::runtime_error("MPI was already finalized in this process");
  if (started) return;
  // Open MPI refuses to run as root unless told it may; CI runs as root. Said here, for this
  // process and the daemon and ranks it starts, and nowhere else.
  if (geteuid() == 0) {
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  }
  // On this host, W ranks may exceed its cores, as W threads do in the other models' worker
  // sweep; with --mpi_hosts, the hostfile's slots say how many each host takes. Ranks are not
  // bound to cores, as no other model's workers are: Open MPI's default binding put two spawned
  // ranks on one core here.
  if (hostfile().empty()) setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 0);
  setenv("OMPI_MCA_hwloc_base_binding_policy", "none", 0);
  int argc = 0;
  char** argv = nullptr;
#if defined(__SANITIZE_ADDRESS__)
  // Open MPI keeps allocations for the life of the process by design, and LeakSanitizer would
  // report them at exit; what this thread allocates from here on is not checked for leaks. In a
  // process that never starts MPI (every other test) nothing changes.
  __lsan_disable();
#endif
  check(MPI_Init(&argc, &argv), "MPI_Init");
  prctl(PR_SET_TIMERSLACK, 1UL);  // wait_for's short naps (see mpi_worker.cpp)
  // Errors come back as codes, which the benchmark reports, instead of aborting the process.
  MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

class Mpi final : public Model {
 public:
  // W - 1 ranks start here, outside the timed region, and live as long as the model, as
  // process_pool's workers do; this process is the W-th worker, as OpenMP's master thread and
  // the thread that enters a oneTBB arena are. A separate root that only waited would poll
  // (MPI has no sleeping wait on shared memory) and take a core from the ranks computing.
  // With --mpi_hosts the ranks are placed on the hostfile's hosts.
  explicit Mpi(int workers) : workers_(workers) {
    if (workers == 1) return;  // this process alone, as an OpenMP team of one
    start_mpi();
    MPI_Info info = MPI_INFO_NULL;
    if (!hostfile().empty()) {
      MPI_Info_create(&info);
      MPI_Info_set(info, "hostfile", hostfile().c_str());
    }
    std::vector<int> errors(static_cast<size_t>(workers - 1), MPI_SUCCESS);
    char* no_args[] = {nullptr};
    const int rc = MPI_Comm_spawn(CONCBENCH_MPI_WORKER_PATH, no_args, workers - 1, info, 0, MPI_COMM_SELF,
                                  &ranks_, errors.data());
    if (info != MPI_INFO_NULL) MPI_Info_free(&info);
    check(rc, "MPI_Comm_spawn of " CONCBENCH_MPI_WORKER_PATH);
    for (int e : errors) check(e, "MPI_Comm_spawn: a rank did not start");
    MPI_Comm_set_errhandler(ranks_, MPI_ERRORS_RETURN);
  }

  ~Mpi() override {
    if (ranks_ == MPI_COMM_NULL) return;
    MpiCommand quit;
    if (broadcast(quit) == MPI_SUCCESS) MPI_Comm_disconnect(&ranks_);
  }

  int64_t sum(const Problem& p) override {
    const Slice mine = slice_of(p.n, workers_, 0);
    if (ranks_ == MPI_COMM_NULL) return sum_slice(p, mine.begin, mine.end);
    MpiCommand c;
    c.op = MpiCommand::kSum;
    c.kernel = static_cast<int32_t>(p.kernel);
    c.n = p.n;
    c.repeat = p.repeat;
    c.report_pids = p.log != nullptr;
    c.parts = workers_;
    check(broadcast(c), "MPI_Ibcast");
    // The ranks' partial sums are reduced while this process sums its own slice.
    int64_t theirs = 0;
    MPI_Request request;
    check(MPI_Ireduce(nullptr, &theirs, 1, MPI_INT64_T, MPI_SUM, MPI_ROOT, ranks_, &request), "MPI_Ireduce");
    const int64_t own = sum_slice(p, mine.begin, mine.end);
    check(wait_for(request), "MPI_Ireduce");
    if (p.log) {
      std::vector<int> pids(static_cast<size_t>(workers_ - 1));
      check(MPI_Igather(nullptr, 0, MPI_INT, pids.data(), 1, MPI_INT, MPI_ROOT, ranks_, &request), "MPI_Igather");
      check(wait_for(request), "MPI_Igather");
      for (int pid : pids) p.log->add(pid);
    }
    return own + theirs;
  }

  Usage live_children_usage() const override {
    if (ranks_ == MPI_COMM_NULL) return {};
    MpiCommand c;
    c.op = MpiCommand::kUsage;
    double fields[4] = {0, 0, 0, 0};
    MPI_Request request;
    if (broadcast(c) != MPI_SUCCESS ||
        MPI_Ireduce(nullptr, fields, 4, MPI_DOUBLE, MPI_SUM, MPI_ROOT, ranks_, &request) != MPI_SUCCESS ||
        wait_for(request) != MPI_SUCCESS)
      return {};
    return {fields[0], fields[1], fields[2], fields[3]};
  }

 private:
  // Every rank is told `c` (this process is the broadcast's root).
  int broadcast(MpiCommand& c) const {
    MPI_Request request;
    const int rc = MPI_Ibcast(&c, sizeof c, MPI_BYTE, MPI_ROOT, ranks_, &request);
    return rc == MPI_SUCCESS ? wait_for(request) : rc;
  }

  int workers_;
  mutable MPI_Comm ranks_ = MPI_COMM_NULL;  // the intercommunicator to the spawned ranks
};

}  // namespace

void set_mpi_hostfile(const std::string& path) { hostfile() = path; }

std::string mpi_library() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(text, &len);  // one of the few calls allowed before MPI_Init
  std::string v(text, static_cast<size_t>(len));
  const auto comma = v.find(',');
  return comma == std::string::npos ? v : v.substr(0, comma);
}

void finish_mpi() {
  int started = 0, finished = 0;
  MPI_Initialized(&started);
  MPI_Finalized(&finished);
  if (started && !finished) MPI_Finalize();
}

std::unique_ptr<Model> make_mpi(int workers) { return std::make_unique<Mpi>(workers); }

}  // namespace concbench::sum
