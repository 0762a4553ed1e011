// SPDX-License-Identifier: MIT
// Registers every sum model over the sweeps, with one benchmark body that checks every answer.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <latch>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>
#include <set>
#include <string>
#include <string_view>
#include <tuple>

#include "common/context.h"
#include "common/process.h"
#include "common/registry.h"
#include "common/spin.h"
#include "common/thread_pool.h"
#include "sum/model.h"
#include "sum/suite.h"

namespace concbench::sum {
namespace {

constexpr int64_t kMaxRange = 4'000'000'000;  // the exact sum still fits in int64

// Test hook, never set by ./bench: CONCBENCH_TEST_MEMORY_GB=<G> has the array bound below take
// the machine's memory for G GB, so tests/test_sum_labels.py can show an array worker sweep
// left out on a machine of any size (one of 64 GB or more holds every --scaling_n's array).
std::optional<int64_t> test_memory_gb() {
  static const std::optional<int64_t> gb = []() -> std::optional<int64_t> {
    const char* text = std::getenv("CONCBENCH_TEST_MEMORY_GB");
    if (text == nullptr || *text == 0) return std::nullopt;
    char* end = nullptr;
    const long long g = std::strtoll(text, &end, 10);
    if (end == text || *end != 0 || g < 1 || g > 1'000'000)
      throw UsageError(std::string("CONCBENCH_TEST_MEMORY_GB: '") + text + "' is not a whole number of GB in 1..1000000");
    return g;
  }();
  return gb;
}

// The memory this process may use: the machine's, or its cgroups' limit where that is less (a
// container's), in bytes.
int64_t usable_memory() {
  if (test_memory_gb()) return *test_memory_gb() * 1'000'000'000;
  const int64_t machine = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
  const int64_t limit = memory_limit();
  return limit > 0 ? std::min(machine, limit) : machine;
}

// The largest array that fits in half of that with a copy of it beside it, the slices the mpi
// model's ranks keep (Mpi::sum): enough for the memory-bound story, without pushing the machine
// into swap or the process past its cgroup's limit. One copy in half the memory let sum/mpi/array
// take all of it.
int64_t max_array_size() { return usable_memory() / 2 / 2 / static_cast<int64_t>(sizeof(int64_t)); }

// The array for the current benchmark, values[i] == i, kept while consecutive calls ask for
// the same n: Google Benchmark calls a body several times (sizing the iteration count, then
// each repetition), and refilling 800 MB each time would dominate the run. It holds exactly n
// values, never more, and none for a range benchmark, because fork()'s cost grows with the
// parent's mapped memory: the 800 MB array of sum/openmp/array at n = 1e8, left mapped, made
// sum/fork/range/workers:2/n:1000 42 times slower on 2026-12-03 (1.0 ms a call alone, 43 ms
// after it).
std::vector<int64_t> values;

// Test hook, never set by ./bench: CONCBENCH_TEST_POISON_ARRAY=1 makes the array's last value one
// too many, so tests/test_sum_labels.py can show that every benchmark named array sums the
// array (each is then a wrong sum) and none named range does: both give the same answer.
bool test_poison_array() {
  static const bool on = test_switch("CONCBENCH_TEST_POISON_ARRAY");
  return on;
}

const int64_t* values_for(Kernel kernel, int64_t n) {
  const int64_t wanted = kernel == Kernel::array ? n : 0;
  if (static_cast<int64_t>(values.size()) != wanted) {
    std::vector<int64_t>().swap(values);  // free the old array before filling the new one
    values.resize(wanted);
    for (int64_t i = 0; i < wanted; ++i) values[i] = i;
    if (test_poison_array() && wanted > 0) values.back() += 1;
  }
  return kernel == Kernel::array ? values.data() : nullptr;
}

// The read-bandwidth benchmarks' buffer, filled once for all their calls.
std::vector<unsigned char> scan_buffer;

// Test hook, never set by ./bench: CONCBENCH_TEST_LEAVE_SPINNING=<model> leaves a thread
// spinning for good after that model's first benchmark, as an idle runtime that never goes to
// sleep would. tests/test_isolation.py uses it to show that a model in a process of its own
// is untouched by what another model left behind, and that a shared process is not.
std::string model_named(const char* hook, const std::string& name);

const std::string& test_leave_spinning() {
  static const std::string model = [] {
    const char* value = std::getenv("CONCBENCH_TEST_LEAVE_SPINNING");
    return value == nullptr || *value == 0 ? std::string() : model_named("CONCBENCH_TEST_LEAVE_SPINNING", value);
  }();
  return model;
}

void leave_spinning_if_asked(std::string_view model) {
  static std::once_flag once;
  if (test_leave_spinning().empty() || model != test_leave_spinning()) return;
  std::call_once(once, [] {
    std::thread([] {
      for (uint64_t spins = 0;; ++spins) benchmark::DoNotOptimize(spins);
    }).detach();
  });
}

// The bare sum taken in this process (see bare_sum).
struct BareSum {
  double seconds = 0;   // one pass; 0: not taken
  int cpus = 0;         // the distinct CPUs its threads ran on
  double cpu_util = 0;  // its CPU time over wall time: `cpus` when its threads ran at once
};

// The model of the benchmark that runs now, kept across Google Benchmark's calls of its body
// (warm-up, sizing the iteration count, each repetition): a persistent model is built once and
// measured in its steady state, as a program would use it, and its threads have had the
// warm-up to settle on the cores. A new benchmark (whose process_pool workers must be forked
// after its data is in memory) gets a new model.
struct KeptModel {
  std::string benchmark;
  std::unique_ptr<Model> model;
  double start_ms = 0;  // building it: spawning ranks, forking workers, starting threads
  BareSum bare;
} kept;

// Test hook, never set by ./bench: CONCBENCH_TEST_SLOWDOWN=<model>:<percent> makes that
// model's every slice sum its first <percent>% a second time: <percent>% more kernel work,
// done where the model does it, so the model's dispatch and its workers' spinning between
// calls are as they were (a delay between calls would let idle workers fall asleep). The time
// grows by that share where the kernel is the time (large n), less where spawning is.
// scripts/calibrate.py uses it to measure how often a known regression is found; a record made
// with it says so in its context (concbench_test_slowdown).
struct Slowdown {
  std::string model;
  double fraction = 0;
};

// `name` if a model has it; a one-line usage error naming the hook otherwise (a misspelt model
// would otherwise change nothing while the record said it had).
std::string model_named(const char* hook, const std::string& name) {
  std::string known;
  for (const ModelInfo& m : all_models()) {
    if (m.name == name) return name;
    known += (known.empty() ? "" : ", ") + std::string(m.name);
  }
  throw UsageError(std::string(hook) + ": no model '" + name + "' (models: " + known + ")");
}

const Slowdown& slowdown() {
  static const Slowdown s = [] {
    const char* text = std::getenv("CONCBENCH_TEST_SLOWDOWN");
    if (text == nullptr || *text == 0) return Slowdown{};
    const std::string spec = text;
    const auto colon = spec.find(':');
    char* end = nullptr;
    const double percent = colon == std::string::npos ? 0 : std::strtod(spec.c_str() + colon + 1, &end);
    if (colon == std::string::npos || end == spec.c_str() + colon + 1 || *end != 0 || !(percent > 0) ||
        percent > 100)
      throw UsageError("CONCBENCH_TEST_SLOWDOWN: '" + spec + "' is not MODEL:PERCENT (0 < PERCENT <= 100)");
    return Slowdown{model_named("CONCBENCH_TEST_SLOWDOWN", spec.substr(0, colon)), percent / 100};
  }();
  return s;
}

// Test hook, never set by ./bench: CONCBENCH_TEST_WRONG_SUM=<model> adds one to every answer that
// model gives; <model>:<calls> only to its timed calls after the first <calls> of them, so
// tests/test_sum_labels.py can show a wrong answer is an error, not a time, in the untimed calls
// and in the timed loop. Counting every call made the second depend on the machine's speed: how
// many untimed calls run, and when, follows Google Benchmark's choice of iterations.
struct WrongSum {
  std::string model;
  int64_t after = 0;
  mutable int64_t timed_calls = 0;  // the model's timed calls so far, in every run of its benchmarks
};

const WrongSum& wrong_sum() {
  static const WrongSum w = [] {
    const char* text = std::getenv("CONCBENCH_TEST_WRONG_SUM");
    if (text == nullptr || *text == 0) return WrongSum{};
    const std::string spec = text;
    const auto colon = spec.find(':');
    int64_t after = 0;
    if (colon != std::string::npos) {
      char* end = nullptr;
      after = std::strtoll(spec.c_str() + colon + 1, &end, 10);
      // At least 1: 0 is how no count is kept, and would be every call, untimed ones too.
      if (end == spec.c_str() + colon + 1 || *end != 0 || after < 1)
        throw UsageError("CONCBENCH_TEST_WRONG_SUM: '" + spec + "' is not MODEL[:CALLS] (CALLS at least 1)");
    }
    return WrongSum{model_named("CONCBENCH_TEST_WRONG_SUM", spec.substr(0, colon)), after};
  }();
  return w;
}

// The bare sum: the benchmark's sum computed in this process with no model, by `threads`
// threads started beforehand, one slice each, each pinned to a CPU of its own (`out.cpus`
// says how many it ran on: placement, not that they ran at once), so it is what this process
// can do with that many cores when the threads cannot be put on one. A model's time over it,
// both from one process, says what the model costs whatever the process got, and processes
// differ:
// - `array`: this VM reads the 800 MB array at two speeds with two threads, 16 or 24 ms, by
//   where the host puts the process (every model and glibc's memchr, runs of 2026-12-02 to 04).
// - `range`: two threads summed 1e8 in 1.96 ms in one process of tbb and 2.18-2.20 ms in its
//   others (run of 2537050).
// Pinned because unpinned, the helper was woken onto the main thread's CPU and the two slices
// ran one after the other: after sum/threads at W = 1 the bare sum at W = 2 took 4.0 ms, one
// thread's time, in each of 8 processes, and after pool at W = 1 in 4 of 8.
// It runs before the model is built: an mpi model's idle ranks, polling, made it read 42 ms
// against the model's own 26 ms when it ran after the timed calls. An earlier model's runtime
// threads get 20 ms to go idle first. Then untimed passes for as long as the model's untimed
// calls take (kWorkerCheckTime, and at least 3), since the model's timed calls come after those
// and Google Benchmark's trial runs: an array a few times the last-level cache reads faster
// once the cache has seen it a few times (80 MB against 32 MiB of L3 here: one thread, 3.1 ms
// a pass for the first five, then 2.8). Read cold, the bare sum made six models at n = 1e7
// take a median 0.85x of it (six processes each); read warm, 0.99x. (The default run's worker
// sweep reads 800 MB, where the warm-up changes little; it matters for a --scaling_n near the
// cache's size.) Then the median of 5 timed passes, or of more while they took under 50 ms in
// all: a pinned thread cannot move away from a CPU another process takes for a moment, and a
// median over 20 ms read 1.75x the usual time in 3 of 35 processes (over 50 ms, still once
// among the 8 models' 3 processes at range, W = 2 in the run of c811bf1: pool's 3.46 ms; the
// page reads the median over the rounds). `out.seconds` is one pass's; the result is an error
// message, or empty. `out.cpu_util` is the bare threads' CPU time over the timed passes' wall time:
// near `out.cpus` when the threads ran at once, lower when one waited (the serial passes above
// read about 1 of 2; a CPU another process took for a moment reads in between).
std::string bare_sum(const Problem& problem, int threads, int64_t expected, BareSum& out) {
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  cpu_set_t allowed;  // the main thread's CPUs, given back to it at the end
  const bool known = pthread_getaffinity_np(pthread_self(), sizeof allowed, &allowed) == 0;
  std::vector<int> cpus;
  for (int c = 0; known && c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  cpus = cores_first(cpus, sysfs_core_of);  // a core each, as the scheduler spreads the model's threads
  // Each bare thread's own CPU clock: the process's CPU time also held whatever else in it ran
  // (a thread left spinning), which passed a bare sum that thread had slowed as one that ran at once.
  std::vector<clockid_t> clocks(threads);
  std::atomic<bool> clocked = pthread_getcpuclockid(pthread_self(), &clocks[0]) == 0;
  auto threads_cpu = [&] {  // read once the helpers have theirs (pinned)
    double seconds = 0;
    for (const clockid_t clock : clocks) {
      timespec t{};
      clock_gettime(clock, &t);
      seconds += static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
    }
    return clocked ? seconds : own_usage().cpu_seconds;
  };
  auto pin = [&](int i) {
    if (cpus.empty()) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[i % cpus.size()], &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  };
  // Each helper takes one pinning task and holds its thread in it until all have one. Declared
  // before the pool, so they outlive its threads: a helper can still be inside arrive_and_wait
  // when the main thread's wait has returned.
  std::latch pinned(threads - 1);
  std::atomic<int> next{1};
  ThreadPool helpers(threads - 1, kCpuSpin);
  for (int i = 1; i < threads; ++i)
    helpers.submit([&] {
      const int mine = next++;
      pin(mine);
      if (pthread_getcpuclockid(pthread_self(), &clocks[mine]) != 0) clocked = false;
      pinned.arrive_and_wait();
    });
  pinned.wait();
  pin(0);
  struct Unpin {  // the main thread runs the model next, on every CPU it had
    const cpu_set_t* mask;
    ~Unpin() {
      if (mask) pthread_setaffinity_np(pthread_self(), sizeof *mask, mask);
    }
  } unpin{cpus.empty() ? nullptr : &allowed};
  std::vector<Partial> partial(threads);
  std::vector<int> ran_on(threads, -1);  // the CPU each slice last ran on, read in the untimed passes
  bool timed = false;
  // The problem without the model's test hook (a planted slowdown) or worker log.
  const Problem bare{problem.kernel, problem.n, problem.values};
  auto pass = [&]() -> std::string {
    on_all(helpers, threads, [&](int i) {
      if (!timed) ran_on[i] = sched_getcpu();
      const Slice s = slice_of(bare.n, threads, i);
      partial[i].value = sum_slice(bare, s.begin, s.end);
    });
    int64_t total = 0;
    for (const Partial& p : partial) total += p.value;
    if (total == expected) return "";
    return "the bare sum was wrong: got " + std::to_string(total) + ", expected " + std::to_string(expected);
  };
  const auto warming = std::chrono::steady_clock::now();
  for (int warm = 0; warm < 3 || std::chrono::steady_clock::now() - warming < kWorkerCheckTime; ++warm)
    if (std::string error = pass(); !error.empty()) return error;
  out.cpus = static_cast<int>(std::set<int>(ran_on.begin(), ran_on.end()).size());
  timed = true;
  std::vector<double> passes;
  double spent = 0;
  const double cpu_before = threads_cpu();
  const auto wall_before = std::chrono::steady_clock::now();
  while (passes.size() < 5 || (spent < 0.05 && passes.size() < 1001)) {
    const auto start = std::chrono::steady_clock::now();
    std::string error = pass();
    passes.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!error.empty()) return error;
    spent += passes.back();
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
  out.cpu_util = wall > 0 ? (threads_cpu() - cpu_before) / wall : 0;
  std::nth_element(passes.begin(), passes.begin() + passes.size() / 2, passes.end());
  out.seconds = passes[passes.size() / 2];
  return "";
}

// `take_bare`: take the bare sum first (the worker sweep's points, where the page and the targets
// read a model's time over it; at the size sweep's small n it would time on_all's dispatch).
void run_model(benchmark::State& state, const std::string& name, const ModelInfo& info,
               Kernel kernel, int workers, int64_t n, bool take_bare) {
  if (kept.benchmark != name) kept = {};  // before the new array: fork copies less
  Problem problem{kernel, n, values_for(kernel, n)};
  if (slowdown().model == info.name) problem.repeat = slowdown().fraction;
  const int64_t expected = exact_sum(n);
  // A model that says W workers can use at most min(W, hardware threads) cores at once.
  const int cpus = usable_cpus();
  const int wanted = info.parallel ? std::min(workers, cpus) : 1;
  if (!kept.model) {
    BareSum bare;  // the bound the process allows: as many threads as `wanted`, one a CPU
    if (std::string error = take_bare ? bare_sum(problem, wanted, expected, bare) : ""; !error.empty()) {
      state.SkipWithError(error.c_str());
      return;
    }
    try {
      const auto started = std::chrono::steady_clock::now();
      auto made = info.make(workers);
      kept = {name, std::move(made),
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count(), bare};
    } catch (const std::exception& e) {
      state.SkipWithError((std::string("cannot start the model: ") + e.what()).c_str());
      return;
    }
  }
  Model* model = kept.model.get();
  if (const std::string where = model->placement(); !where.empty()) state.SetLabel(where);
  // One call's answer, checked: a comparison costs nothing beside the sum, and a model that is
  // wrong once is wrong. The test hook (CONCBENCH_TEST_WRONG_SUM) is looked up here, once.
  const WrongSum* const hook = wrong_sum().model == info.name ? &wrong_sum() : nullptr;
  auto call = [&](bool timed) {
    const bool off = hook && (hook->after == 0 || (timed && ++hook->timed_calls > hook->after));
    return model->sum(problem) + (off ? 1 : 0);
  };
  auto wrong_answer = [&](int64_t got) {
    return "wrong sum: got " + std::to_string(got) + ", expected " + std::to_string(expected);
  };
  // An empty string, or why the call is not a measurement.
  auto checked_call = [&]() -> std::string {
    try {
      const int64_t got = call(false);
      return got == expected ? "" : wrong_answer(got);
    } catch (const std::exception& e) {
      return e.what();
    }
  };
  // Untimed calls first, as fetch makes an untimed round: freshly forked workers touch their
  // copy-on-write pages, new threads fault in their stacks, runtimes start lazily, so the first
  // timed call is not a cold start. They also count the threads and processes that run each
  // call's slices. A model whose name says W workers must be able to use W: OpenMP's team can
  // shrink under OMP_THREAD_LIMIT (OMP_DYNAMIC too, were it left on), a range below tbb's
  // grain used not to be split. One that never does, in any call, is an error. Work-sharing
  // models (pool, tbb, std_par) may leave a worker out of a small call, so the mean per call is
  // reported too.
  // More workers than hardware threads cannot all run at once: a work-sharing model's running
  // workers then take the slices of those waiting for a core.
  SliceLog log;
  problem.log = &log;
  const auto start = std::chrono::steady_clock::now();
  int calls = 0, most = 0;
  double total_workers = 0;
  while (true) {
    log.clear();
    if (std::string error = checked_call(); !error.empty()) {
      kept = {};  // a model that failed is not used again
      state.SkipWithError(("an untimed call failed: " + error).c_str());
      return;
    }
    ++calls;
    most = std::max(most, log.distinct());
    total_workers += log.distinct();
    const auto spent = std::chrono::steady_clock::now() - start;
    if (worker_check_done(calls, spent, most, wanted, log.ever(), info.parallel ? workers : 1)) break;
  }
  problem.log = nullptr;
  if (most < wanted) {
    kept = {};
    state.SkipWithError(("in " + std::to_string(calls) + " calls the model never ran one call's slices on more than " +
                         std::to_string(most) + " worker" + (most == 1 ? "" : "s") + ", not the " +
                         std::to_string(wanted) + " its name says (on " + std::to_string(cpus) +
                         " hardware threads)")
                            .c_str());
    return;
  }
  if (const int ever = log.ever(); info.parallel && ever < workers) {
    kept = {};
    state.SkipWithError(("in " + std::to_string(calls) + " calls only " + std::to_string(ever) + " of the " +
                         std::to_string(workers) + " workers its name says ever ran a slice (on " +
                         std::to_string(cpus) + " hardware threads)")
                            .c_str());
    return;
  }
  const double used = total_workers / calls;
  // What the live workers have used so far (mpi asks its ranks); a model that cannot say has
  // failed like a call that fails, and is not used again.
  Usage children;
  auto read_children = [&]() -> bool {
    const std::optional<Usage> usage = workers_usage_or_skip(state, *model);
    if (!usage) kept = {};
    children = usage.value_or(Usage{});
    return usage.has_value();
  };
  if (!read_children()) return;
  // What fork() copies the page tables of, and spawn and thread starts work beside: the array,
  // the model's own memory, and nothing an earlier benchmark left.
  const double rss_mb = static_cast<double>(rss_kib()) / 1024.0;
  const int threads_alive = thread_count();
  const Usage before = process_usage() + children;
  const auto wall_before = std::chrono::steady_clock::now();
  {
    // The timed calls: the call and its check, nothing else (a string made per call and the
    // hook looked up again put seq at n = 1e3 at 52 ns a call here, against 48); an exception
    // leaves the loop.
    const SigpipeHold hold;  // process models' pipe writes: one system call each (common/process.h)
    std::string error;
    try {
      for (auto _ : state) {
        if (const int64_t got = call(true); got != expected) [[unlikely]] {
          error = wrong_answer(got);
          break;
        }
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!error.empty()) {
      kept = {};  // the model is gone: nothing below may use it
      state.SkipWithError(error.c_str());
      return;
    }
  }
  // Up to the workers' replies, as `before` was taken from theirs: the CPU they spent answering
  // is in both or neither.
  if (!read_children()) return;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
  const Usage used_by_calls = process_usage() + children - before;
  leave_spinning_if_asked(info.name);
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["workers"] = workers;
  state.counters["workers_used"] = used;
  // What the model cost once, before any call (outside the timing): mpi's spawn of W - 1
  // ranks, process_pool's forks, a pool's threads.
  state.counters["start_ms"] = kept.start_ms;
  // The process's resident memory as the timed calls began, MiB.
  state.counters["rss_mb"] = rss_mb;
  // Its threads then: the model's own, those the same model's earlier benchmarks in this process
  // left (oneTBB keeps a wider arena's workers, asleep: tbb's array at W = 1 after its range at
  // W = 4 starts beside 3), and in a process shared with other models, theirs.
  state.counters["process_threads"] = threads_alive;
  // CPU time of the process and its children over wall time: 2.0 means two cores were busy.
  state.counters["cpu_util"] = wall > 0 ? used_by_calls.cpu_seconds / wall : 0;
  // Per call, from the OS, for the process, its reaped children and its live workers.
  const double timed_calls = std::max<double>(1, static_cast<double>(state.iterations()));
  state.counters["minor_faults"] = used_by_calls.minor_faults / timed_calls;
  state.counters["voluntary_switches"] = used_by_calls.voluntary_switches / timed_calls;
  state.counters["involuntary_switches"] = used_by_calls.involuntary_switches / timed_calls;
  if (kept.bare.seconds > 0) {
    state.counters["bare_s"] = kept.bare.seconds;
    state.counters["bare_cpus"] = kept.bare.cpus;
    state.counters["bare_cpu_util"] = kept.bare.cpu_util;
  }
}

// The machine's bounds, measured here so the README's targets compare against this machine.
void register_peaks(const Sweep& sweep) {
  // The vector-add issue rate of one core, and of W threads at once: W times the one-thread
  // rate is no bound where cores share execution units (SMT siblings, a throttled package).
  for (int w : std::set<int>{1, sweep.size_workers}) {
    add_benchmark("peak/vector_add/workers:" + std::to_string(w), [w](benchmark::State& state) {
      constexpr int64_t kRounds = 1 << 22;
      ThreadPool helpers(w - 1, kCpuSpin);
      // Each thread's answer checked, as every sum's is: a bound that did not add is no bound.
      std::vector<int64_t> got(w);
      const auto pass = [&] { on_all(helpers, w, [&](int i) { got[i] = vector_add_peak(kRounds); }); };
      pass();  // untimed: the new helpers' first wake-up, as the models' untimed calls absorb theirs
      for (auto _ : state) {
        pass();
        const int64_t ones = kRounds * kPeakChains * kernel_lanes();
        if (std::any_of(got.begin(), got.end(), [ones](int64_t g) { return g != ones; })) {
          state.SkipWithError("vector_add_peak added a wrong number of ones");
          break;
        }
      }
      state.counters["adds_per_second"] =
          benchmark::Counter(static_cast<double>(state.iterations()) * kRounds * kPeakChains * w,
                             benchmark::Counter::kIsRate);
      state.counters["lanes"] = kernel_lanes();
      state.counters["workers"] = w;
    });
  }
  // Read bandwidth measured with glibc's memchr, hand-tuned assembly independent of our
  // kernel, over a buffer that does not contain the byte it looks for.
  const int64_t bytes = std::min(sweep.scaling_n, max_array_size()) * int64_t{sizeof(int64_t)};
  for (int w : std::set<int>{1, sweep.size_workers}) {
    add_benchmark("peak/read_bw/workers:" + std::to_string(w) + "/bytes:" + std::to_string(bytes),
                  [w, bytes](benchmark::State& state) {
                    std::vector<unsigned char>& buffer = scan_buffer;
                    if (static_cast<int64_t>(buffer.size()) != bytes) buffer.assign(bytes, 1);
                    ThreadPool helpers(w - 1, kCpuSpin);
                    std::vector<const void*> found(w);
                    const auto pass = [&] {
                      on_all(helpers, w, [&](int i) {
                        Slice s = slice_of(bytes, w, i);
                        found[i] = std::memchr(buffer.data() + s.begin, 0, s.end - s.begin);
                      });
                    };
                    pass();  // untimed, as above
                    for (auto _ : state) {
                      pass();
                      if (std::any_of(found.begin(), found.end(), [](const void* f) { return f != nullptr; })) {
                        state.SkipWithError("memchr found a byte that is not in the buffer");
                        break;
                      }
                    }
                    state.SetBytesProcessed(state.iterations() * bytes);
                    state.counters["workers"] = w;
                  });
  }
}

// An empty hostfile or a binary one would fail only when the mpi model starts, minutes into a
// run: refuse it here. Open MPI's own parser judges the lines themselves.
void check_hostfile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("--mpi_hosts: cannot read '" + path + "'");
  std::string line;
  bool host = false;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (has_control_char(line))
      throw UsageError("--mpi_hosts: " + path + ":" + std::to_string(line_no) +
                       ": contains a control character (an Open MPI hostfile is text)");
    host = host || !listing_entry(line).empty();
  }
  if (in.bad()) throw UsageError("--mpi_hosts: error reading '" + path + "'");
  if (!host) throw UsageError("--mpi_hosts: '" + path + "' lists no hosts (one per line; # starts a comment)");
}

}  // namespace

void add_flags(FlagSet& flags, Options& options) {
  flags.add("workers", "LIST", "sum: worker counts of the worker sweep (default 1..2x hardware threads)",
            [&](const std::string& v) { options.workers = parse_int_list("workers", v, 1, 1024); });
  flags.add("sizes", "LIST", "sum: n of the range size sweep (default 1e3,1e4,...,1e9)",
            [&](const std::string& v) { options.sizes = parse_size_list("sizes", v, kMaxRange); });
  flags.add("array_sizes", "LIST", "sum: n of the array size sweep (default 1e3,...,1e8)",
            [&](const std::string& v) {
              options.array_sizes =
                  parse_size_list("array_sizes", v, std::min(kMaxRange, max_array_size()));
            });
  flags.add("mpi_hosts", "FILE",
            "sum: an Open MPI hostfile; the mpi model's ranks go to its hosts (default: this host)",
            [&](const std::string& v) {
              if (access(v.c_str(), R_OK) != 0)
                throw UsageError("--mpi_hosts: cannot read '" + v + "': " + std::strerror(errno));
              struct stat st {};
              if (stat(v.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
                throw UsageError("--mpi_hosts: '" + v + "' is not a file (an Open MPI hostfile)");
              check_hostfile(v);
              set_mpi_hostfile(v);
            });
  flags.add("scaling_n", "N", "sum: n of the worker sweep (default 1e8)", [&](const std::string& v) {
    if (v.empty()) throw UsageError("--scaling_n needs a size");
    // Up to the range kernel's bound: an n whose array would not fit leaves out only the array
    // kernel's worker sweep, and the record says so (register_benchmarks).
    auto n = parse_size_list("scaling_n", v, kMaxRange);
    if (n.size() != 1) throw UsageError("--scaling_n takes one size");
    options.scaling_n = n[0];
  });
}

Sweep make_sweep(const Suite& suite, const Options& options) {
  const int hw = suite.hardware_threads;
  Sweep s;
  if (suite.quick) {
    s.workers = {1, hw, 2 * hw};
    s.range_sizes = {1'000, 100'000, 10'000'000, 100'000'000};
    s.array_sizes = {1'000, 100'000, 10'000'000};
  } else {
    for (int w = 1; w <= 2 * hw; ++w) s.workers.push_back(w);
    for (int64_t n = 1'000; n <= 1'000'000'000; n *= 10) s.range_sizes.push_back(n);
    for (int64_t n = 1'000; n <= 100'000'000; n *= 10) s.array_sizes.push_back(n);
  }
  s.scaling_n = 100'000'000;
  s.size_workers = hw;
  if (options.workers) s.workers = *options.workers;
  if (options.sizes) s.range_sizes = *options.sizes;
  if (options.array_sizes) s.array_sizes = *options.array_sizes;
  if (options.scaling_n) s.scaling_n = *options.scaling_n;
  return s;
}

void register_benchmarks(const Sweep& sweep) {
  on_leaving_workload("sum", [] {
    kept = {};
    std::vector<int64_t>().swap(values);
    finish_mpi();
  });
  on_leaving_workload("peak", [] { std::vector<unsigned char>().swap(scan_buffer); });
  add_context("sum_kernel",
              std::to_string(kernel_lanes()) + " int64 lanes per vector, 4 accumulators");
  add_context("mpi_library", mpi_library());
  if (!slowdown().model.empty()) {
    char what[160];
    std::snprintf(what, sizeof what, "%s does %g%% more kernel work (a test hook)",
                  slowdown().model.c_str(), slowdown().fraction * 100);
    add_context("concbench_test_slowdown", what);
  }
  if (test_poison_array())  // read here, so a bad value is a usage error before anything runs
    add_context("concbench_test_poison_array", "the array's last value is one too many (a test hook)");
  if (!test_leave_spinning().empty())
    add_context("concbench_test_leave_spinning",
                test_leave_spinning() + "'s first benchmark leaves a thread spinning (a test hook)");
  if (test_memory_gb())
    add_context("concbench_test_memory_gb",
                std::to_string(*test_memory_gb()) + " GB of memory taken for the array bound (a test hook)");
  if (sweep.scaling_n > max_array_size()) {
    char what[256];
    std::snprintf(what, sizeof what,
                  "--scaling_n=%lld: its array would take %.1f GB, and the mpi model's ranks a copy of it: "
                  "more than half of the %.1f GB of memory this process may use%s",
                  static_cast<long long>(sweep.scaling_n), 8e-9 * static_cast<double>(sweep.scaling_n),
                  1e-9 * static_cast<double>(usable_memory()),
                  !test_memory_gb() && memory_limit() == usable_memory() ? " (its cgroup's limit)" : "");
    add_context("concbench_sum_array_workers_not_run", what);
  }
  if (!wrong_sum().model.empty())
    add_context("concbench_test_wrong_sum", wrong_sum().model + " answers one too many after " +
                                          std::to_string(wrong_sum().after) + " calls (a test hook)");
  // Model by model (both kernels of one model together), so each model's benchmarks are
  // contiguous: a run of the binary alone then starts MPI only after every forking model is done.
  for (const ModelInfo& info : all_models()) {
    for (Kernel kernel : {Kernel::range, Kernel::array}) {
      const auto& sizes = kernel == Kernel::range ? sweep.range_sizes : sweep.array_sizes;
      // (workers, n) points: the worker sweep at scaling_n plus the size sweep at
      // size_workers; a set orders them and drops the point the two share.
      std::set<std::pair<int, int64_t>> points;
      for (int w : sweep.workers) points.emplace(info.parallel ? w : 1, sweep.scaling_n);
      for (int64_t n : sizes) points.emplace(info.parallel ? sweep.size_workers : 1, n);
      if (kernel == Kernel::array && sweep.scaling_n > max_array_size()) {
        std::erase_if(points, [&](const auto& p) { return p.second == sweep.scaling_n; });
      }
      for (const auto& point : points) {
        const int w = point.first;
        const int64_t n = point.second;  // named copies: clang 14 cannot capture bindings
        std::string name = std::string("sum/") + std::string(info.name) + "/" +
                           kernel_name(kernel) + "/workers:" + std::to_string(w) +
                           "/n:" + std::to_string(n);
        // Microseconds up to a million elements (a call takes from 0.04 us to about a
        // millisecond there), milliseconds above.
        add_benchmark(
            name,
            [name, &info, kernel, w, n, take_bare = n == sweep.scaling_n](benchmark::State& state) {
              run_model(state, name, info, kernel, w, n, take_bare);
            },
            n <= 1'000'000 ? benchmark::kMicrosecond : benchmark::kMillisecond);
      }
    }
  }
  register_peaks(sweep);
}

void finish() {
  kept = {};
  finish_mpi();
}

}  // namespace concbench::sum
