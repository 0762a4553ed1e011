// SPDX-License-Identifier: MIT
// sum/fork: one fork()ed child per worker per call, partial sums back over pipes, every child reaped.
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "common/process.h"
#include "sum/model.h"
#include "sum/worker_protocol.h"

namespace concbench::sum {
namespace {

class Fork final : public Model {
 public:
  Fork(int workers, ProcessOptions options) : workers_(workers), options_(options) {}

  int64_t sum(const Problem& p) override {
    std::vector<pid_t> pids;
    std::vector<int> fds;
    std::string error;
    for (int i = 0; i < workers_ && error.empty(); ++i) {
      // On failure, the children already started are killed and reaped below.
      ForkedChild child = fork_with_pipe(error);
      if (child.pid < 0) break;
      if (child.pid == 0) run_child(p, i, child.fd);
      pids.push_back(child.pid);
      fds.push_back(child.fd);
    }

    const auto deadline = Clock::now() + options_.timeout;
    int64_t total = 0;
    for (size_t i = 0; i < pids.size(); ++i) {
      Reply reply{};
      std::string failure;
      const size_t got = error.empty() ? read_full(fds[i], &reply, sizeof reply, deadline, failure) : 0;
      if (!failure.empty()) error = "worker " + std::to_string(i) + ": " + failure;
      close(fds[i]);
      // After a failure, the remaining children are killed at once rather than waited for.
      int status = reap(pids[i], error.empty() ? deadline : Clock::now());
      if (!error.empty()) continue;
      std::string who = "worker " + std::to_string(i) + " (pid " + std::to_string(pids[i]) + ")";
      if (got != sizeof reply)
        error = who + " sent no answer: it " + describe_wait_status(status);
      else if (reply.magic != kReplyMagic)
        error = who + " sent garbage";
      else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        error = who + " " + describe_wait_status(status);
      else {
        total += reply.sum;
        if (p.log) p.log->add(reply.pid, reply.repeated);
      }
    }
    if (!error.empty()) throw std::runtime_error(error);
    return total;
  }

 private:
  // Runs in the child. Only async-signal-safe calls: the parent may have other threads (TBB,
  // OpenMP) whose locks are frozen in the child. It ends with _exit, never exit: exit would
  // run the parent's atexit handlers and flush stdio buffers copied from the parent.
  [[noreturn]] void run_child(const Problem& p, int index, int fd) {
    Reply reply{kReplyMagic, 0, getpid(), {}, 0};
    if (index == workers_ - 1 && !apply_fault(options_.fault, reply)) _exit(4);
    Slice s = slice_of(p.n, workers_, index);
    Problem mine = p;
    mine.log = nullptr;  // the parent logs this worker from its reply: no locks or malloc here
    reply.sum = sum_slice(mine, s.begin, s.end, &reply.repeated);
    _exit(write_full(fd, &reply, sizeof reply) ? 0 : 1);
  }

  int workers_;
  ProcessOptions options_;
};

}  // namespace

std::unique_ptr<Model> make_fork(int workers, ProcessOptions options) {
  return std::make_unique<Fork>(workers, options);
}
std::unique_ptr<Model> make_fork(int workers) { return make_fork(workers, ProcessOptions{}); }

}  // namespace concbench::sum
