// SPDX-License-Identifier: MIT
// What produced a run: recorded into the JSON context so every number can be traced back.
#include "common/context.h"

#include <benchmark/benchmark.h>
#include <link.h>
#include <omp.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <tbb/version.h>

#include "common/flags.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>

namespace concbench {

// build_info.cpp, written at build time (benchmarks/build_info.cmake).
extern const char kBuildCommit[41];  // 40 hex digits, or "unknown"
extern const char kBuildDirty[8];    // "true", "false" or "unknown"

std::string_view build_commit() { return kBuildCommit; }
std::string_view build_dirty() { return kBuildDirty; }

namespace {

std::string compiler() {
#if defined(__clang__)
  std::string v = "clang " __clang_version__;
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
#elif defined(__GNUC__)
  return "GCC " __VERSION__;
#else
  return "unknown";
#endif
}

// The OpenMP runtime actually loaded: GCC links libgomp, clang libomp; the _OPENMP date alone
// cannot tell them apart.
std::string openmp_runtime() {
  std::string found;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        std::string name = info->dlpi_name ? info->dlpi_name : "";
        auto slash = name.rfind('/');
        std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
        if (base.find("gomp") != std::string::npos || base.find("libomp") != std::string::npos ||
            base.find("iomp") != std::string::npos)
          *static_cast<std::string*>(data) = base;
        return 0;
      },
      &found);
  if (found.empty()) found = "not loaded";
  return found + " (_OPENMP " + std::to_string(_OPENMP) + ", max threads " +
         std::to_string(omp_get_max_threads()) + ")";
}

// The first line of a file, or `fallback` when it cannot be read.
std::string file_line(const char* path, const std::string& fallback) {
  std::ifstream in(path);
  std::string line;
  return std::getline(in, line) ? line : fallback;
}

// The instruction-set extensions the kernels' speed depends on (vector width, FMA), of those
// the CPU has: two machines that differ here are not comparable, whatever their names.
std::string vector_flags() {
  std::istringstream all(proc_field("/proc/cpuinfo", "flags"));
  std::set<std::string> have{std::istream_iterator<std::string>(all), {}};
  std::string out;
  for (const char* flag : {"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl"})
    if (have.count(flag)) {
      if (!out.empty()) out += ' ';
      out += flag;
    }
  return out.empty() ? "none of sse4_2 avx avx2 fma avx512f" : out;
}

// "always [madvise] never" -> "madvise".
std::string bracketed(const std::string& line) {
  const auto open = line.find('['), close = line.find(']');
  return open == std::string::npos || close < open ? line : line.substr(open + 1, close - open - 1);
}

// Whether the CPU may clock above its base frequency, where the kernel says.
std::string cpu_boost() {
  std::string boost = file_line("/sys/devices/system/cpu/cpufreq/boost", "");
  if (!boost.empty()) return boost == "1" ? "on" : "off";
  std::string no_turbo = file_line("/sys/devices/system/cpu/intel_pstate/no_turbo", "");
  if (!no_turbo.empty()) return no_turbo == "0" ? "on" : "off";
  return "not exposed";
}

// How an idle CPU waits: a core that halts at once must be woken by an interrupt, which in a VM
// goes through the hypervisor, and the process that wakes it (a client sending to an idle
// fixture) pays for that. E.g. "haltpoll/haltpoll, guest halt-poll 0 ns".
std::string cpu_idle() {
  std::string idle = file_line("/sys/devices/system/cpu/cpuidle/current_driver", "not exposed") + "/" +
                     file_line("/sys/devices/system/cpu/cpuidle/current_governor_ro",
                               file_line("/sys/devices/system/cpu/cpuidle/current_governor", "?"));
  // The haltpoll module's setting matters only where its driver is the one in use.
  const std::string poll = file_line("/sys/module/haltpoll/parameters/guest_halt_poll_ns", "");
  if (!poll.empty() && idle.starts_with("haltpoll")) idle += ", guest halt-poll " + poll + " ns";
  return idle;
}

