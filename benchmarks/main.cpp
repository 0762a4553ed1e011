// SPDX-License-Identifier: MIT
// The concbench binary: the suite's flags, then Google Benchmark's, then every registered workload.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/context.h"
#include "common/flags.h"
#include "common/registry.h"
#include "common/suite.h"
#include "fetch/suite.h"
#include "sum/suite.h"

namespace {

bool has_flag(const std::vector<char*>& args, std::string_view prefix) {
  return std::any_of(args.begin() + 1, args.end(),
                     [&](const char* a) { return std::string_view(a).starts_with(prefix); });
}

std::string flag_value(const std::vector<char*>& args, std::string_view prefix) {
  std::string value;
  for (size_t i = 1; i < args.size(); ++i)
    if (std::string_view(args[i]).starts_with(prefix)) value = args[i] + prefix.size();
  return value;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// Google Benchmark 1.7.1's boolean words, in any case (empty is true): their value, or nullopt
// for a word it gives no meaning (and takes as true).
constexpr std::string_view kTruthWords = "true, false, yes, no, on, off, t, f, y, n, 1, 0";
std::optional<bool> truth_of(const std::string& word) {
  const std::string w = lower(word);
  if (w == "" || w == "true" || w == "yes" || w == "on" || w == "t" || w == "y" || w == "1") return true;
  if (w == "false" || w == "no" || w == "off" || w == "f" || w == "n" || w == "0") return false;
  return std::nullopt;
}

// Why Google Benchmark could not open `path` (in directory `dir`) for writing, found by trying:
// access(W_OK) says yes to root even where no file can be made (/proc). An existing file is
// opened without truncating it, and a new one is created and removed again, so a run that then
// stops for another reason leaves nothing changed. Returns "" when it can.
std::string cannot_write(const std::string& path, const std::string& dir) {
  int fd = open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) return "cannot create a file in " + dir + " (" + std::strerror(errno) + ")";
    close(fd);
    unlink(path.c_str());
    return "";
  }
  // ENXIO: a FIFO no one reads yet; Google Benchmark's open waits for its reader.
  if (fd < 0 && errno != ENXIO) return std::string("cannot write it (") + std::strerror(errno) + ")";
  if (fd >= 0) close(fd);
  return "";
}

