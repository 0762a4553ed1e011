// SPDX-License-Identifier: MIT
// What the tests read from /proc: a process's open descriptors and who a process's children are.
// One copy for every test program, so a fix to a race here (a process may end while it is
// read) reaches them all.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "common/process.h"

namespace concbench::test {

// Open descriptors of `pid`. For this process, the directory's own descriptor is not counted,
// so the count before and after a call compares what the call left open.
inline int open_fds(pid_t pid = getpid()) {
  DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return -1;
  int count = 0;
  while (dirent* e = readdir(dir)) count += e->d_name[0] != '.';
  closedir(dir);
  return pid == getpid() ? count - 1 : count;
}

struct ProcessStat {
  pid_t pid, ppid;
  char state;  // R, S, D, Z (a zombie), ...
  std::string comm;
};

// What /proc/PID/stat says of `pid`; nothing once it is gone (reaped, or never there), which
// may happen between any two reads.
inline std::optional<ProcessStat> process_stat(pid_t pid) {
  const std::string stat = proc_file(pid, "stat");
  // "PID (COMM) STATE PPID ...": COMM may itself hold spaces and parentheses.
  const size_t open = stat.find('('), close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  char state = 0;
  int ppid = 0;
  if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) != 2) return std::nullopt;
  return ProcessStat{pid, ppid, state, stat.substr(open + 1, close - open - 1)};
}

// Every process in /proc, alive or a zombie. Any of them may end while the directory is read:
// it is then left out.
inline std::vector<ProcessStat> processes() {
  std::vector<ProcessStat> all;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return all;
  while (dirent* e = readdir(dir))
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
      if (std::optional<ProcessStat> p = process_stat(std::atoi(e->d_name))) all.push_back(*p);
  closedir(dir);
  return all;
}

// The children of `parent`, alive or zombies.
inline std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> children;
  for (const ProcessStat& p : processes())
    if (p.ppid == parent) children.push_back(p.pid);
  return children;
}

}  // namespace concbench::test
