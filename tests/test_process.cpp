// SPDX-License-Identifier: MIT
// Tests for the pipe reads every process model makes (common/process.h): a worker that answers
// in pieces is read whole, one that died is an end of file, and one that is stuck or a pipe that
// fails is an error in the caller's string by the deadline, never a hang and never a throw.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/process.h"
#include "skip.h"

namespace concbench {
namespace {

using std::chrono::milliseconds;

struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() { make_pipe(fds); }
  ~Pipe() {
    close_write();
    close_read();
  }
  void close_write() {
    if (fds[1] >= 0) close(fds[1]);
    fds[1] = -1;
  }
  void close_read() {
    if (fds[0] >= 0) close(fds[0]);
    fds[0] = -1;
  }
};

TEST(PollMsUntil, RoundsUpSoAWaitNeverEndsEarly) {
  const auto now = Clock::now();
  const int hour = poll_ms_until(now + std::chrono::hours(1));
  EXPECT_LE(hour, 3'600'000);
  EXPECT_GT(hour, 3'590'000);  // however long this thread was preempted since `now`
  EXPECT_EQ(poll_ms_until(now + std::chrono::hours(1), 1000), 1000);  // the cap
  // A deadline 0.3 ms ahead is still ahead: rounded up to a whole millisecond, never to 0. Read
  // until this thread was not preempted past it meanwhile (else 0 would be right), not skipped
  // in silence when it was.
  bool seen = false;
  for (int tries = 0; tries < 1000 && !seen; ++tries) {
    const auto t0 = Clock::now();
    const int short_wait = poll_ms_until(t0 + std::chrono::microseconds(300));
    if (Clock::now() - t0 < std::chrono::microseconds(300)) {
      EXPECT_EQ(short_wait, 1);
      seen = true;
    }
  }
  if (!seen) CONCBENCH_SKIP("preempted for 0.3 ms in each of 1000 tries: a short wait could not be read");
  EXPECT_EQ(poll_ms_until(now - std::chrono::microseconds(300)), 0);  // passed
  EXPECT_EQ(poll_ms_until(now - std::chrono::hours(1)), 0);
}

TEST(ReadFull, ReadsAnAnswerSentInPiecesWhole) {
  Pipe p;
  const uint64_t sent[2] = {0x0123456789abcdefULL, 42};
  std::thread writer([&] {
    const char* bytes = reinterpret_cast<const char*>(sent);
    for (size_t at = 0; at < sizeof sent; at += 5) {  // 5-byte pieces, each a read of its own
      ASSERT_TRUE(write_full(p.fds[1], bytes + at, std::min<size_t>(5, sizeof sent - at)));
      std::this_thread::sleep_for(milliseconds(2));
    }
  });
  uint64_t got[2] = {};
  std::string error;
  EXPECT_EQ(read_full(p.fds[0], got, sizeof got, Clock::now() + std::chrono::seconds(5), error), sizeof got);
  writer.join();
  EXPECT_EQ(error, "");
  EXPECT_EQ(got[0], sent[0]);
  EXPECT_EQ(got[1], sent[1]);
}

TEST(ReadFull, AWriterThatClosesEarlyIsAShortReadAndNoError) {
  Pipe p;
  ASSERT_TRUE(write_full(p.fds[1], "abc", 3));
  p.close_write();  // as a worker that died after three bytes
  char got[8] = {};
  std::string error;
  EXPECT_EQ(read_full(p.fds[0], got, sizeof got, Clock::now() + std::chrono::seconds(5), error), 3u);
  EXPECT_EQ(error, "");
  EXPECT_EQ(std::string(got, 3), "abc");
}

TEST(ReadFull, AStuckWriterIsATimeoutByTheDeadline) {
  Pipe p;
  ASSERT_TRUE(write_full(p.fds[1], "abc", 3));  // and then nothing, the write end still open
  char got[8] = {};
  std::string error;
  const auto start = Clock::now();
  const auto deadline = start + milliseconds(100);
  EXPECT_EQ(read_full(p.fds[0], got, sizeof got, deadline, error), 3u);
  EXPECT_GE(Clock::now(), deadline);  // it waited for the answer until the deadline, not less
  EXPECT_EQ(error, "timed out waiting for a worker process");
}

TEST(ReadFull, AFailedReadIsAnError) {
  const int directory = open("/", O_RDONLY | O_CLOEXEC);  // poll calls it readable; read fails
  ASSERT_GE(directory, 0);
  char got[8] = {};
  std::string error;
  EXPECT_EQ(read_full(directory, got, sizeof got, Clock::now() + std::chrono::seconds(5), error), 0u);
  close(directory);
  EXPECT_EQ(error, "read from worker: Is a directory");
}

// A forked child's body that throws must end the child, never unwind into the frames fork
// copied (the child would run the rest of this test, and of the suite, as a second process):
// after exit_child nothing runs in the child, which the pipe's silence shows.
TEST(ExitChild, AnExceptionEndsTheChildWithItsOwnStatus) {
  for (const bool throws : {true, false}) {
    Pipe after;
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        exit_child("test worker", [&]() -> int {
          if (throws) throw std::runtime_error("no memory for a handle");
          return 3;
        });
      } catch (...) {
      }
      // reached only if exit_child returned or let the exception out
      const char c = 'x';
      (void)!write(after.fds[1], &c, 1);
      _exit(0);
    }
    after.close_write();
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), throws ? 70 : 3);
    char c = 0;
    EXPECT_EQ(read(after.fds[0], &c, 1), 0) << "the child went on after exit_child";
  }
}

}  // namespace
}  // namespace concbench
