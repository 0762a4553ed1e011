// SPDX-License-Identifier: MIT
// What a fetch run records besides time: requests in flight and the process's memory.
#include "fetch/stats.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace concbench::fetch {

int peak_overlap(std::span<const Outcome> outcomes) {
  std::vector<std::pair<double, int>> events;  // (time, +1 start / -1 end); ends sort first
  events.reserve(outcomes.size() * 2);
  for (const Outcome& o : outcomes) {
    if (o.finished <= 0) continue;  // never made
    events.emplace_back(o.finished - o.seconds, +1);
    events.emplace_back(o.finished, -1);
  }
  std::sort(events.begin(), events.end());
  int now = 0, peak = 0;
  for (const auto& [t, step] : events) peak = std::max(peak, now += step);
  return peak;
}

int64_t peak_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmHWM:")) return std::stoll(line.substr(6));
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // KiB on Linux
}

bool reset_peak_rss() {
  const int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = write(fd, "5", 1) == 1;
  close(fd);
  return ok;
}

void release_free_memory() { malloc_trim(0); }

void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace concbench::fetch
