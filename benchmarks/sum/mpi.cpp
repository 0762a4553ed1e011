// SPDX-License-Identifier: MIT
// sum/mpi: W Open MPI ranks spawned once per model (MPI_Comm_spawn), the problem broadcast, partial sums reduced.
#include <dirent.h>
#include <mpi.h>
#include <sys/prctl.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/process.h"
#include "sum/model.h"
#include "sum/mpi_protocol.h"

namespace concbench::sum {
namespace {

std::string& hostfile() {
  static std::string path;
  return path;
}

// Why MPI can no longer be used in this process, or empty: a spawn that never returned leaves
// a thread inside Open MPI for good (see Mpi::spawn), and no MPI call may follow it.
std::string& unusable() {
  static std::string why;
  return why;
}

using Clock = std::chrono::steady_clock;

std::string seconds_text(std::chrono::milliseconds d) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", static_cast<double>(d.count()) / 1000);
  return text;
}

// True when the command line of `pid` has the argument `token`.
bool has_argument(pid_t pid, const std::string& token) {
  const std::string cmdline = proc_file(pid, "cmdline");
  size_t at = 0;
  for (size_t end; (end = cmdline.find('\0', at)) != std::string::npos; at = end + 1)
    if (cmdline.compare(at, end - at, token) == 0) return true;
  return false;
}

// The processes of this host whose command line has the argument `token`.
std::vector<pid_t> processes_with(const std::string& token) {
  std::vector<pid_t> found;
  DIR* dir = opendir("/proc");
  if (!dir) return found;
  while (dirent* e = readdir(dir)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid > 0 && has_argument(pid, token)) found.push_back(pid);
  }
  closedir(dir);
  return found;
}

// True while `pid` runs (not gone, not a zombie its parent has yet to reap) and is still the
// process with `token` on its command line (not another that was given its pid).
bool running(pid_t pid, const std::string& token) {
  const std::string text = proc_file(pid, "stat");
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] == 'Z' || text[paren + 2] == 'X')
    return false;
  return has_argument(pid, token);
}

// "MPI_Bcast: MPI_ERR_COMM: invalid communicator"
void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw std::runtime_error(std::string(what) + ": " + std::string(text, static_cast<size_t>(len)));
}

