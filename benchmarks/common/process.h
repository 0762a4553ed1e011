// SPDX-License-Identifier: MIT
// Child-process plumbing shared by the models that fork: exact pipe I/O with deadlines, reaping.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>

namespace concbench {

using Clock = std::chrono::steady_clock;

// Reads exactly n bytes, waiting at most until `deadline`. Returns the bytes read: n on
// success, fewer on end of file (the writer died or closed). Throws std::runtime_error when
// the deadline passes, so a stuck child is an error and never a hang.
size_t read_full(int fd, void* buf, size_t n, Clock::time_point deadline);

// Writes all n bytes (retrying on EINTR and short writes); false on error. Async-signal-safe,
// so a child of a multithreaded parent may call it.
bool write_full(int fd, const void* buf, size_t n);

// "exited with status 3", "killed by signal 11 (Segmentation fault)".
std::string describe_wait_status(int status);

// Waits for pid until `deadline`, then kills it with SIGKILL and waits again: every child is
// reaped, none is left a zombie. Returns the wait status.
int reap(pid_t pid, Clock::time_point deadline);

// Creates a pipe with O_CLOEXEC, so children forked by other models never inherit it.
void make_pipe(int fds[2]);

}  // namespace concbench