// Google Benchmark 1.7.1 takes these values without a word and then aborts
// (--benchmark_repetitions=-1 throws std::length_error), runs nothing and exits 0 (=0), or
// answers on two lines (=x); an --benchmark_out it cannot open ends the run with exit 1 in its
// own words, after the context. A time unit it does not know gets its usage text and exit 0,
// even with --benchmark_list_tests, whose caller then reads the usage as benchmark names; any
// word but false/no/off counts as true for a boolean (so =maybe is true), a negative warm-up as
// none. Returns what is wrong with the flags as given, or "".
std::string benchmark_flag_problem(const std::vector<char*>& args) {
  if (has_flag(args, "--benchmark_time_unit=")) {
    const std::string unit = flag_value(args, "--benchmark_time_unit=");  // empty: unset
    if (unit != "" && unit != "ns" && unit != "us" && unit != "ms" && unit != "s")
      return "--benchmark_time_unit=" + unit + ": not one of ns, us, ms, s";
  }
  for (std::string_view flag : {"--benchmark_color=", "--benchmark_list_tests=",
                                "--benchmark_enable_random_interleaving=", "--benchmark_report_aggregates_only=",
                                "--benchmark_display_aggregates_only=", "--benchmark_counters_tabular="}) {
    const std::string v = flag_value(args, flag);
    const bool color = flag == "--benchmark_color=";
    if (has_flag(args, flag) && !truth_of(v) && !(color && lower(v) == "auto"))
      return std::string(flag) + v + ": not one of " + std::string(kTruthWords) + (color ? ", auto" : "");
  }
  if (has_flag(args, "--v=")) {
    const std::string v = flag_value(args, "--v=");
    char* end = nullptr;
    std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0') return "--v=" + v + ": not a whole number (a verbosity level)";
  }
  if (has_flag(args, "--benchmark_min_warmup_time=")) {
    const std::string v = flag_value(args, "--benchmark_min_warmup_time=");
    char* end = nullptr;
    const double t = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(t) || t < 0)
      return "--benchmark_min_warmup_time=" + v + ": not a number of seconds of at least 0";
  }
  if (has_flag(args, "--benchmark_repetitions=")) {
    const std::string v = flag_value(args, "--benchmark_repetitions=");
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || errno != 0 || n < 1 || n > INT_MAX)
      return "--benchmark_repetitions=" + v + ": not a whole number of at least 1";
  }
  if (has_flag(args, "--benchmark_min_time=")) {
    const std::string v = flag_value(args, "--benchmark_min_time=");
    char* end = nullptr;
    const double t = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(t) || t <= 0)
      return "--benchmark_min_time=" + v + ": not a positive number of seconds" +
             (v.ends_with('s') ? " (Google Benchmark 1.7.1 takes plain seconds: 0.05, not 0.05s)" : "");
  }
  if (has_flag(args, "--benchmark_out=")) {
    const std::string out = flag_value(args, "--benchmark_out=");
    if (out.empty()) return "--benchmark_out= needs a file name";
    const size_t slash = out.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : out.substr(0, slash);
    struct stat st {};
    if (stat(out.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return "--benchmark_out=" + out + ": is a directory";
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return "--benchmark_out=" + out + ": no directory " + dir;
    if (const std::string why = cannot_write(out, dir); !why.empty()) return "--benchmark_out=" + out + ": " + why;
  }
  return "";
}

// A boolean flag of Google Benchmark 1.7.1 (e.g. "benchmark_list_tests") as it will read it: the
// last --FLAG (true) or --FLAG=WORD, else its environment variable (BENCHMARK_LIST_TESTS).
bool benchmark_bool_flag(const std::vector<char*>& args, const std::string& name) {
  const std::string flag = "--" + name;
  std::optional<bool> on;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string_view a(args[i]);
    if (a == flag) on = true;
    if (a.starts_with(flag + "=")) on = truth_of(std::string(a.substr(flag.size() + 1))).value_or(true);
  }
  std::string env_name = name;
  std::transform(env_name.begin(), env_name.end(), env_name.begin(), [](unsigned char c) { return std::toupper(c); });
  const char* env = std::getenv(env_name.c_str());
  return on.value_or(env != nullptr && *env != '\0' && truth_of(env).value_or(true));
}