// LeakSanitizer's check runs here, once, before Open MPI starts, instead of at exit. Open MPI
// keeps allocations for the life of the process by design, so they would be reported at exit;
// and its threads (started by MPI_Init, ending in MPI_Finalize, or never after a hung spawn)
// have crashed LeakSanitizer's stop-the-world tracer at exit now and then ("Tracer caught
// signal 11", a fatal error and exit code 1 after every benchmark had passed). Everything this
// process allocated up to now is still checked; after this call no check runs at exit. In a
// process that never starts MPI (every other test) nothing changes.
void check_leaks_before_open_mpi() {
#if defined(__SANITIZE_ADDRESS__)
  __lsan_do_leak_check();
#endif
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
  // PMIx keeps the job's data in a shared-memory store (gds ds21/ds12) by default; with it,
  // Debian's Open MPI 4.1 with PMIx 4.2 now and then never completes a spawn (README, "mpi").
  // The hash store (in each process) avoided it: measured here on the test that spawns most,
  // 5 hangs in 40 runs with the default store, none in 40 with hash between them, none in 80 more.
  setenv("PMIX_MCA_gds", "hash", 0);
  int argc = 0;
  char** argv = nullptr;
  check_leaks_before_open_mpi();
  // Serialized: the spawn runs on a thread of its own, so that it can be given a deadline,
  // while this thread waits; no two threads ever call MPI at once.
  int provided = 0;
  check(MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
  if (provided < MPI_THREAD_SERIALIZED) throw std::runtime_error("MPI_Init_thread: MPI_THREAD_SERIALIZED not provided");
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
  Mpi(int workers, ProcessOptions options) : workers_(workers), options_(options) {
    if (workers == 1) return;  // this process alone, as an OpenMP team of one
    if (!unusable().empty()) throw std::runtime_error("MPI cannot be used again in this process: " + unusable());
    start_mpi();
    static int spawns = 0;
    token_ = "--spawn=" + std::to_string(getpid()) + "." + std::to_string(++spawns);
    spawn();
    introduce();
  }

  ~Mpi() override {
    if (ranks_ == MPI_COMM_NULL || !broken_.empty()) return;  // a failed model's ranks are already killed
    try {
      // Quit, then a barrier with a deadline: the broadcast may complete here before a dead or
      // hung rank has taken it, and MPI_Comm_disconnect, which has no deadline, waits for every
      // rank. Only after the barrier is the disconnect sure to end.
      io_->command = MpiCommand{};
      tell(io_->command, Clock::now() + options_.start_timeout);
      MPI_Request request;
      must(MPI_Ibarrier(ranks_, &request), "MPI_Ibarrier");
      await(request, Clock::now() + options_.start_timeout, "the ranks' quit");
      MPI_Comm_disconnect(&ranks_);
    } catch (...) {
      // fail() has killed the ranks of this host and abandoned the intercommunicator
    }
  }

  int64_t sum(const Problem& p) override {
    const Slice mine = slice_of(p.n, workers_, 0);
    if (workers_ == 1) return sum_slice(p, mine.begin, mine.end);
    if (!broken_.empty()) throw std::runtime_error("the model failed earlier: " + broken_);
    const auto deadline = Clock::now() + options_.timeout;
    MpiCommand& c = io_->command;
    c = MpiCommand{};
    c.op = MpiCommand::kSum;
    c.kernel = static_cast<int32_t>(p.kernel);
    c.n = p.n;
    c.repeat = p.repeat;
    c.report_pids = p.log != nullptr;
    c.parts = workers_;
    // The array kernel's ranks sum the caller's values, not numbers of their own: each gets its
    // slice once, in the first (untimed) call with this array and n, and keeps it, as a
    // distributed-memory program keeps the part of the data it owns. The caller must not change
    // the values of an array it has passed (the benchmarks never do).
    c.scatter = p.kernel == Kernel::array && (p.values != scattered_values_ || p.n != scattered_n_);
    if (c.scatter) {
      // Allocated before the ranks are told: a bad_alloc after it would leave them waiting in
      // the scatter while this process went on to quit. As large as the first round, the
      // largest (a chunk a rank, or its whole slice if smaller), not W - 1 chunks for any n.
      const auto ranks = static_cast<size_t>(workers_ - 1);
      io_->counts.assign(ranks, 0);
      io_->displs.assign(ranks, 0);
      size_t first_round = 0;
      for (int r = 1; r < workers_; ++r) first_round += static_cast<size_t>(scatter_count(p.n, workers_, r, 0));
      io_->staging.resize(first_round);
    }
    tell(c, deadline);
    MPI_Request request;
    if (c.scatter) {
      scattered_values_ = nullptr;  // until every rank has its slice
      for (int64_t k = 0, rounds = scatter_rounds(p.n, workers_); k < rounds; ++k) {
        int at = 0;
        for (int r = 1; r < workers_; ++r) {
          const int count = scatter_count(p.n, workers_, r, k);
          std::copy_n(p.values + slice_of(p.n, workers_, r).begin + k * kScatterChunk, count, io_->staging.data() + at);
          io_->counts[static_cast<size_t>(r - 1)] = count;
          io_->displs[static_cast<size_t>(r - 1)] = at;
          at += count;
        }
        must(MPI_Iscatterv(io_->staging.data(), io_->counts.data(), io_->displs.data(), MPI_INT64_T, nullptr, 0,
                           MPI_INT64_T, MPI_ROOT, ranks_, &request),
             "MPI_Iscatterv");
        await(request, deadline, "MPI_Iscatterv");
      }
      std::vector<int64_t>().swap(io_->staging);
      scattered_values_ = p.values;
      scattered_n_ = p.n;
    }
    // The ranks' partial sums are reduced while this process sums its own slice.
    io_->theirs = 0;
    must(MPI_Ireduce(nullptr, &io_->theirs, 1, MPI_INT64_T, MPI_SUM, MPI_ROOT, ranks_, &request), "MPI_Ireduce");
    const int64_t own = sum_slice(p, mine.begin, mine.end);
    await(request, deadline, "MPI_Ireduce");
    if (p.log) {  // each rank says who summed its slice, as the other models' workers do
      io_->pids.assign(static_cast<size_t>(workers_ - 1), 0);
      must(MPI_Igather(nullptr, 0, MPI_INT, io_->pids.data(), 1, MPI_INT, MPI_ROOT, ranks_, &request), "MPI_Igather");
      await(request, deadline, "MPI_Igather");
      io_->repeated.assign(static_cast<size_t>(workers_ - 1), 0);
      must(MPI_Igather(nullptr, 0, MPI_INT64_T, io_->repeated.data(), 1, MPI_INT64_T, MPI_ROOT, ranks_, &request),
           "MPI_Igather");
      await(request, deadline, "MPI_Igather");
      for (size_t i = 0; i < io_->pids.size(); ++i) {
        // A rank on another host can have the pid of a thread here or of another host's rank:
        // it is counted by its rank, as a negative id no thread has.
        p.log->add(i < rank_here_.size() && rank_here_[i] ? io_->pids[i] : -1 - static_cast<int>(i), io_->repeated[i]);
      }
    }
    return own + io_->theirs;
  }

  // Throws, as sum() does, when the ranks do not answer: the benchmark reports it.
  Usage live_children_usage() override {
    if (ranks_ == MPI_COMM_NULL) return {};
    if (!broken_.empty()) throw std::runtime_error("the model failed earlier: " + broken_);
    const auto deadline = Clock::now() + options_.timeout;
    io_->command = MpiCommand{};
    io_->command.op = MpiCommand::kUsage;
    tell(io_->command, deadline);
    double* fields = io_->fields;
    std::fill(fields, fields + 4, 0.0);
    MPI_Request request;
    must(MPI_Ireduce(nullptr, fields, 4, MPI_DOUBLE, MPI_SUM, MPI_ROOT, ranks_, &request), "MPI_Ireduce");
    await(request, deadline, "MPI_Ireduce");
    return {fields[0], fields[1], fields[2], fields[3]};
  }

  std::string placement() const override {
    if (ranks_info_.empty()) return {};
    std::string text = "ranks on ";
    for (size_t i = 0; i < ranks_info_.size(); ++i) {
      if (i > 0) text += ',';
      text += ranks_info_[i].host;
    }
    return text;
  }

 private:
  // MPI_Comm_spawn, on a thread of its own with a deadline. Open MPI's spawn has hung for good
  // here (inside PMIx_Lookup) and cannot be interrupted; past the deadline its ranks are killed
  // (found by the token in their command line), the thread is left where it is, and MPI is not
  // used again in this process: the benchmark fails with the reason instead of hanging.
  void spawn() {
    struct Call {
      std::mutex mutex;
      std::condition_variable finished_cv;
      bool finished = false;
      int rc = MPI_SUCCESS;
      MPI_Comm comm = MPI_COMM_NULL;
      std::vector<int> errors;
      std::vector<std::string> args;
      MPI_Info info = MPI_INFO_NULL;
    };
    auto call = std::make_shared<Call>();
    call->errors.assign(static_cast<size_t>(workers_ - 1), MPI_SUCCESS);
    call->args.push_back(token_);
    if (options_.fault != WorkerFault::none) call->args.push_back(std::string("--fault=") + fault_name(options_.fault));
    if (!hostfile().empty()) {
      MPI_Info_create(&call->info);
      MPI_Info_set(call->info, "hostfile", hostfile().c_str());
    }
    std::thread spawner([call] {
      std::vector<char*> argv;
      for (std::string& a : call->args) argv.push_back(a.data());
      argv.push_back(nullptr);
      MPI_Comm comm = MPI_COMM_NULL;
      const int rc = MPI_Comm_spawn(CONCBENCH_MPI_WORKER_PATH, argv.data(), static_cast<int>(call->errors.size()),
                                    call->info, 0, MPI_COMM_SELF, &comm, call->errors.data());
      std::lock_guard lock(call->mutex);
      call->rc = rc;
      call->comm = comm;
      call->finished = true;
      call->finished_cv.notify_all();
    });
    std::unique_lock lock(call->mutex);
    if (!call->finished_cv.wait_for(lock, options_.start_timeout, [&] { return call->finished; })) {
      lock.unlock();
      spawner.detach();
      // How many ranks had started says where the spawn stuck: launching them, or connecting.
      const size_t started = processes_with(token_).size();
      unusable() = "MPI_Comm_spawn did not return within " + seconds_text(options_.start_timeout) + " (" +
                   std::to_string(started) + " of " + std::to_string(workers_ - 1) + " ranks were running)";
      kill_ranks();
      throw std::runtime_error(unusable() + "; its ranks were killed, and MPI cannot be used again in this process");
    }
    lock.unlock();
    spawner.join();
    if (call->info != MPI_INFO_NULL) MPI_Info_free(&call->info);
    ranks_ = call->comm;
    if (ranks_ != MPI_COMM_NULL) MPI_Comm_set_errhandler(ranks_, MPI_ERRORS_RETURN);
    try {
      check(call->rc, "MPI_Comm_spawn of " CONCBENCH_MPI_WORKER_PATH);
      for (int e : call->errors) check(e, "MPI_Comm_spawn: a rank did not start");
    } catch (const std::runtime_error& e) {
      fail(e.what());  // the ranks that did start are killed
    }
  }

  // Each rank says where it runs: its host for the record, its pid so that a rank of this host
  // that dies ends a wait at once. A rank is this host's when its pid is one of the processes
  // here with the spawn's token (a host name can be shared by cloned machines); until the
  // ranks have answered, those processes are the ones watched.
  void introduce() {
    local_pids_ = processes_with(token_);
    const std::vector<pid_t> here = local_pids_;
    io_->ranks.assign(static_cast<size_t>(workers_ - 1), MpiRankInfo{});
    MPI_Request request;
    must(MPI_Igather(nullptr, 0, MPI_BYTE, io_->ranks.data(), sizeof(MpiRankInfo), MPI_BYTE, MPI_ROOT, ranks_,
                     &request),
         "MPI_Igather");
    await(request, Clock::now() + options_.start_timeout, "the ranks' first message");
    ranks_info_ = io_->ranks;
    local_pids_.clear();
    rank_here_.clear();
    for (MpiRankInfo& rank : ranks_info_) {
      rank.host[sizeof rank.host - 1] = '\0';
      // A rank of another host can have a pid of this one's: a pid of a local rank counts once.
      const bool local = std::find(here.begin(), here.end(), rank.pid) != here.end() &&
                         std::find(local_pids_.begin(), local_pids_.end(), rank.pid) == local_pids_.end();
      if (local) local_pids_.push_back(rank.pid);
      rank_here_.push_back(local);
    }
  }

  // Every rank is told `c` (this process is the broadcast's root).
  void tell(MpiCommand& c, Clock::time_point deadline) const {
    MPI_Request request;
    must(MPI_Ibcast(&c, sizeof c, MPI_BYTE, MPI_ROOT, ranks_, &request), "MPI_Ibcast");
    await(request, deadline, "MPI_Ibcast");
  }

  // Waits for `request` until it completes, a rank of this host dies, or the deadline passes.
  void await(MPI_Request& request, Clock::time_point deadline, const char* what) const {
    std::string why;
    const int rc = wait_for(request, [&] {
      for (size_t i = 0; i < local_pids_.size(); ++i) {
        if (!running(local_pids_[i], token_)) {
          why = "a rank (pid " + std::to_string(local_pids_[i]) + ") died";
          return true;
        }
      }
      if (Clock::now() < deadline) return false;
      why = "no answer from the ranks in time (timed out)";
      return true;
    });
    if (rc == kWaitGaveUp) fail(std::string(what) + ": " + why);
    must(rc, what);
  }

  // An MPI error from a call with the ranks fails the model like a dead rank.
  void must(int rc, const char* what) const {
    try {
      check(rc, what);
    } catch (const std::runtime_error& e) {
      fail(e.what());
    }
  }

  // The model cannot be trusted again: its ranks on this host are killed (those on other hosts
  // go on waiting until this process ends, when Open MPI's daemons end them), its
  // intercommunicator is left alone, since disconnecting from dead ranks would wait for them,
  // and every later call reports `why`. A request given up on stays pending and MPI may still
  // write into its buffers, so they are never freed.
  [[noreturn]] void fail(const std::string& why) const {
    broken_ = why;
    kill_ranks();
    abandoned_buffers().push_back(std::move(io_));
    throw std::runtime_error(why);
  }

  void kill_ranks() const {
    for (pid_t pid : processes_with(token_)) kill(pid, SIGKILL);
  }

  int workers_;
  ProcessOptions options_;
  std::string token_;  // --spawn=<this pid>.<count>: on the ranks' command lines
  mutable MPI_Comm ranks_ = MPI_COMM_NULL;  // the intercommunicator to the spawned ranks
  // What MPI reads and writes in the non-blocking calls: owned by the model, not by one call,
  // and leaked when the model fails (see fail()).
  struct Buffers {
    MpiCommand command;
    int64_t theirs = 0;
    double fields[4] = {0, 0, 0, 0};
    std::vector<int> pids;
    std::vector<int64_t> repeated;
    std::vector<int> counts, displs;  // one round of the array's scatter (MPI_Iscatterv)
    std::vector<int64_t> staging;     // that round's elements: MPI never reads the caller's array
    std::vector<MpiRankInfo> ranks;
  };
  mutable std::unique_ptr<Buffers> io_ = std::make_unique<Buffers>();
  // The buffers of failed models, kept until the process ends (never destroyed, so not even
  // at exit, while Open MPI's threads still run).
  static std::vector<std::unique_ptr<Buffers>>& abandoned_buffers() {
    static auto* kept = new std::vector<std::unique_ptr<Buffers>>;
    return *kept;
  }
  std::vector<MpiRankInfo> ranks_info_;
  std::vector<pid_t> local_pids_;
  std::vector<bool> rank_here_;  // by rank: its pid is a process of this host (introduce)
  mutable std::string broken_;
  // The array and n whose slices the ranks hold (Mpi::sum).
  const int64_t* scattered_values_ = nullptr;
  int64_t scattered_n_ = -1;
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
  // After a spawn that never returned, a thread is still inside Open MPI: MPI_Finalize would
  // wait for it. The process ends without it; Open MPI's daemon ends with the process.
  if (started && !finished && unusable().empty()) MPI_Finalize();
}

std::unique_ptr<Model> make_mpi(int workers, ProcessOptions options) { return std::make_unique<Mpi>(workers, options); }
std::unique_ptr<Model> make_mpi(int workers) { return make_mpi(workers, {}); }

}  // namespace concbench::sum
