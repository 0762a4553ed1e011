// SPDX-License-Identifier: MIT
// Child-process plumbing shared by the models that fork: exact pipe I/O with deadlines, reaping.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <exception>
#include <string>

namespace concbench {

using Clock = std::chrono::steady_clock;

// The milliseconds for poll() to wait towards `deadline`, at most `cap`: rounded up, so a wait
// never ends before the deadline (rounded down, a read's timeout came up to 1 ms early, and a
// deadline under 1 ms away was called passed), and 0 only once it has passed.
int poll_ms_until(Clock::time_point deadline, int cap = 1 << 30);

// Reads exactly n bytes, waiting at most until `deadline`. Returns the bytes read: n on
// success, fewer on end of file (the writer died or closed). When the deadline passes, or poll
// or read fails, it stops and says why in `error`, so a stuck child is an error and never a
// hang; `error` is left alone otherwise. Every caller gathers one error per run, so this is how
// it reports, not by throwing.
size_t read_full(int fd, void* buf, size_t n, Clock::time_point deadline, std::string& error);

// While one lives, SIGPIPE is held back on this thread: a write to a pipe whose reader died (a
// pool worker killed between calls) fails with EPIPE, which the models report, and does not end
// the process. When the outermost one ends, a SIGPIPE that such a write raised is taken away and
// the mask is restored, so the process's own handling of SIGPIPE stays as it was (`concbench |
// head` ends the run and removes its unfinished record, which ignoring the signal process-wide
// had stopped). Nested holds cost nothing. The timed loops hold it across their calls and the
// pool workers for their lives: a process model's write is then one system call, as in a program
// that ignores SIGPIPE, not four (mask, pending set, write, mask). A child forked inside a hold
// inherits it, and so does a thread started inside one, for its life (the fetch benchmarks
// hold it from the model's construction: its threads, oneTBB's and libgomp's keep SIGPIPE
// blocked; they send with MSG_NOSIGNAL or through libcurl, which does). Only system calls, so a
// child of a multithreaded parent may make one.
class SigpipeHold {
 public:
  SigpipeHold();
  ~SigpipeHold();
  SigpipeHold(const SigpipeHold&) = delete;
  SigpipeHold& operator=(const SigpipeHold&) = delete;

 private:
  bool outer_ = false;
  bool already_pending_ = false;  // a SIGPIPE pending before is not this hold's to take away
  sigset_t before_{};
};

// Writes all n bytes (retrying on EINTR and short writes); false on error, EPIPE included,
// under a SigpipeHold (its own when the caller has none). Only system calls, so a child of a
// multithreaded parent may call it.
bool write_full(int fd, const void* buf, size_t n);

// "exited with status 3", "killed by signal 11 (Segmentation fault)".
std::string describe_wait_status(int status);

// Waits for pid until `deadline`, then kills it with SIGKILL and waits again: every child is
// reaped, none is left a zombie. Returns the wait status.
int reap(pid_t pid, Clock::time_point deadline);

// A child forked with a pipe back to its parent.
struct ForkedChild {
  pid_t pid;  // 0 in the child, the child's pid in the parent, -1 when nothing was started
  int fd;     // in the child: the write end to answer on; in the parent: the read end
};

// Makes a pipe and forks. The child keeps only the write end, the parent only the read end.
// On failure returns pid -1 with `error` set and nothing left open, so a caller that has
// started other children can still kill and reap them.
ForkedChild fork_with_pipe(std::string& error);

// "concbench: WHO: WHAT" on stderr by write(2): no stdio lock, which a parent thread may have
// held when the child was forked.
void say_in_child(const char* who, const char* what);

// Ends a forked child with the exit status `body` returns, by _exit (exit would run the
// parent's atexit handlers and destructors, and flush stdio buffers copied from it). An
// exception must not leave `body`: it would unwind into the parent's frames that fork copied,
// and the child would go on running the suite and print a record of its own. It ends the child
// with status 70 instead, its message on stderr, and the parent reports that status.
template <class Body>
[[noreturn]] void exit_child(const char* who, Body&& body) {
  int code = 70;
  try {
    code = body();
  } catch (const std::exception& e) {
    say_in_child(who, e.what());
  } catch (...) {
    say_in_child(who, "an exception that is not a std::exception");
  }
  _exit(code);
}

// Creates a pipe with O_CLOEXEC, so children forked by other models never inherit it.
void make_pipe(int fds[2]);

// The whole of /proc/PID/NAME, or "" if it cannot be read. The process may end between the
// open and the read, which then fails with ESRCH; libstdc++'s filebuf reports that by throwing
// out of an istreambuf_iterator ("basic_filebuf::underflow error reading the file: No such
// process"), which failed tests now and then, so this reads with plain read(2).
std::string proc_file(pid_t pid, const char* name);

}  // namespace concbench
