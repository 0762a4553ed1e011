// SPDX-License-Identifier: MIT
// Running a piece of a test in a child that the system lets start only a few more threads, so a
// model meets a thread refused part-way (a pids cgroup, ulimit -u) as it would in a real run.
// One copy for the sum and the fetch tests.
#pragma once

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace concbench::test {

// Exit statuses of a child that could not set up the limit.
constexpr int kNoOwnUser = 100, kNoLimit = 101, kNoThreadAtAll = 102;

// The wait status of `body` run in a child that may have `more` threads besides its own and no
// more: it runs as a user of its own (a uid no one else has), since the kernel counts
// RLIMIT_NPROC over the real user's tasks; so it needs root, which may change its uid (and is
// not itself held to the limit). A thread started and joined first shows that the limit lets
// some start: with none, a model refused at its first thread left nothing to join, and the old
// code passed too.
inline int with_thread_limit(int more, const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid != 0) {
    int status = -1;
    if (pid > 0) waitpid(pid, &status, 0);
    return status;
  }
  const uid_t uid = 2'000'000'000u + static_cast<uid_t>(getpid());
  if (setgroups(0, nullptr) != 0 || setgid(uid) != 0 || setuid(uid) != 0) _exit(kNoOwnUser);
  const rlimit limit{static_cast<rlim_t>(1 + more), static_cast<rlim_t>(1 + more)};
  if (setrlimit(RLIMIT_NPROC, &limit) != 0) _exit(kNoLimit);
  try {
    std::thread([] {}).join();
  } catch (const std::system_error&) {
    _exit(kNoThreadAtAll);
  }
  _exit(body());
}

// 0 when make() throws the error of a thread refused (EAGAIN), else why not.
template <typename Make>
int refused(Make make) {
  try {
    make();
  } catch (const std::system_error& e) {
    return e.code() == std::errc::resource_unavailable_try_again ? 0 : 2;
  } catch (...) {
    return 3;
  }
  return 1;  // every thread started: nothing was tested
}

// Runs each case's body under a limit of 3 more threads; each must end with the refusal as an
// error (status 0 of refused()), not with std::terminate: a joinable std::thread destroyed as
// the error left ended the whole run with SIGABRT, every benchmark after it lost. Returns why
// the cases could not run here, for the test to skip with.
using RefusalCase = std::pair<std::string, std::function<int()>>;
inline std::optional<std::string> expect_refused_threads_are_errors(const std::vector<RefusalCase>& cases) {
  if (geteuid() != 0) return "needs root, to run the limited child as a user of its own";
  for (const auto& [name, body] : cases) {
    const int status = with_thread_limit(3, body);
    if (WIFEXITED(status) && WEXITSTATUS(status) == kNoOwnUser)
      return "cannot run a child as a user of its own here (a user namespace?)";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << name << ": " << (WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                                : "exit status " + std::to_string(WEXITSTATUS(status)));
  }
  return std::nullopt;
}

}  // namespace concbench::test
