// SPDX-License-Identifier: MIT
// What produced a run: recorded into the JSON context so every number can be traced back.
#include "common/context.h"

#include <benchmark/benchmark.h>
#include <link.h>
#include <omp.h>
#include <sys/resource.h>
#include <tbb/version.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>

namespace concbench {
namespace {

// Runs a short shell command and returns its first line of output, or "" on failure.
std::string first_line_of(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) return "";
  std::array<char, 512> buf{};
  std::string out;
  if (std::fgets(buf.data(), buf.size(), pipe.get()) != nullptr) out = buf.data();
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

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

}  // namespace

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("model name")) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

double process_cpu_seconds() {
  auto seconds = [](const rusage& r) {
    return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
  };
  rusage self{}, children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  return seconds(self) + seconds(children);
}

void add_run_context() {
  // Read from the source tree at run time, not baked in at build time: a rebuild is not
  // needed for a new commit that changed nothing compiled, and the record must still say
  // which commit it was.
  const std::string git = "git -C '" CONCBENCH_SOURCE_DIR "' ";
  std::string commit = first_line_of(git + "rev-parse --verify -q HEAD 2>/dev/null");
  if (commit.size() != 40) commit.clear();  // not a git checkout, or no commit yet
  // results/ is left out: ./bench renders every run into it, and a rendered page is not a
  // change to what is measured, so it must not mark the next record dirty.
  std::string dirty = first_line_of(
      git + "status --porcelain --untracked-files=no -- . ':(exclude)results' 2>/dev/null | head -n 1");
  benchmark::AddCustomContext("concbench_commit", commit.empty() ? "unknown" : commit);
  benchmark::AddCustomContext("concbench_dirty",
                              commit.empty() ? "unknown" : (dirty.empty() ? "false" : "true"));
  benchmark::AddCustomContext("compiler", compiler());
  benchmark::AddCustomContext("cxx_flags", CONCBENCH_CXX_FLAGS);
  benchmark::AddCustomContext("build_type", CONCBENCH_BUILD_TYPE);
  benchmark::AddCustomContext("tbb_version", std::string(TBB_VERSION_STRING) + " (runtime " +
                                                 TBB_runtime_version() + ")");
  benchmark::AddCustomContext("openmp_runtime", openmp_runtime());
  benchmark::AddCustomContext("hardware_threads",
                              std::to_string(std::thread::hardware_concurrency()));
  benchmark::AddCustomContext("cpu_model", cpu_model());
}

}  // namespace concbench
