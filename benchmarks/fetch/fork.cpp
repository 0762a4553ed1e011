// SPDX-License-Identifier: MIT
// fetch/fork: C child processes share out the requests, outcomes come back over pipes.
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/process.h"
#include "fetch/model.h"

namespace concbench::fetch {
namespace {

// One message per request, smaller than PIPE_BUF so each write is atomic.
struct Record {
  uint64_t index;
  Outcome outcome;
};
static_assert(sizeof(Record) <= PIPE_BUF);

class Fork final : public Model {
 public:
  explicit Fork(const ModelConfig& config) : config_(config) {
    // The queue is one counter in memory shared with the children: each takes the next index
    // when it is free, as the pool's threads do, instead of a fixed share decided up front
    // (which would leave one child with all the slow site's requests).
    void* p = mmap(nullptr, sizeof(std::atomic<uint64_t>), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
    next_ = new (p) std::atomic<uint64_t>(0);
    static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared between processes");
  }
  ~Fork() override { munmap(next_, sizeof *next_); }

  void run(std::span<const Request> requests, std::span<Outcome> outcomes) override {
    const auto deadline = run_deadline(requests, config_.concurrency, config_.client);
    std::fill(outcomes.begin(), outcomes.end(), Outcome{});  // not_done until a child reports
    next_->store(0);
    std::vector<pid_t> pids;
    std::vector<int> fds;
    std::string error;
    for (int i = 0; i < config_.concurrency; ++i) {
      // On failure, the children already started are killed and reaped below.
      ForkedChild child = fork_with_pipe(error);
      if (child.pid < 0) break;
      if (child.pid == 0) run_child(requests, child.fd);
      pids.push_back(child.pid);
      fds.push_back(child.fd);
    }

    // Outcomes are read from every pipe as they come, so no child ever blocks on a full pipe.
    std::vector<pollfd> open;
    for (int fd : fds) open.push_back({fd, POLLIN, 0});
    size_t reported = 0;
    while (error.empty() && !open.empty()) {
      const int left = poll_ms_until(deadline, 1000);
      if (left == 0) {
        error = "worker processes passed the run's deadline";
        break;
      }
      const int ready = poll(open.data(), open.size(), left);
      if (ready < 0 && errno != EINTR) error = std::string("poll: ") + std::strerror(errno);
      for (size_t k = 0; k < open.size() && ready > 0;) {
        if (open[k].revents == 0) {
          ++k;
          continue;
        }
        Record r{};
        const size_t got = read_full(open[k].fd, &r, sizeof r, deadline, error);
        if (!error.empty()) break;
        if (got == sizeof r && r.index < requests.size()) {
          outcomes[r.index] = r.outcome;
          ++reported;
          open[k].revents = 0;  // read one record; poll again for the next
          ++k;
        } else if (got == 0) {
          open.erase(open.begin() + static_cast<std::ptrdiff_t>(k));  // end of file: child done
        } else {
          error = "a worker process sent garbage";
          break;
        }
      }
    }

    // Every child is reaped, at once (killed) after an error, so none is left a zombie.
    for (size_t i = 0; i < pids.size(); ++i) {
      close(fds[i]);
      const int status = reap(pids[i], error.empty() ? deadline : Clock::now());
      if (error.empty() && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
        error = "worker process " + std::to_string(i) + " (pid " + std::to_string(pids[i]) + ") " +
                describe_wait_status(status);
    }
    // The requests a dead child had taken never came back: they are failures, not holes.
    const uint64_t taken = std::min<uint64_t>(next_->load(), requests.size());
    if (reported < taken) {
      for (size_t i = 0; i < taken; ++i)
        if (outcomes[i].failure == Failure::not_done) outcomes[i].failure = Failure::lost;
    }
    if (!error.empty()) throw std::runtime_error(error);
  }

 private:
  // Runs in the child, which has only this thread. libcurl allocates, so unlike the sum
  // workload's children this one is not limited to async-signal-safe calls; glibc keeps
  // malloc usable after fork, and nothing here takes a lock another parent thread could have
  // held. It ends by exit_child (common/process.h), never returning into the parent's frames.
  [[noreturn]] void run_child(std::span<const Request> requests, int fd) {
    exit_child("fetch/fork worker", [&] {
      Transfer transfer(config_.client);
      while (true) {
        const uint64_t i = next_->fetch_add(1);
        if (i >= requests.size()) return 0;
        if (static_cast<int64_t>(i) == config_.crash_at_index) kill(getpid(), SIGKILL);
        Record r{i, Outcome{}};
        wait_for_arrival(requests[i]);
        transfer.perform(requests[i], r.outcome);
        if (!write_full(fd, &r, sizeof r)) return 1;
      }
    });
  }

  ModelConfig config_;
  std::atomic<uint64_t>* next_;
};

}  // namespace

std::unique_ptr<Model> make_fork(const ModelConfig& config) {
  return std::make_unique<Fork>(config);
}

}  // namespace concbench::fetch