// What one system call costs here, in ns: the median of 5 rounds of 4,000 getppid() calls made
// through syscall(), which the C library cannot answer from a cache. A fetch request is a few
// system calls on each side, and their price differs by an order of magnitude between hosts (a
// paravirtualised guest traps every one of them to its hypervisor), so fetch numbers from two
// machines are comparable only where this is alike.
std::string syscall_ns() {
  constexpr int kCalls = 4000;
  std::array<double, 5> ns{};
  for (double& round : ns) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kCalls; ++i) syscall(SYS_getppid);
    round = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / kCalls;
  }
  std::nth_element(ns.begin(), ns.begin() + 2, ns.end());
  return std::to_string(static_cast<long>(ns[2] + 0.5));
}

}  // namespace

std::string proc_field(const char* path, std::string_view key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || !line.starts_with(key) ||
        line.find_first_not_of(" \t", key.size()) != colon)
      continue;
    // Trimmed at both ends, as records.read_fields trims: some CPUs pad their model name.
    const auto start = line.find_first_not_of(" \t", colon + 1);
    if (start == std::string::npos) return "";
    return line.substr(start, line.find_last_not_of(" \t") + 1 - start);
  }
  return "";
}

std::string cpu_signature(const char* cpuinfo) {
  const auto field = [cpuinfo](std::string_view key) { return proc_field(cpuinfo, key); };
  const std::string vendor = field("vendor_id");
  if (!vendor.empty())
    return vendor + " family " + field("cpu family") + " model " + field("model") + " stepping " +
           field("stepping");
  const std::string part = field("CPU part");  // Arm
  return part.empty() ? "unknown" : "implementer " + field("CPU implementer") + " part " + part;
}

int usable_cpus() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) return std::max(1, CPU_COUNT(&allowed));
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

std::vector<int> cores_first(const std::vector<int>& cpus, const std::function<std::string(int)>& core_of) {
  std::vector<int> first, rest;
  std::set<std::string> cores;
  for (const int cpu : cpus) {
    const std::string core = core_of(cpu);
    (core.empty() || cores.insert(core).second ? first : rest).push_back(cpu);
  }
  first.insert(first.end(), rest.begin(), rest.end());
  return first;
}

std::string sysfs_core_of(int cpu) {
  // The CPUs of its core by name ("0,8", "2-3"): a package's core_id repeats across its dies.
  std::string siblings;
  std::ifstream("/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/thread_siblings_list") >> siblings;
  return siblings;
}

namespace {

// A cgroup file's whole number ("50000\n"), or 0 for anything else ("max", "", "5e4").
long long cgroup_number(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  long long v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty() ? v : 0;
}

}  // namespace

double cgroup_quota(std::string_view cfs_quota_us, std::string_view cfs_period_us) {
  const long long quota = cgroup_number(cfs_quota_us), period = cgroup_number(cfs_period_us);
  return quota > 0 && period > 0 ? static_cast<double>(quota) / static_cast<double>(period) : 0;
}

double cgroup_quota(std::string_view cpu_max) {
  const size_t space = cpu_max.find(' ');
  return space == std::string_view::npos ? 0 : cgroup_quota(cpu_max.substr(0, space), cpu_max.substr(space + 1));
}

