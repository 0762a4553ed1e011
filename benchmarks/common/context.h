// SPDX-License-Identifier: MIT
// What produced a run: recorded into the JSON context so every number can be traced back.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace concbench {

// The variable Google Benchmark reads context pairs from, as --benchmark_context's.
inline constexpr char kContextVariable[] = "BENCHMARK_CONTEXT";

// A pair of the user's context, from --benchmark_context=key=value,... or $BENCHMARK_CONTEXT
// (`given` says which).
struct UserContext {
  std::string key, value, given;
  // Google Benchmark adds $BENCHMARK_CONTEXT's pairs itself, before main's code runs.
  bool added_by_library() const { return given == kContextVariable; }
};

// The pairs of `text`. Throws UsageError on an item that is not one key, one '=' and a value
// (Google Benchmark 1.7.1 calls such a flag unrecognized), or that holds a control character.
std::vector<UserContext> parse_context_pairs(std::string_view text, std::string_view given);

// The user's pairs are recorded beside the binary's, but a key that Google Benchmark, the binary
// or scripts/run_isolated.py records is refused, and so is a key given twice: Google Benchmark
// keeps a key's first value and writes its own keys again after the user's, so such a pair
// would make a record name another commit or machine. Call expect_user_context before
// anything is added: Google Benchmark adds $BENCHMARK_CONTEXT's pairs itself, first, and
// add_context then leaves a key they hold to add_user_context's refusal.
void expect_user_context(std::vector<UserContext> pairs);
// Adds key = value to the context; every entry the binary records goes through here.
void add_context(const std::string& key, const std::string& value);
// After the binary's own entries: adds the flag's pairs, or throws UsageError for a pair refused.
void add_user_context();

// Adds commit, dirty flag, compiler, flags, oneTBB version, OpenMP runtime, hardware threads
// and CPU model to Google Benchmark's context. Call after the workloads have run their
// set-up, so runtimes they load (libgomp, libomp) are visible.
void add_run_context();

// The commit the binary was built from (40 hex digits, or "unknown"), and whether its tree had
// uncommitted changes ("true", "false" or "unknown"): the help says both, so a script can tell
// which commit a binary is before it runs anything (scripts/calibrate.py's going on).
std::string_view build_commit();
std::string_view build_dirty();

// The CPUs this process may run on: its affinity mask, which taskset and a cpuset narrow and
// std::thread::hardware_concurrency (the CPUs online) ignores; at least 1. The suite's
// hardware_threads: its W sweep, the min(W, hardware threads) bound and the record's identity.
int usable_cpus();

// `cpus` reordered so that no two of the first ones share a core while another core is free:
// the hyperthreads of one core share its vector units, so W threads pinned to the first W CPUs
// of a machine that numbers siblings side by side ran on W / 2 cores. `core_of(cpu)` names a
// CPU's core (the CPUs it holds); "" for a CPU whose core is unknown, taken as a core of its own.
std::vector<int> cores_first(const std::vector<int>& cpus, const std::function<std::string(int)>& core_of);
// core_of for cores_first from sysfs (/sys/devices/system/cpu/cpuN/topology).
std::string sysfs_core_of(int cpu);

// The CPUs' worth of time this process's cgroups allow it in a period (cgroup v2's cpu.max, v1's
// cpu.cfs_quota_us / cpu.cfs_period_us), the smallest on the way up from its own cgroup to the
// root of the hierarchy; 0 when none sets one. The affinity mask does not show it: under a quota
// of 1.5 CPUs, 2 threads run on both CPUs until the period's time is used, then none runs until
// the next period, so the record keeps it (cpu_quota) and ./bench calls such a run unstable.
double cpu_quota();
// The bytes of memory this process's cgroups allow it (v2's memory.max, v1's
// memory.limit_in_bytes), the smallest on the way up; 0 when none sets one. A container's limit
// is not in _SC_PHYS_PAGES, which counts the machine's memory.
int64_t memory_limit();
// The cgroup directories whose limits bind this process for CONTROLLER ("cpu", "memory"), from
// the text of /proc/self/mountinfo and /proc/self/cgroup: on the v1 hierarchy that holds it and
// on v2's, the process's own cgroup and each one above it up to the mount point, in that order.
struct CgroupDir {
  std::string path;
  bool v2;
};
std::vector<CgroupDir> cgroup_dirs(const std::string& controller, std::istream& mountinfo, std::istream& cgroup);
// One cgroup's quota in CPUs from its files' text, 0 for none ("max", -1) or what is not one:
// v2 passes cpu.max ("150000 100000"), v1 cpu.cfs_quota_us and cpu.cfs_period_us.
double cgroup_quota(std::string_view cpu_max);
double cgroup_quota(std::string_view cfs_quota_us, std::string_view cfs_period_us);

// "" when the CPU running this binary has every instruction set the compiler was allowed to use
// (with -march=native: the configuring machine's), else why not, in one line, naming them: a
// build tree kept when the work moved to a CPU without them ran into an illegal instruction.
// MISSING: the names of those it lacks.
std::string native_cpu_problem(const std::vector<std::string>& missing);
std::string native_cpu_problem();

// The CPU model string from /proc/cpuinfo, or "unknown".
std::string cpu_model();

// The value of a "key : value" line of a /proc file such as /proc/cpuinfo or /proc/meminfo,
// from its first line with that key, or "". The key is whole: "model" is not "model name".
// scripts/records.py reads these files the same way (read_fields).
std::string proc_field(const char* path, std::string_view key);

// Which CPU design this is, whatever the hypervisor calls it: two VMs both named "AMD EPYC"
// here were different generations and summed 2x apart. E.g. "AuthenticAMD family 25 model 17
// stepping 1"; on Arm "implementer 0x41 part 0xd0c"; else "unknown".
std::string cpu_signature(const char* cpuinfo = "/proc/cpuinfo");

// What the OS counts for a process: CPU time, minor page faults, voluntary context switches
// (it waited) and involuntary ones (it was preempted). Per-call differences of these explain
// where the time of a model goes (fork's page-table copies, spinning against sleeping).
struct Usage {
  double cpu_seconds = 0;
  double minor_faults = 0;
  double voluntary_switches = 0;
  double involuntary_switches = 0;

  Usage& operator+=(const Usage& o) {
    cpu_seconds += o.cpu_seconds;
    minor_faults += o.minor_faults;
    voluntary_switches += o.voluntary_switches;
    involuntary_switches += o.involuntary_switches;
    return *this;
  }
  friend Usage operator+(Usage a, const Usage& b) { return a += b; }
  friend Usage operator-(Usage a, const Usage& b) {
    a += Usage{-b.cpu_seconds, -b.minor_faults, -b.voluntary_switches, -b.involuntary_switches};
    return a;
  }
};

// What a model's live worker processes have used so far (its live_children_usage(): the sum and
// fetch models both have one), or nullopt with the benchmark marked as errored when they could
// not say.
template <class Model>
std::optional<Usage> workers_usage_or_skip(benchmark::State& state, Model& model) {
  try {
    return model.live_children_usage();
  } catch (const std::exception& e) {
    state.SkipWithError((std::string("the workers' usage could not be read: ") + e.what()).c_str());
    return std::nullopt;
  }
}

// This process alone (RUSAGE_SELF): what a worker process reports of itself.
Usage own_usage();
// This process and its reaped children.
Usage process_usage();
// This process's resident set size now, KiB (/proc/self/statm).
int64_t rss_kib();
// The threads of this process now (/proc/self/status), 0 if unreadable.
int thread_count();

}  // namespace concbench
