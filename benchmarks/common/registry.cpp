// SPDX-License-Identifier: MIT
// Benchmark registration under full names, and the console progress that counts them.
#include "common/registry.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <regex>
#include <string_view>
#include <vector>

#include "common/flags.h"

namespace concbench {
namespace {

// What Google Benchmark appends to every name add_benchmark() registers: MeasureProcessCPUTime()
// adds "/process_time", UseRealTime() "/real_time".
constexpr const char* kNameSuffix = "/process_time/real_time";

std::vector<std::string>& names() {
  static std::vector<std::string> all;
  return all;
}

std::vector<std::string>& erred() {
  static std::vector<std::string> names;
  return names;
}

std::map<std::string, std::vector<std::function<void()>>>& release_hooks() {
  static std::map<std::string, std::vector<std::function<void()>>> hooks;
  return hooks;
}

// Runs the release hooks of the previous workload when a benchmark of another one starts.
void enter_workload(const std::string& workload) {
  static std::string current;
  if (workload == current) return;
  for (auto& release : release_hooks()[current]) release();
  current = workload;
}

class ProgressReporter : public benchmark::ConsoleReporter {
 public:
  ProgressReporter(Progress progress, OutputOptions opts)
      : ConsoleReporter(opts), progress_(progress) {}

  bool ReportContext(const Context& context) override {
    if (progress_.first == 1) return ConsoleReporter::ReportContext(context);
    // What ConsoleReporter::ReportContext does, without printing the context again.
    name_field_width_ = context.name_field_width;
    printed_header_ = false;
    prev_counters_.clear();
    return true;
  }

 protected:
  void PrintRunData(const Run& run) override {
    // Repetitions and aggregates of one benchmark share its number.
    const std::string& family = run.run_name.function_name;
    auto [it, inserted] = index_.try_emplace(family, progress_.first + index_.size());
    int width = static_cast<int>(std::to_string(progress_.total).size());
    char prefix[64];
    std::snprintf(prefix, sizeof prefix, "[%*zu/%zu] ", width, it->second, progress_.total);
    GetOutputStream() << prefix;
    ConsoleReporter::PrintRunData(run);
  }

 private:
  Progress progress_;
  std::map<std::string, size_t> index_;
};

}  // namespace

benchmark::internal::Benchmark* add_benchmark(const std::string& name,
                                              std::function<void(benchmark::State&)> body,
                                              benchmark::TimeUnit unit) {
  names().push_back(name);
  std::string workload = name.substr(0, name.find('/'));
  auto wrapped = [name, workload, body = std::move(body)](benchmark::State& state) {
    enter_workload(workload);
    body(state);
    if (state.error_occurred() && std::find(erred().begin(), erred().end(), name) == erred().end())
      erred().push_back(name);
  };
  // CPU time is the process's, all threads (not only the main one); forked children are in
  // the cpu_util counter instead. The unit fits the time, so a microsecond result
  // is not printed, or read by Google Benchmark's compare.py, as 0.000 ms.
  return benchmark::RegisterBenchmark(name.c_str(), std::move(wrapped))
      ->UseRealTime()
      ->MeasureProcessCPUTime()
      ->Unit(unit);
}

void on_leaving_workload(const std::string& workload, std::function<void()> release) {
  release_hooks()[workload].push_back(std::move(release));
}

const std::vector<std::string>& registered_names() { return names(); }

const std::vector<std::string>& erred_names() { return erred(); }

std::vector<std::string> matching_names(const std::string& filter) {
  std::string spec = filter.empty() || filter == "all" ? std::string(".") : filter;
  bool negate = false;
  if (spec[0] == '-') {
    negate = true;
    spec.erase(0, 1);
  }
  std::regex re;
  try {
    re = std::regex(spec, std::regex::extended);
  } catch (const std::regex_error&) {
    throw UsageError("--benchmark_filter=" + filter + ": not a regular expression (POSIX extended)");
  }
  std::vector<std::string> selected;
  for (const std::string& name : names()) {
    // Google Benchmark matches against the name with what add_benchmark() asks for appended.
    bool hit = std::regex_search(name + kNameSuffix, re);
    if (hit != negate) selected.push_back(name);
  }
  return selected;
}

Progress parse_progress(const std::string& text) {
  // Not a list flag: each side is one number, so the message names the side that is wrong
  // rather than asking for a list.
  auto wrong = [&](const std::string& why) {
    return UsageError("--progress: '" + text + "' is not K/N (" + why + ")");
  };
  const auto slash = text.find('/');
  if (slash == std::string::npos) throw wrong("no '/'");
  constexpr int kMax = 1 << 30;
  auto side = [&](std::string_view part, const char* letter) {
    if (part.empty()) throw wrong(std::string(letter) + " is missing");
    int v = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (ec != std::errc() || end != part.data() + part.size() || v < 1 || v > kMax)
      throw wrong(std::string(letter) + " '" + std::string(part) + "' is not a whole number in 1.." +
                  std::to_string(kMax));
    return static_cast<size_t>(v);
  };
  const std::string_view all(text);
  const size_t first = side(all.substr(0, slash), "K");
  const size_t total = side(all.substr(slash + 1), "N");
  if (first > total) throw wrong("K is greater than N");
  return {first, total};
}

std::unique_ptr<benchmark::BenchmarkReporter> make_progress_reporter(Progress progress, bool color, bool tabular) {
  const auto opts = static_cast<benchmark::ConsoleReporter::OutputOptions>(
      (color ? benchmark::ConsoleReporter::OO_Color : 0) | (tabular ? benchmark::ConsoleReporter::OO_Tabular : 0));
  return std::make_unique<ProgressReporter>(progress, opts);
}

}  // namespace concbench