std::vector<CgroupDir> cgroup_dirs(const std::string& controller, std::istream& mountinfo, std::istream& cgroup) {
  // Where the hierarchies are mounted (mountinfo: "... ROOT MOUNT_POINT ... - TYPE SOURCE
  // OPTIONS"): cgroup2's, and the v1 one that holds the controller. ROOT is the cgroup mounted
  // there: in a container, its own, which /proc/self/cgroup's paths start with.
  struct Mount {
    std::string root, point;
  };
  std::optional<Mount> v2, v1;
  const auto holds = [&controller](const std::string& list) {
    std::istringstream items(list);
    for (std::string item; std::getline(items, item, ',');)
      if (item == controller) return true;
    return false;
  };
  // mountinfo writes a space, tab, newline and backslash in a path as \040, \011, \012 and \134.
  const auto unescaped = [](const std::string& path) {
    std::string out;
    for (size_t i = 0; i < path.size(); ++i) {
      const bool octal = path[i] == '\\' && i + 3 < path.size() &&
                         std::all_of(path.begin() + i + 1, path.begin() + i + 4,
                                     [](char c) { return c >= '0' && c <= '7'; });
      out += octal ? static_cast<char>((path[i + 1] - '0') * 64 + (path[i + 2] - '0') * 8 + (path[i + 3] - '0'))
                   : path[i];
      if (octal) i += 3;
    }
    return out;
  };
  for (std::string line; std::getline(mountinfo, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point, word, type, source, options;
    fields >> id >> parent >> device >> root >> point;
    while (fields >> word && word != "-") {
    }
    fields >> type >> source >> options;
    if (type == "cgroup2" && !v2) v2 = Mount{unescaped(root), unescaped(point)};
    if (type == "cgroup" && !v1 && holds(options)) v1 = Mount{unescaped(root), unescaped(point)};
  }
  std::vector<CgroupDir> dirs;
  for (std::string line; std::getline(cgroup, line);) {  // "ID:CONTROLLERS:PATH", v2's "0::PATH"
    const size_t first = line.find(':'), second = line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const bool is_v2 = line.compare(0, first, "0") == 0 && controllers.empty();
    const std::optional<Mount>& mount = is_v2 ? v2 : v1;
    if (!mount || (!is_v2 && !holds(controllers))) continue;
    std::string path = line.substr(second + 1);
    // In a container the mount's root is its own cgroup, which the path starts with: whole names only.
    if (mount->root != "/" && path.starts_with(mount->root) &&
        (path.size() == mount->root.size() || path[mount->root.size()] == '/'))
      path.erase(0, mount->root.size());
    for (std::string dir = mount->point + (path == "/" ? "" : path);; dir.erase(dir.rfind('/'))) {
      dirs.push_back({dir, is_v2});
      if (dir.size() <= mount->point.size() || dir.rfind('/') == std::string::npos) break;
    }
  }
  return dirs;
}

namespace {

// The smallest positive value(DIR, is_v2) over this process's cgroup_dirs: 0 when none sets one.
double smallest_up_the_cgroups(const std::string& controller,
                               const std::function<double(const std::string&, bool)>& value) {
  std::ifstream mountinfo("/proc/self/mountinfo"), cgroup("/proc/self/cgroup");
  double smallest = 0;
  for (const CgroupDir& d : cgroup_dirs(controller, mountinfo, cgroup)) {
    const double v = value(d.path, d.v2);
    if (v > 0 && (smallest == 0 || v < smallest)) smallest = v;
  }
  return smallest;
}

}  // namespace

double cpu_quota() {
  return smallest_up_the_cgroups("cpu", [](const std::string& dir, bool v2) {
    return v2 ? cgroup_quota(file_line((dir + "/cpu.max").c_str(), ""))
              : cgroup_quota(file_line((dir + "/cpu.cfs_quota_us").c_str(), ""),
                             file_line((dir + "/cpu.cfs_period_us").c_str(), ""));
  });
}

int64_t memory_limit() {
  // Read once: the array bound asks for it at each benchmark it registers.
  static const int64_t limit =
      static_cast<int64_t>(smallest_up_the_cgroups("memory", [](const std::string& dir, bool v2) {
        // No limit reads "max" (v2), or as about 2^63 (v1's largest page count, in bytes).
        const long long bytes =
            cgroup_number(file_line((dir + (v2 ? "/memory.max" : "/memory.limit_in_bytes")).c_str(), ""));
        return bytes > 0 && bytes < (1LL << 60) ? static_cast<double>(bytes) : 0.0;
      }));
  return limit;
}

std::string native_cpu_problem(const std::vector<std::string>& missing) {
  if (missing.empty()) return "";
  std::string names;
  for (const std::string& m : missing) names += (names.empty() ? "" : ", ") + m;
  return "compiled for a CPU with " + names + ", which this one lacks (a build from another machine): rebuild "
         "it (./bench and scripts/test.sh do)";
}

std::string native_cpu_problem() {
  std::vector<std::string> missing;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // The instruction sets the compiler was allowed (its __XXX__ macros) that both GCC 12 and
  // Clang 14 can ask the CPU about: with -march=native, those of the configuring machine.
#define CONCBENCH_NEED(name) \
  if (!__builtin_cpu_supports(name)) missing.emplace_back(name)
#ifdef __SSE4_2__
  CONCBENCH_NEED("sse4.2");
#endif
#ifdef __AVX__
  CONCBENCH_NEED("avx");
#endif
#ifdef __AVX2__
  CONCBENCH_NEED("avx2");
#endif
#ifdef __FMA__
  CONCBENCH_NEED("fma");
#endif
#ifdef __BMI2__
  CONCBENCH_NEED("bmi2");
#endif
#ifdef __AVX512F__
  CONCBENCH_NEED("avx512f");
#endif
#ifdef __AVX512CD__
  CONCBENCH_NEED("avx512cd");
#endif
#ifdef __AVX512BW__
  CONCBENCH_NEED("avx512bw");
#endif
#ifdef __AVX512DQ__
  CONCBENCH_NEED("avx512dq");
#endif
#ifdef __AVX512VL__
  CONCBENCH_NEED("avx512vl");
#endif
#ifdef __AVX512IFMA__
  CONCBENCH_NEED("avx512ifma");
#endif
#ifdef __AVX512VBMI__
  CONCBENCH_NEED("avx512vbmi");
#endif
#ifdef __AVX512VBMI2__
  CONCBENCH_NEED("avx512vbmi2");
#endif
#ifdef __AVX512VNNI__
  CONCBENCH_NEED("avx512vnni");
#endif
#ifdef __AVX512BITALG__
  CONCBENCH_NEED("avx512bitalg");
#endif
#ifdef __AVX512VPOPCNTDQ__
  CONCBENCH_NEED("avx512vpopcntdq");
#endif
#ifdef __AVX512BF16__
  CONCBENCH_NEED("avx512bf16");
#endif
#ifdef __GFNI__
  CONCBENCH_NEED("gfni");
#endif
#ifdef __VPCLMULQDQ__
  CONCBENCH_NEED("vpclmulqdq");
#endif
#undef CONCBENCH_NEED
#endif
  return native_cpu_problem(missing);
}

std::string cpu_model() {
  const std::string model = proc_field("/proc/cpuinfo", "model name");
  return model.empty() ? "unknown" : model;
}

namespace {

Usage usage_of(int who) {
  rusage r{};
  getrusage(who, &r);
  return {static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
              static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6,
          static_cast<double>(r.ru_minflt), static_cast<double>(r.ru_nvcsw),
          static_cast<double>(r.ru_nivcsw)};
}

}  // namespace

Usage own_usage() { return usage_of(RUSAGE_SELF); }

Usage process_usage() {
  Usage u = usage_of(RUSAGE_SELF);
  u += usage_of(RUSAGE_CHILDREN);
  return u;
}

int thread_count() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  return 0;
}

