// SPDX-License-Identifier: MIT
// The suite's own benchmark bodies seen from a test: run through Google Benchmark as the binary
// runs them, on this thread, while this thread's signal-mask calls are counted. Include it in
// one file of a test program: it defines the program's pthread_sigmask and sigpending.
#pragma once

#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

// This thread's calls that change its signal mask or read its pending signals, counted on
// their way to libc's (the executable's definitions come first): what a pipe write costs on
// top of the write outside a SigpipeHold (common/process.h), three calls.
thread_local int signal_mask_calls = 0;

extern "C" int pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
  using Real = int (*)(int, const sigset_t*, sigset_t*);
  static const auto real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "pthread_sigmask"));
  ++signal_mask_calls;
  return real(how, set, old);
}

extern "C" int sigpending(sigset_t* set) {
  using Real = int (*)(sigset_t*);
  static const auto real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "sigpending"));
  ++signal_mask_calls;
  return real(set);
}

namespace concbench::test {

struct TimedRun {
  std::string name;
  int64_t iterations;  // the timed calls of the run Google Benchmark reports (its last)
  std::string error;   // empty unless the body errored
};

// Runs the registered benchmarks `filter` matches, once each for at least `min_time` seconds,
// as the binary does (a single-threaded benchmark runs on the calling thread), and returns
// what each reported.
inline std::vector<TimedRun> run_registered(const std::string& filter, double min_time) {
  struct Collect : benchmark::BenchmarkReporter {
    bool ReportContext(const Context&) override { return true; }
    void ReportRuns(const std::vector<Run>& runs) override {
      for (const Run& r : runs)
        found.push_back({r.benchmark_name(), static_cast<int64_t>(r.iterations),
                         r.error_occurred ? r.error_message : ""});
    }
    std::vector<TimedRun> found;
  } collect;
  std::string program = "test", seconds = "--benchmark_min_time=" + std::to_string(min_time);
  char* argv[] = {program.data(), seconds.data(), nullptr};
  int argc = 2;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks(&collect, filter);
  return collect.found;
}

}  // namespace concbench::test
