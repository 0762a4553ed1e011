// SPDX-License-Identifier: MIT
// Child-process plumbing shared by the models that fork: exact pipe I/O with deadlines, reaping.
#include "common/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace concbench {

int poll_ms_until(Clock::time_point deadline, int cap) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, cap));
}

size_t read_full(int fd, void* buf, size_t n, Clock::time_point deadline, std::string& error) {
  auto* out = static_cast<char*>(buf);
  size_t got = 0;
  while (got < n) {
    const int left = poll_ms_until(deadline);
    if (left == 0) {
      error = "timed out waiting for a worker process";
      break;
    }
    pollfd p{fd, POLLIN, 0};
    int ready = poll(&p, 1, left);
    if (ready < 0) {
      if (errno == EINTR) continue;
      error = std::string("poll: ") + std::strerror(errno);
      break;
    }
    if (ready == 0) continue;  // the deadline check above decides
    ssize_t r = read(fd, out + got, n - got);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      error = std::string("read from worker: ") + std::strerror(errno);
      break;
    }
    if (r == 0) break;  // end of file
    got += static_cast<size_t>(r);
  }
  return got;
}

namespace {
// Per thread, and copied into a child forked inside a hold with the mask it describes. Plain
// thread_locals of the executable: reading them is no call, so a forked child may.
thread_local bool sigpipe_held = false;
thread_local bool epipe_seen = false;  // a write under the hold failed with EPIPE

sigset_t only_sigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  return set;
}
}  // namespace

SigpipeHold::SigpipeHold() {
  if (sigpipe_held) return;
  const sigset_t pipe_signal = only_sigpipe();
  pthread_sigmask(SIG_BLOCK, &pipe_signal, &before_);
  sigset_t pending;
  sigpending(&pending);
  already_pending_ = sigismember(&pending, SIGPIPE) == 1;
  outer_ = sigpipe_held = true;
  epipe_seen = false;
}

SigpipeHold::~SigpipeHold() {
  if (!outer_) return;
  if (epipe_seen && !already_pending_) {  // the SIGPIPE that write raised, taken away undelivered
    const sigset_t pipe_signal = only_sigpipe();
    const timespec now{};
    while (sigtimedwait(&pipe_signal, nullptr, &now) < 0 && errno == EINTR) {
    }
  }
  sigpipe_held = epipe_seen = false;
  pthread_sigmask(SIG_SETMASK, &before_, nullptr);
}

bool write_full(int fd, const void* buf, size_t n) {
  const SigpipeHold hold;  // nothing when the caller holds one
  const auto* in = static_cast<const char*>(buf);
  while (n > 0) {
    const ssize_t w = write(fd, in, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) epipe_seen = true;
      return false;
    }
    in += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  return "stopped with wait status " + std::to_string(status);
}

int reap(pid_t pid, Clock::time_point deadline) {
  // A pidfd becomes readable when the child exits, so the wait costs no polling delay (which
  // would be counted as the fork model's overhead) and still has a deadline.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  int status = 0;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) break;  // not our child, or already reaped
    const int left = poll_ms_until(deadline);
    if (left == 0) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      poll(&p, 1, left);
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
  if (pidfd >= 0) close(pidfd);
  return status;
}

ForkedChild fork_with_pipe(std::string& error) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    return {-1, -1};
  }
  const pid_t pid = fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    close(fds[0]);
    close(fds[1]);
    return {-1, -1};
  }
  close(fds[pid == 0 ? 0 : 1]);
  return {pid, fds[pid == 0 ? 1 : 0]};
}

void make_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
}

std::string proc_file(pid_t pid, const char* name) {
  const int fd = open(("/proc/" + std::to_string(pid) + "/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  close(fd);
  return text;
}

void say_in_child(const char* who, const char* what) {
  const std::string line = std::string("concbench: ") + who + ": " + what + "\n";
  for (size_t done = 0; done < line.size();) {
    const ssize_t n = write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to say it: the exit status still does
    done += static_cast<size_t>(n);
  }
}

}  // namespace concbench