int64_t rss_kib() {
  // statm needs no parsing of text labels and is the cheapest of the /proc files.
  std::ifstream in("/proc/self/statm");
  long long size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

namespace {
std::set<std::string> recorded_keys;   // the binary's own
std::vector<UserContext> user_pairs;  // the user's, the environment's first
}  // namespace

std::vector<UserContext> parse_context_pairs(std::string_view text, std::string_view given) {
  std::vector<UserContext> pairs;
  // Split as Google Benchmark splits: a text that is not empty has an item after every comma,
  // so "site=lab," ends in an empty one (for $BENCHMARK_CONTEXT, Google Benchmark then drops
  // every pair, which this refusal keeps from passing unseen).
  for (size_t start = 0; !text.empty() && start <= text.size();) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view item = text.substr(start, comma - start);
    start = comma + 1;
    const size_t eq = item.find('=');
    if (eq == 0 || eq == std::string_view::npos || item.find('=', eq + 1) != std::string_view::npos)
      throw UsageError(std::string(given) + ": '" + std::string(item) +
                       "' is not key=value (a comma-separated list of them, one '=' each)");
    // Google Benchmark's JSON escapes quotes, backslashes and \b\f\n\r\t only: any other control
    // byte would make the record JSON no reader takes.
    if (std::any_of(item.begin(), item.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
      throw UsageError(std::string(given) + ": '" + std::string(item) + "' holds a control character");
    pairs.push_back({std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)), std::string(given)});
  }
  return pairs;
}

void expect_user_context(std::vector<UserContext> pairs) { user_pairs = std::move(pairs); }

