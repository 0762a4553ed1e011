// SPDX-License-Identifier: MIT
// Every sum model returns the exact sum, and a failing worker process is an error, never a hang or a zombie.
#include <gtest/gtest.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <latch>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <tbb/global_control.h>

#include "common/arena.h"
#include "common/context.h"
#include "common/process.h"
#include "common/spin.h"
#include "common/thread_pool.h"
#include "proc.h"
#include "skip.h"
#include "sum/kernel.h"
#include "sum/model.h"
#include "sum/suite.h"
#include "thread_limit.h"
#include "timed_loop.h"

namespace concbench::sum {
namespace {

// MPI, started by the mpi model's tests, ends with the test program, as it does with the
// benchmark binary: its daemon holds the program's output open until then, and ctest waits.
class MpiEnd : public ::testing::Environment {
 public:
  void TearDown() override { finish_mpi(); }
};
::testing::Environment* const mpi_end = ::testing::AddGlobalTestEnvironment(new MpiEnd);

using test::children_of;
using test::open_fds;
using test::processes;
using test::ProcessStat;

std::vector<pid_t> child_pids() { return children_of(getpid()); }

int child_count() { return static_cast<int>(child_pids().size()); }

// True when this process has no child left, reaped or not.
bool no_children() {
  errno = 0;
  return waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

// A straightforward reference, independent of the kernels and of exact_sum's formula.
int64_t reference_sum(int64_t n) {
  int64_t s = 0;
  for (int64_t i = 0; i < n; ++i) s += i;
  return s;
}

TEST(SumKernel, ExactSumMatchesAReferenceLoop) {
  for (int64_t n : {0, 1, 2, 3, 31, 32, 33, 1000, 65537}) EXPECT_EQ(exact_sum(n), reference_sum(n)) << n;
  EXPECT_EQ(exact_sum(100'000'000), 4'999'999'950'000'000);
  EXPECT_THROW(exact_sum(5'000'000'000), std::overflow_error);
}

TEST(SumKernel, RangeAndArrayAgreeWithTheReferenceOnEveryBoundary) {
  std::vector<int64_t> values(5000);
  std::iota(values.begin(), values.end(), 0);
  // Block boundaries of every vector width (2, 4 or 8 lanes, unrolled 4x) and odd offsets.
  for (int64_t begin : {0, 1, 7, 31, 33}) {
    for (int64_t len : {0, 1, 15, 16, 31, 32, 33, 63, 64, 65, 1000, 4000}) {
      int64_t expected = reference_sum(begin + len) - reference_sum(begin);
      EXPECT_EQ(sum_range(begin, begin + len), expected) << begin << "+" << len;
      EXPECT_EQ(sum_array(values.data() + begin, len), expected) << begin << "+" << len;
    }
  }
}

TEST(SumKernel, RangeIsExactNearTheTopOfItsDomain) {
  // The last integers before 4e9 (the suite's largest n): values that overflow 32 bits.
  const int64_t end = 4'000'000'000;
  EXPECT_EQ(sum_range(end - 100, end), 100 * (end - 100) + 99 * 100 / 2);
  EXPECT_EQ(sum_range(0, 0), 0);
  EXPECT_EQ(sum_range(5, 5), 0);
}

TEST(SumKernel, SlicesCoverTheRangeContiguouslyAndEvenly) {
  for (int64_t n : {0, 1, 2, 5, 7, 100, 101, 1'000'003}) {
    for (int parts : {1, 2, 3, 4, 8, 13}) {
      int64_t next = 0, smallest = n, largest = 0;
      for (int i = 0; i < parts; ++i) {
        Slice s = slice_of(n, parts, i);
        EXPECT_EQ(s.begin, next);
        EXPECT_LE(s.begin, s.end);
        smallest = std::min(smallest, s.end - s.begin);
        largest = std::max(largest, s.end - s.begin);
        next = s.end;
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(largest - smallest, 1) << n << "/" << parts;
    }
  }
}

class EveryModel : public ::testing::TestWithParam<ModelInfo> {};

TEST_P(EveryModel, ReturnsTheExactSumForEveryShapeOfInput) {
  const ModelInfo& info = GetParam();
  // 0, 1, fewer elements than workers, uneven splits, and n = 100003 whose sum (about 5e9)
  // overflows a 32-bit accumulator.
  const std::vector<int64_t> sizes = {0, 1, 2, 7, 1000, 4099, 100'003, 3'000'017};
  std::vector<int64_t> values(sizes.back());
  std::iota(values.begin(), values.end(), 0);
  auto every_shape = [&] {
    for (int workers : {1, 2, 3, 5}) {
      // One model instance serves many calls, as in a benchmark, so reuse is tested too.
      auto model = info.make(workers);
      for (Kernel kernel : {Kernel::range, Kernel::array}) {
        for (int64_t n : sizes) {
          Problem p{kernel, n, kernel == Kernel::array ? values.data() : nullptr};
          EXPECT_EQ(model->sum(p), reference_sum(n))
              << info.name << " " << kernel_name(kernel) << " workers=" << workers << " n=" << n;
        }
      }
    }
  };
  // MPI's runtime (its daemon, a child process, and the sockets and shared memory it keeps per
  // spawn) is the process's until finish_mpi(): it is warmed by a first pass, and a second must
  // leave nothing more behind.
  if (info.name == "mpi") every_shape();
  const int fds_before = open_fds();
  const int children_before = child_count();
  every_shape();
  EXPECT_EQ(open_fds(), fds_before) << info.name << " leaked file descriptors";
  EXPECT_EQ(child_count(), children_before) << info.name << " left a child process";
  if (info.name != "mpi") {
    EXPECT_TRUE(no_children()) << info.name << " left a child process";
  }
}

// The benchmarks fill the array with 0, 1, ..., n - 1, so the range kernel gives the same answer:
// a model whose workers summed their indices instead of the array would pass every answer check.
// Here the array holds values that are not their indices (negative ones too).
TEST_P(EveryModel, TheArrayKernelSumsTheArrayNotItsIndices) {
  const ModelInfo& info = GetParam();
  std::vector<int64_t> values(100'003);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int64_t>((i * 7919) % 1'000'003) - 500'000;
  // The first n values, summed by a plain loop.
  const auto total = [](const std::vector<int64_t>& v, int64_t n) {
    return std::accumulate(v.begin(), v.begin() + n, int64_t{0});
  };
  for (int workers : {1, 2, 3}) {
    auto model = info.make(workers);
    for (int64_t n : {1, 7, 4099, 100'003}) {
      ASSERT_NE(total(values, n), reference_sum(n));
      Problem p{Kernel::array, n, values.data()};
      EXPECT_EQ(model->sum(p), total(values, n)) << info.name << " workers=" << workers << " n=" << n;
    }
  }
  // A model may keep what it was given (mpi's ranks keep their slices): the same array again,
  // another array of the same n, a range call between them, and the first array once more.
  std::vector<int64_t> other(values.size());
  for (size_t i = 0; i < other.size(); ++i) other[i] = 3 - 2 * values[i];
  auto model = info.make(2);
  const int64_t n = static_cast<int64_t>(values.size());
  const auto check = [&](const std::vector<int64_t>& array, const char* which) {
    EXPECT_EQ(model->sum(Problem{Kernel::array, n, array.data()}), total(array, n)) << info.name << which;
  };
  check(values, ": the first array");
  check(values, ": the first array again");
  check(other, ": another array of the same n");
  EXPECT_EQ(model->sum(Problem{Kernel::range, n, nullptr}), reference_sum(n)) << info.name;
  check(values, ": the first array after a range call");
}

// A name that says W workers means W: every model can run one call's slices on W distinct
// threads or processes, at every n of the sweeps (also where tbb would not split a range below
// its grain); more than the hardware threads cannot all run at once, so a work-sharing model's
// running workers may take the others' slices, and min(W, hardware threads) is what counts, as
// in the benchmarks. They need not use them all in every small call: the benchmarks report the
// mean as workers_used.
TEST_P(EveryModel, RunsOneCallsSlicesOnAsManyWorkersAsItsNameSays) {
  const ModelInfo& info = GetParam();
  // With one hardware thread, wanted would be 1 for every W and the test would prove nothing.
  const int hardware = usable_cpus();
  if (hardware < 2) CONCBENCH_SKIP("needs two hardware threads to see two workers, this machine has 1");
  for (int workers : {1, 2, 3}) {
    auto model = info.make(workers);
    for (int64_t n : {1000, 100'003, 10'000'000}) {
      SliceLog log;
      Problem p{Kernel::range, n, nullptr};
      p.log = &log;
      const int wanted = info.parallel ? std::min(workers, hardware) : 1;
      int most = 0;
      // Long, for a loaded machine: a model that uses W is done within a few calls.
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (most < wanted && std::chrono::steady_clock::now() < give_up) {
        log.clear();
        ASSERT_EQ(model->sum(p), reference_sum(n));
        most = std::max(most, log.distinct());
      }
      EXPECT_GE(most, wanted) << info.name << " workers=" << workers << " n=" << n;
      EXPECT_LE(most, info.parallel ? workers : 1) << info.name << " workers=" << workers << " n=" << n;
    }
  }
}

// start_ms is the cost of building a model, its workers included: a model that keeps workers
// starts them all when it is built, and its first call starts none. oneTBB (tbb, std_par) and
// libgomp (openmp) start their threads at the first work they are given unless made to start
// them earlier, which made their start_ms read about zero. Each test runs in a process of its
// own (ctest), so the threads counted are this model's. threads and fork start theirs in every
// call, by design; seq has none.
class PersistentModel : public ::testing::TestWithParam<ModelInfo> {};

// Where a model's helpers are, counted: mpi's ranks are processes of the worker program under
// this one (grandchildren, under Open MPI's daemon, whose own threads say nothing of them);
// process_pool's, this process's children; the others', this process's threads beside this one.
int helpers_alive(std::string_view model) {
  if (model == "process_pool") return child_count();
  if (model != "mpi") return thread_count() - 1;
  const std::vector<ProcessStat> all = processes();
  std::vector<pid_t> under{getpid()};
  int ranks = 0;
  for (size_t i = 0; i < under.size(); ++i)
    for (const ProcessStat& p : all)
      if (p.ppid == under[i]) {
        under.push_back(p.pid);
        ranks += p.comm.starts_with("concbench_mpi");  // /proc's comm: the first 15 bytes of the name
      }
  return ranks;
}

TEST_P(PersistentModel, StartsItsWorkersWhenBuiltNotInItsFirstCall) {
  const ModelInfo& info = GetParam();
  for (int workers : {2, 3}) {  // 3 after 2: a runtime that keeps its threads needs one more
    auto model = info.make(workers);
    // Its helpers are there once it is built (a model that started and joined them in every
    // call would leave the counts below unchanged as well) ...
    EXPECT_GE(helpers_alive(info.name), workers - 1) << info.name << " workers=" << workers;
    // ... and its first call starts none.
    const int threads = thread_count(), children = child_count();
    Problem p{Kernel::range, 10'000'000, nullptr};
    ASSERT_EQ(model->sum(p), reference_sum(p.n)) << info.name;
    EXPECT_EQ(thread_count(), threads) << info.name << " workers=" << workers << " started threads in its first call";
    EXPECT_EQ(child_count(), children) << info.name << " workers=" << workers << " started processes in its first call";
  }
}

std::vector<ModelInfo> persistent_models() {
  std::vector<ModelInfo> kept;
  for (const ModelInfo& info : all_models())
    if (info.name != "seq" && info.name != "threads" && info.name != "fork") kept.push_back(info);
  return kept;
}

INSTANTIATE_TEST_SUITE_P(Sum, PersistentModel, ::testing::ValuesIn(persistent_models()),
                         [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(Sum, EveryModel, ::testing::ValuesIn(all_models().begin(), all_models().end()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SumHarness, TheWorkerCheckEndsOnceACallUsedTheWorkersWantedAndAllHaveWorked) {
  using std::chrono::milliseconds;
  // (calls, spent, most in one call, wanted = min(W, cores), ever in any call, W)
  EXPECT_FALSE(worker_check_done(10, milliseconds(1), 2, 2, 2, 2));  // too few calls, too soon
  EXPECT_TRUE(worker_check_done(kWorkerCheckCalls, milliseconds(1), 2, 2, 2, 2));
  EXPECT_TRUE(worker_check_done(10, kWorkerCheckTime, 2, 2, 2, 2));
  // W = 3 threads on 2 cores: all 3 sign in, which is more than the 2 wanted, and enough.
  EXPECT_TRUE(worker_check_done(kWorkerCheckCalls, milliseconds(1), 3, 2, 3, 3));
  // Two at once is all 2 cores allow, but the third worker must have run some call's slice.
  EXPECT_FALSE(worker_check_done(kWorkerCheckCalls, kWorkerCheckTime, 2, 2, 2, 3));
  EXPECT_TRUE(worker_check_done(kWorkerCheckCalls, kWorkerCheckTime, 2, 2, 3, 3));
  // A model that never used its workers keeps trying until the bound, then stops.
  EXPECT_FALSE(worker_check_done(kWorkerCheckCalls, kWorkerCheckTime, 1, 2, 2, 2));
  EXPECT_FALSE(worker_check_done(100000, kMaxWorkerCheck - milliseconds(1), 1, 2, 1, 2));
  EXPECT_TRUE(worker_check_done(100000, kMaxWorkerCheck, 1, 2, 1, 2));
}

// The bounds' workers:W (peak/vector_add, peak/read_bw) and the bare sum's threads are on_all's
// W bodies, each on a thread of its own. Bodies that return at once are the hard case: a helper
// done with one could take a second off the shared queue before the next helper woke (without
// the start latch, tried: the test fails).
TEST(OnAll, RunsEachOfWBodiesOnAThreadOfItsOwn) {
  for (int w : {1, 2, 4, 8}) {
    ThreadPool helpers(w - 1, kCpuSpin);
    for (int call = 0; call < 200; ++call) {
      std::vector<std::thread::id> ran(w);
      on_all(helpers, w, [&](int i) { ran[i] = std::this_thread::get_id(); });
      ASSERT_EQ(std::set(ran.begin(), ran.end()).size(), static_cast<size_t>(w)) << "W = " << w << ", call " << call;
      EXPECT_EQ(ran[0], std::this_thread::get_id()) << "body 0 runs on the caller";
    }
  }
  ThreadPool one(1, kCpuSpin);  // 3 bodies would wait forever for a third thread
  EXPECT_THROW(on_all(one, 3, [](int) {}), std::logic_error);
}

// A pool worker that saw a task and lost it to the other spins on for the rest of its time
// rather than sleeping: sent to sleep at once, the second worker of a pool of two lost its first
// race and slept through the calls after it. With 100 s to spin, the whole test is inside that
// time however slow the machine (ctest stops it at 120 s), so both workers must still be
// running (yielding), neither asleep ('S'). Stopping the pool ends their spin.
TEST(ThreadPool, AWorkerThatLosesATaskSpinsOnRatherThanSleeping) {
  Countdown done;
  std::optional<ThreadPool> pool(std::in_place, 2, std::chrono::seconds(100));
  // Both workers' thread ids: two tasks that wait for each other hold one worker each.
  std::latch both(2);
  std::mutex mutex;
  std::set<pid_t> workers;
  done.arm(2);
  for (int i = 0; i < 2; ++i)
    pool->submit([&] {
      {
        std::lock_guard lock(mutex);
        workers.insert(gettid());
      }
      both.arrive_and_wait();
      done.count_down();
    });
  done.wait();
  ASSERT_EQ(workers.size(), 2u);
  for (int call = 0; call < 500; ++call) {  // one task at a time, which both workers race for
    done.arm(1);
    pool->submit([&] { done.count_down(); });
    done.wait();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (const pid_t tid : workers) {
    const std::optional<test::ProcessStat> stat = test::process_stat(tid);
    ASSERT_TRUE(stat.has_value()) << tid;
    EXPECT_NE(stat->state, 'S') << "worker " << tid << " sleeps within its time to spin";
  }
  const auto stopping = std::chrono::steady_clock::now();
  pool.reset();
  // Generous: what matters is that it does not spin out its 100 s.
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(20)) << "stopped only at the spin's end";
}

// Stopped with a task still queued, the worker runs it and then stops at once: taking it set the
// queue's count back to 0, so the worker spun out its whole time before it saw the stop.
TEST(ThreadPool, StoppingWithTasksStillQueuedRunsThemAndEndsTheSpin) {
  std::atomic<bool> release{false};
  std::atomic<int> ran{0};
  std::optional<ThreadPool> pool(std::in_place, 1, std::chrono::seconds(100));
  pool->submit([&] {
    while (!release.load()) std::this_thread::yield();
    ++ran;
  });
  pool->submit([&] { ++ran; });  // queued behind the first, still there when the stop comes
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    release = true;
  });
  const auto stopping = std::chrono::steady_clock::now();
  pool.reset();
  releaser.join();
  EXPECT_EQ(ran.load(), 2);
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(20)) << "stopped only at the spin's end";
}

// The pool models keep one Countdown for all their runs. Re-armed run after run, its wait()
// must not return before the run's last task has counted down and what every task wrote is
// visible, even when the previous run's wake-up arrives late. Tasks that return at once make
// the previous wake-up and the next run overlap.
TEST(Countdown, WaitsForEveryTaskOfEachRunWhenReArmed) {
  for (int workers : {1, 2, 8}) {
    Countdown done;  // first, as in the models: it outlives the workers
    ThreadPool pool(workers, kCpuSpin);
    for (int run = 0; run < 2000; ++run) {
      const int tasks = 1 + run % 17;
      std::vector<int> wrote(tasks, -1);
      done.arm(tasks);
      for (int i = 0; i < tasks; ++i)
        pool.submit([&, i] {
          wrote[i] = run;
          done.count_down();
        });
      done.wait();
      ASSERT_EQ(std::count(wrote.begin(), wrote.end(), run), tasks) << workers << " workers, run " << run;
    }
  }
}

TEST(SumModels, AreAllListedOnceWithSeqFirst) {
  auto models = all_models();
  ASSERT_GE(models.size(), 8u);
  EXPECT_EQ(models[0].name, "seq");
  EXPECT_FALSE(models[0].parallel);
  for (size_t i = 0; i < models.size(); ++i)
    for (size_t j = i + 1; j < models.size(); ++j) EXPECT_NE(models[i].name, models[j].name);
}

struct FaultCase {
  const char* model;
  WorkerFault fault;
  const char* message;  // a piece of the error the model must report
};

// A thread refused part-way (a pids cgroup, ulimit -u) is the benchmark's error, thrown after
// the threads already started are joined: destroyed while joinable, they ended the whole run
// with std::terminate (SIGABRT), every benchmark after it lost.
TEST(SumModels, AThreadRefusedPartWayIsAnErrorNotTheRunsEnd) {
  using test::refused;
  const auto why = test::expect_refused_threads_are_errors({
      {"ThreadPool", [] { return refused([] { ThreadPool pool(8, kCpuSpin); }); }},
      {"pool", [] { return refused([] { make_pool(8); }); }},
      // n large enough that the threads started still run when the fourth is asked for (a
      // thread that has ended no longer counts towards the limit): 5e8 each, a second or so.
      {"threads", [] {
         return refused([] { make_threads(8)->sum(Problem{Kernel::range, 4'000'000'000, nullptr}); });
       }},
  });
  if (why) CONCBENCH_SKIP(*why);
}

// When descriptors run out part-way (the third worker's pipe), the children already started
// are killed and reaped and their pipes closed: an error, not a leak.
TEST(SumModels, RunningOutOfDescriptorsMidwayLeaksNothing) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int fds_before = open_fds();
  // The limit applies to descriptor numbers: count from the lowest free one.
  const int lowest = dup(0);
  ASSERT_GE(lowest, 0);
  close(lowest);
  // fork keeps one end per child started: the third child's pipe needs lowest + 3. The pool
  // keeps two per worker: the second worker's reply pipe needs lowest + 5.
  for (auto [name, room] : {std::pair{"fork", 3}, std::pair{"process_pool", 5}}) {
    rlimit low = saved;
    low.rlim_cur = static_cast<rlim_t>(lowest + room);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    std::string message;
    try {
      auto model = std::string(name) == "fork" ? make_fork(5) : make_process_pool(5);
      model->sum(Problem{Kernel::range, 1000, nullptr});
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
    EXPECT_NE(message.find("Too many open files"), std::string::npos) << name << ": " << message;
    EXPECT_TRUE(no_children()) << name;
    EXPECT_EQ(open_fds(), fds_before) << name;
  }
}

// A pool worker that dies between calls: the next call's write to its pipe must be an error
// the benchmark reports, not a SIGPIPE that ends the whole run.
TEST(SumModels, APoolWorkerKilledBetweenCallsIsAnError) {
  auto model = make_process_pool(2, ProcessOptions{WorkerFault::none, std::chrono::seconds(5)});
  Problem p{Kernel::range, 1000, nullptr};
  ASSERT_EQ(model->sum(p), reference_sum(1000));
  // The workers are this process's only children: kill them all and wait until they are dead.
  const std::vector<pid_t> children = child_pids();
  ASSERT_EQ(children.size(), 2u);
  for (pid_t c : children) kill(c, SIGKILL);
  for (int i = 0; i < 200; ++i) {  // dead (a zombie, not yet reaped), so its pipe's read end is closed
    bool all_dead = true;
    for (pid_t c : children) {
      const std::optional<test::ProcessStat> stat = test::process_stat(c);
      all_dead = all_dead && (!stat || stat->state == 'Z');
    }
    if (all_dead) break;
    usleep(10'000);
  }
  EXPECT_THROW(model->sum(p), std::runtime_error);
  model.reset();
  EXPECT_TRUE(no_children());
}

// The timed loops hold SIGPIPE back across their calls (SigpipeHold): a pool call's pipe writes
// are then writes alone. Each held SIGPIPE itself, three more system calls a write, which put
// process_pool's per-call overhead 9-28 us above what its pipes cost.
TEST(SumModels, APoolCallUnderTheTimedLoopsHoldTouchesNoSignalMask) {
  auto model = make_process_pool(2, ProcessOptions{WorkerFault::none, std::chrono::seconds(5)});
  const Problem p{Kernel::range, 1000, nullptr};
  signal_mask_calls = 0;
  ASSERT_EQ(model->sum(p), reference_sum(1000));
  EXPECT_GE(signal_mask_calls, 3) << "outside a hold each write holds SIGPIPE itself, and the count sees it";
  {
    const SigpipeHold hold;
    signal_mask_calls = 0;
    for (int i = 0; i < 20; ++i) ASSERT_EQ(model->sum(p), reference_sum(1000));
    EXPECT_EQ(signal_mask_calls, 0);
  }
}

// ... and the harness's timed loop is under one: sum/process_pool run through Google Benchmark
// as the binary runs it. Unheld, each timed call's two pipe writes cost six mask calls; held,
// none, and what is counted is the hold's own and the untimed calls' writes: 100 calls, or 20 ms
// of them if they are slower, in each of Google Benchmark's runs of the body (its sizing runs
// too, about six), so under half as many as the last run's 0.5 s of timed calls however slow.
TEST(SumModels, TheHarnesssTimedLoopHoldsSigpipeForItsCalls) {
  Options options;
  options.workers = {2};
  options.sizes = {1000};
  options.array_sizes = {1000};
  options.scaling_n = 1000;
  register_benchmarks(make_sweep(Suite{false, 2}, options));
  signal_mask_calls = 0;
  const std::vector<test::TimedRun> runs = test::run_registered("^sum/process_pool/range/workers:2/n:1000/", 0.5);
  const int counted = signal_mask_calls;
  finish();
  ASSERT_EQ(runs.size(), 1u);
  ASSERT_EQ(runs[0].error, "");
  EXPECT_LT(counted, 3 * runs[0].iterations) << "the timed calls' writes each held SIGPIPE themselves";
  EXPECT_TRUE(no_children());
}

// ... and a worker killed between calls is still an error under the hold: the SIGPIPE its pipe
// raised is taken away when the hold ends (delivered, it would end this test program), and the
// thread's mask is as it was.
TEST(SumModels, APoolWorkerKilledUnderTheHoldIsAnErrorAndItsSigpipeIsTakenAway) {
  auto model = make_process_pool(2, ProcessOptions{WorkerFault::none, std::chrono::seconds(5)});
  const Problem p{Kernel::range, 1000, nullptr};
  ASSERT_EQ(model->sum(p), reference_sum(1000));
  const std::vector<pid_t> children = child_pids();
  ASSERT_EQ(children.size(), 2u);
  for (pid_t c : children) kill(c, SIGKILL);
  for (pid_t c : children) {
    for (int i = 0; i < 200; ++i) {
      const std::optional<test::ProcessStat> stat = test::process_stat(c);
      if (!stat || stat->state == 'Z') break;
      usleep(10'000);
    }
  }
  {
    const SigpipeHold hold;
    EXPECT_THROW(model->sum(p), std::runtime_error);
    sigset_t pending;
    ASSERT_EQ(sigpending(&pending), 0);
    EXPECT_EQ(sigismember(&pending, SIGPIPE), 1) << "the write to the dead worker raised SIGPIPE, held back";
  }
  sigset_t pending, mask;
  ASSERT_EQ(sigpending(&pending), 0);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
  ASSERT_EQ(pthread_sigmask(SIG_SETMASK, nullptr, &mask), 0);
  EXPECT_EQ(sigismember(&mask, SIGPIPE), 0);
  model.reset();
  EXPECT_TRUE(no_children());
}

// The calibration's planted slowdown (CONCBENCH_TEST_SLOWDOWN) has each worker sum a share of
// its slice a second time, in sum_slice, next to the count it reports. Every worker reports the
// elements it summed again from where it ran (a thread, a forked child, a pool process, an MPI
// rank), so a model that dropped the hook on its way to its workers, or gave it to only some
// slices, is seen here without timing anything. Whether the extra work costs time is not timed
// here: the calibration runs (results/calibration/) found the planted slowdowns in timed runs.
TEST(SumModels, TheSlowdownHookReachesEverySliceWhereverItRunsAndKeepsTheAnswer) {
  const int64_t n = 10'000'003;
  std::vector<int64_t> values(static_cast<size_t>(n));
  std::iota(values.begin(), values.end(), int64_t{0});
  for (const ModelInfo& info : all_models()) {
    auto model = info.make(2);
    for (Kernel kernel : {Kernel::range, Kernel::array}) {
      for (double repeat : {0.0, 1.0, 0.5}) {
        SliceLog log;
        Problem p{kernel, n, kernel == Kernel::array ? values.data() : nullptr};
        p.repeat = repeat;
        p.log = &log;
        EXPECT_EQ(model->sum(p), reference_sum(n)) << info.name << " repeat " << repeat;
        // Each slice repeats floor(repeat * its length): the whole at 1, within a slice count of n / 2 at 0.5.
        const auto expected = static_cast<int64_t>(repeat * static_cast<double>(n));
        EXPECT_LE(log.repeated(), expected) << info.name << " repeat " << repeat;
        EXPECT_GE(log.repeated(), expected - (repeat == 0.5 ? n / 1000 : 0)) << info.name << " repeat " << repeat;
        // From the workers of this one call: as many as it has, or one for seq.
        EXPECT_LE(log.distinct(), info.parallel ? 2 : 1) << info.name;
        EXPECT_GE(log.distinct(), 1) << info.name;
      }
    }
  }
}

class FailingWorker : public ::testing::TestWithParam<FaultCase> {};

// The processes below this one (children, theirs, ...), by command name.
std::vector<std::string> descendants() {
  const std::vector<ProcessStat> all = processes();
  std::vector<pid_t> ours{getpid()};
  std::vector<std::string> names;
  for (size_t i = 0; i < ours.size(); ++i)
    for (const ProcessStat& p : all)
      if (p.ppid == ours[i]) {
        ours.push_back(p.pid);
        names.push_back(p.comm);
      }
  return names;
}

// True once no process below this one has a name that starts with `prefix` (alive or a
// zombie), waiting up to 10 s.
bool none_left(const std::string& prefix) {
  for (int i = 0; i < 1000; ++i) {
    const auto names = descendants();
    if (std::none_of(names.begin(), names.end(), [&](const std::string& n) { return n.starts_with(prefix); }))
      return true;
    usleep(10'000);
  }
  return false;
}

std::unique_ptr<Model> make_with(const std::string& model, ProcessOptions options) {
  if (model == "fork") return make_fork(3, options);
  if (model == "process_pool") return make_process_pool(3, options);
  return make_mpi(3, options);
}

TEST_P(FailingWorker, IsAnErrorNeverAHangOrAZombie) {
  const FaultCase& c = GetParam();
  const bool mpi = std::string(c.model) == "mpi";
  ProcessOptions options{c.fault, std::chrono::milliseconds(500)};
  // A spawn that never returns is given 5 s; any other spawn the default minute, so that a slow
  // machine's start is not taken for a fault.
  if (c.fault == WorkerFault::hang_at_start) options.start_timeout = std::chrono::seconds(5);
  const int fds_before = open_fds();
  const auto started = std::chrono::steady_clock::now();
  try {
    auto model = make_with(c.model, options);
    Problem p{Kernel::range, 1'000'000, nullptr};
    try {
      model->sum(p);
      ADD_FAILURE() << "a failing worker went unnoticed";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    }
    if (std::string(c.model) != "fork") {
      EXPECT_THROW(model->sum(p), std::runtime_error) << "a broken pool must stay broken";
    }
  } catch (const std::runtime_error& e) {  // mpi's spawn
    EXPECT_EQ(c.fault, WorkerFault::hang_at_start) << e.what();
    EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    // Its spawn thread is still inside Open MPI: the process's later mpi models fail at once,
    // with the same reason, rather than each waiting out a spawn of its own.
    const auto again = std::chrono::steady_clock::now();
    try {
      make_mpi(2, ProcessOptions{});
      ADD_FAILURE() << "an mpi model was built after a spawn hung";
    } catch (const std::runtime_error& later) {
      EXPECT_NE(std::string(later.what()).find("MPI cannot be used again in this process: " + std::string(c.message)),
                std::string::npos) << later.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - again, std::chrono::seconds(1));
  }
  // Bounded by the timeouts, with room for a loaded machine.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
  if (mpi) {
    // Open MPI's daemon (orted, a child of this process) stays until MPI ends; no rank may.
    EXPECT_TRUE(none_left("concbench_mpi")) << "a rank was left behind";
    return;
  }
  EXPECT_TRUE(no_children());
  EXPECT_EQ(open_fds(), fds_before);
}

// A rank that answers wrong cannot know it: the model returns the wrong sum, which the
// benchmark's check of every untimed call turns into an error (see test_sum_labels.py).
TEST(SumModels, AnMpiRanksWrongAnswerReachesTheCaller) {
  auto model = make_mpi(3, ProcessOptions{WorkerFault::garbage, std::chrono::seconds(30)});
  EXPECT_EQ(model->sum(Problem{Kernel::range, 1000, nullptr}), reference_sum(1000) + 1);
}

// After an mpi model's rank died, the process can still run the next mpi model: ./bench runs
// a model's benchmarks in one process.
TEST(SumModels, AnMpiModelWorksAfterAnotherFailed) {
  {
    auto broken = make_mpi(2, ProcessOptions{WorkerFault::crash, std::chrono::seconds(30)});
    EXPECT_THROW(broken->sum(Problem{Kernel::range, 1000, nullptr}), std::runtime_error);
  }
  auto model = make_mpi(3, ProcessOptions{});
  EXPECT_EQ(model->sum(Problem{Kernel::range, 100'003, nullptr}), reference_sum(100'003));
  EXPECT_EQ(model->placement().rfind("ranks on ", 0), 0u) << model->placement();
}

// A rank that stops answering between the last call and the model's end (here: stopped with
// SIGSTOP): ending the model (quit, then a barrier with a deadline) gives up on it and kills it
// instead of waiting for good in MPI_Comm_disconnect.
TEST(SumModels, AnMpiRankThatHangsAfterTheLastCallCannotHangTheEnd) {
  ProcessOptions options;
  options.start_timeout = std::chrono::seconds(10);
  auto model = make_mpi(3, options);
  ASSERT_EQ(model->sum(Problem{Kernel::range, 1000, nullptr}), reference_sum(1000));
  std::vector<pid_t> ranks;
  for (pid_t child : child_pids())  // the ranks are the children of Open MPI's daemon, our child
    for (pid_t pid : children_of(child)) ranks.push_back(pid);
  ASSERT_EQ(ranks.size(), 2u);
  kill(ranks[0], SIGSTOP);
  const auto started = std::chrono::steady_clock::now();
  model.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
  EXPECT_TRUE(none_left("concbench_mpi")) << "a rank was left behind";
}

INSTANTIATE_TEST_SUITE_P(
    Sum, FailingWorker,
    ::testing::Values(FaultCase{"fork", WorkerFault::crash, "killed by signal 9"},
                      FaultCase{"fork", WorkerFault::exit_early, "exited with status 3"},
                      FaultCase{"fork", WorkerFault::garbage, "sent garbage"},
                      FaultCase{"fork", WorkerFault::hang, "timed out"},
                      FaultCase{"process_pool", WorkerFault::crash, "died without an answer"},
                      FaultCase{"process_pool", WorkerFault::exit_early, "exited with status 3"},
                      FaultCase{"process_pool", WorkerFault::garbage, "sent garbage"},
                      FaultCase{"process_pool", WorkerFault::hang, "timed out"},
                      FaultCase{"mpi", WorkerFault::crash, "died"},
                      FaultCase{"mpi", WorkerFault::exit_early, "died"},
                      FaultCase{"mpi", WorkerFault::hang, "timed out"},
                      FaultCase{"mpi", WorkerFault::hang_at_start, "MPI_Comm_spawn did not return within 5 s"}),
    [](const auto& info) { return std::string(info.param.model) + "_" + fault_name(info.param.fault); });

// An arena whose threads oneTBB does not start says so when it gives up waiting, not 5 s of
// silence. Capping the process at one thread (the lowest cap of those alive wins) starves it.
TEST(WorkerArena, SaysWhenItsThreadsDidNotStart) {
  tbb::global_control one_thread(tbb::global_control::max_allowed_parallelism, 1);
  testing::internal::CaptureStderr();
  WorkerArena arena(2);
  arena.initialize();
  const std::string said = testing::internal::GetCapturedStderr();
  EXPECT_NE(said.find("oneTBB had not started 2 arena threads after 5 s"), std::string::npos) << said;
}

}  // namespace
}  // namespace concbench::sum