void print_usage(const concbench::FlagSet& flags) {
  std::cout << "usage: concbench [suite flags] [Google Benchmark flags]\n\n"
               "Times concurrency models on CPU-bound (sum) and IO-bound (fetch) work.\n"
               "Benchmark names carry every argument, e.g. sum/tbb/range/workers:4/n:100000000,\n"
               "so --benchmark_filter selects on any of them.\n\n"
               "Suite flags:\n";
  flags.print_help(std::cout);
  std::cout << "\nDefaults the suite sets unless given: --benchmark_min_time=0.1 "
               "--benchmark_repetitions=3\n(--quick: --benchmark_min_time=0.02 "
               "--benchmark_repetitions=1).\n\nGoogle Benchmark flags:\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace concbench;
  Suite suite{false, std::max(1, static_cast<int>(std::thread::hardware_concurrency()))};
  sum::Options sum_options;
  fetch::Options fetch_options;

  std::optional<Progress> progress;

  FlagSet flags;
  flags.add_switch("quick", "fewer sizes and workers, one repetition: a first look in a minute",
                   [&] { suite.quick = true; });
  flags.add("progress", "K/N",
            "number this process's first benchmark K of N in the [k/N] progress (./bench "
            "runs each model in a process of its own)",
            [&](const std::string& v) { progress = parse_progress(v); });
  sum::add_flags(flags, sum_options);
  fetch::add_flags(flags, fetch_options);

  const bool help = std::any_of(argv + 1, argv + argc, [](const char* a) {
    return std::strcmp(a, "--help") == 0 || std::strcmp(a, "-h") == 0;
  });
  if (help) {
    print_usage(flags);
    benchmark::PrintDefaultHelp();
    return 0;
  }
  try {
    flags.parse(&argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "concbench: " << e.what() << '\n';
    return 2;
  }

  // The suite's defaults go in front, so a flag the user gave still wins.
  std::vector<char*> args(argv, argv + argc);
  std::string min_time = suite.quick ? "--benchmark_min_time=0.02" : "--benchmark_min_time=0.1";
  std::string repetitions = suite.quick ? "--benchmark_repetitions=1" : "--benchmark_repetitions=3";
  if (!has_flag(args, "--benchmark_min_time=")) args.insert(args.begin() + 1, min_time.data());
  if (!has_flag(args, "--benchmark_repetitions="))
    args.insert(args.begin() + 1, repetitions.data());
  // Read before Initialize, which removes the flags it knows from argv.
  const std::string format = flag_value(args, "--benchmark_format=");
  const std::string color = lower(flag_value(args, "--benchmark_color="));
  // Google Benchmark answers an unknown format with its usage text and exit code 0.
  for (const std::string& f : {format, flag_value(args, "--benchmark_out_format=")}) {
    if (!f.empty() && f != "console" && f != "json" && f != "csv") {
      std::cerr << "concbench: unknown output format '" << f << "' (console, json or csv)\n";
      return 2;
    }
  }
  if (const std::string problem = benchmark_flag_problem(args); !problem.empty()) {
    std::cerr << "concbench: " << problem << '\n';
    return 2;
  }
  // Listing runs nothing: ./bench lists what it will run with the flags it runs each process with.
  const bool interleaved = benchmark_bool_flag(args, "benchmark_enable_random_interleaving") &&
                           !benchmark_bool_flag(args, "benchmark_list_tests");
  args.push_back(nullptr);
  int count = static_cast<int>(args.size()) - 1;
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 2;
  args.resize(count + 1);

  try {
    sum::register_benchmarks(sum::make_sweep(suite, sum_options));
    fetch::register_benchmarks(fetch::make_sweep(suite, fetch_options));
  } catch (const UsageError& e) {
    std::cerr << "concbench: " << e.what() << '\n';
    return 2;
  }
  add_run_context();

  const std::string filter = benchmark::GetBenchmarkFilter();
  std::vector<std::string> selected;
  try {
    selected = matching_names(filter);
  } catch (const UsageError& e) {
    std::cerr << "concbench: " << e.what() << '\n';
    return 2;
  }
  const size_t total = selected.size();
  if (total == 0) {
    std::cerr << "concbench: no benchmark matches --benchmark_filter=" << filter
              << " (--benchmark_list_tests lists them)\n";
    return 2;
  }
  // Each workload frees what it keeps (arrays, models, MPI) when a benchmark of another starts,
  // so that none runs beside another's memory and processes. Interleaved, the workloads would
  // take turns: sum/mpi failed after its first repetition (MPI cannot start again once
  // finalized), and every turn would rebuild the others' models and arrays.
  if (interleaved) {
    std::vector<std::string> workloads;
    for (const std::string& name : selected) {
      const std::string w = name.substr(0, name.find('/'));
      if (std::find(workloads.begin(), workloads.end(), w) == workloads.end()) workloads.push_back(w);
    }
    if (workloads.size() > 1) {
      std::cerr << "concbench: --benchmark_enable_random_interleaving would mix the " << workloads[0] << " and "
                << workloads[1] << " workloads in one process: filter one workload, or run ./bench, which "
                << "runs each model in a process of its own\n";
      return 2;
    }
  }

  // The "[k/N]" progress prefix only makes sense on the plain console format.
  std::unique_ptr<benchmark::BenchmarkReporter> reporter;
  if (format.empty() || format == "console") {
    bool use_color = isatty(STDOUT_FILENO) != 0;
    if (!color.empty() && color != "auto") use_color = *truth_of(color);  // checked above: a word it knows
    reporter = make_progress_reporter(progress.value_or(Progress{1, total}), use_color);
  }
  if (reporter)
    benchmark::RunSpecifiedBenchmarks(reporter.get());
  else
    benchmark::RunSpecifiedBenchmarks();
  sum::finish();    // stops the last model's threads and worker processes
  fetch::finish();  // stops the fixture server if a fetch benchmark started it
  benchmark::Shutdown();
  return 0;
}