void add_context(const std::string& key, const std::string& value) {
  recorded_keys.insert(key);
  const bool taken = std::any_of(user_pairs.begin(), user_pairs.end(), [&](const UserContext& u) {
    return u.key == key && u.added_by_library();
  });
  if (!taken) benchmark::AddCustomContext(key, value);  // else add_user_context refuses the user's
}

void add_user_context() {
  // Besides the binary's keys of this run: the keys Google Benchmark 1.7.1 writes into every JSON
  // context itself, those scripts/run_isolated.py writes into its merged record (it overwrites
  // them, but a record of the binary alone would carry the user's as the scripts' verdict), and
  // the families of keys the binary writes only in some runs (test_isolation.py holds every key
  // of a merged record to this).
  static const std::set<std::string> kOthersKeys = {
      "date", "host_name", "executable", "num_cpus", "mhz_per_cpu", "cpu_scaling_enabled", "caches",
      "load_avg", "library_build_type", "load_avg_before", "load_avg_after", "cpu_busy_before",
      "steal_during", "environment_unstable", "mpi_rank_hosts"};
  const auto reserved = [](const std::string& key) {
    return kOthersKeys.count(key) != 0 || recorded_keys.count(key) != 0 || key.starts_with("concbench_") ||
           key.starts_with("fetch_c10k_not_run:");
  };
  std::set<std::string> seen;
  for (const UserContext& u : user_pairs) {
    if (reserved(u.key))
      throw UsageError(u.given + ": '" + u.key +
                       "' is a key the record keeps for itself (its machine, build or run); use another");
    if (!seen.insert(u.key).second)
      throw UsageError(u.given + ": '" + u.key +
                       "' is given twice (once in all: BENCHMARK_CONTEXT and every --benchmark_context)");
  }
  for (const UserContext& u : user_pairs)
    if (!u.added_by_library()) benchmark::AddCustomContext(u.key, u.value);
}

void add_run_context() {
  // The source the binary was built from (build_info.cmake), not the checkout's state now.
  add_context("concbench_commit", std::string(build_commit()));
  add_context("concbench_dirty", std::string(build_dirty()));
  add_context("compiler", compiler());
  add_context("cxx_flags", CONCBENCH_CXX_FLAGS);
#ifdef CONCBENCH_NATIVE_TARGET
  add_context("native_target", CONCBENCH_NATIVE_TARGET);  // -march=native as the configuring CPU made it
#else
  add_context("native_target", "not -march=native");
#endif
  add_context("build_type", CONCBENCH_BUILD_TYPE);
  add_context("tbb_version", std::string(TBB_VERSION_STRING) + " (runtime " + TBB_runtime_version() + ")");
  add_context("openmp_runtime", openmp_runtime());
  add_context("hardware_threads", std::to_string(usable_cpus()));
  char quota[32] = "none";
  if (const double q = cpu_quota(); q > 0) std::snprintf(quota, sizeof quota, "%.2f", q);
  add_context("cpu_quota", quota);
  add_context("cpu_model", cpu_model());
  add_context("cpu_signature", cpu_signature());
  // What makes numbers from two runs comparable, besides the CPU model: scripts/records.py
  // refuses to compare runs whose machine differs in any of these.
  add_context("cpu_vector_flags", vector_flags());
  const std::string mem_kb = proc_field("/proc/meminfo", "MemTotal");
  char mem[32];
  std::snprintf(mem, sizeof mem, "%.1f", std::strtod(mem_kb.c_str(), nullptr) / (1024.0 * 1024.0));
  add_context("memory_gib", mem);
  utsname uts{};
  add_context("kernel", uname(&uts) == 0 ? uts.release : "unknown");
  // The settings that move numbers on one machine, recorded so a change of them is visible.
  add_context("transparent_hugepages",
              bracketed(file_line("/sys/kernel/mm/transparent_hugepage/enabled", "not exposed")));
  add_context("aslr", file_line("/proc/sys/kernel/randomize_va_space", "unknown"));
  add_context("cpu_governor",
              file_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "not exposed"));
  add_context("cpu_boost", cpu_boost());
  add_context("cpu_idle", cpu_idle());
  add_context("syscall_ns", syscall_ns());
}

}  // namespace concbench
