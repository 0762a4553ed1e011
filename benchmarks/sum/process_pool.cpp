// SPDX-License-Identifier: MIT
// sum/process_pool: pre-forked worker processes that live across calls, fed slices over pipes.
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/process.h"
#include "common/spin.h"
#include "sum/model.h"
#include "sum/worker_protocol.h"

namespace concbench::sum {
namespace {

struct Request {
  Kernel kernel;
  int64_t n, begin, end;
  double repeat;
  // Valid in the worker because it was forked after the data was in memory: its copy-on-write
  // view holds the same values at the same address (multiprocessing's fork start method, too).
  const int64_t* values;
  // No slice: the worker answers with its usage so far (live_children_usage), between calls.
  bool usage_only = false;
};

// Whether a read from fd would not block (data, end of file or an error is waiting).
bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) != 0;
}

class ProcessPool final : public Model {
 public:
  ProcessPool(int workers, ProcessOptions options) : options_(options) {
    for (int i = 0; i < workers; ++i) {
      int req[2], rep[2];
      try {
        make_pipe(req);
      } catch (...) {
        shut_down();  // the destructor will not run: reap the workers already started
        throw;
      }
      try {
        make_pipe(rep);
      } catch (...) {
        close(req[0]);
        close(req[1]);
        shut_down();
        throw;
      }
      pid_t pid = fork();
      if (pid < 0) {
        int err = errno;
        for (int fd : {req[0], req[1], rep[0], rep[1]}) close(fd);
        shut_down();
        throw std::runtime_error(std::string("fork: ") + std::strerror(err));
      }
      if (pid == 0) {
        close(req[1]);
        close(rep[0]);
        // Without this, a worker would hold its siblings' request pipes open, and they would
        // never see end of file when the pool shuts down.
        for (const Worker& w : workers_) {
          close(w.request_fd);
          close(w.reply_fd);
        }
        serve(req[0], rep[1], i == workers - 1 ? options_.fault : WorkerFault::none);
      }
      close(req[0]);
      close(rep[1]);
      workers_.push_back({pid, req[1], rep[0]});
    }
    requests_.resize(workers_.size());
    replies_.resize(workers_.size());
  }

  ~ProcessPool() override { shut_down(); }

  int64_t sum(const Problem& p) override {
    const int parts = static_cast<int>(workers_.size());
    for (int i = 0; i < parts; ++i) {
      Slice s = slice_of(p.n, parts, i);
      requests_[i] = {p.kernel, p.n, s.begin, s.end, p.repeat, p.values};
    }
    int64_t total = 0;
    for (const Reply& reply : exchange()) {
      total += reply.sum;
      if (p.log) p.log->add(reply.pid, reply.repeated);
    }
    return total;
  }

  // Asked of each worker before and after the timed calls, never in a call: a getrusage in
  // every reply cost each timed call a system call per worker.
  Usage live_children_usage() override {
    Request q{};
    q.usage_only = true;
    std::fill(requests_.begin(), requests_.end(), q);
    Usage u;
    for (const Reply& reply : exchange()) u += reply.usage;
    return u;
  }

 private:
  struct Worker {
    pid_t pid;
    int request_fd, reply_fd;
  };

  // Sends worker i requests_[i], all before any answer is awaited so they work at once, and
  // returns their replies (kept, as the requests are: no allocation in a timed call). A worker that cannot be sent to, answers late, dies or sends garbage
  // breaks the pool (a late answer must not pass for a later request's): the workers are shut
  // down and the error says how each ended.
  const std::vector<Reply>& exchange() {
    if (broken_) throw std::runtime_error("process pool is broken by an earlier failure");
    const int parts = static_cast<int>(workers_.size());
    std::string error;
    for (int i = 0; i < parts && error.empty(); ++i)
      if (!write_full(workers_[i].request_fd, &requests_[i], sizeof requests_[i]))
        error = "worker " + std::to_string(i) + ": cannot send work: " + std::strerror(errno);
    const auto deadline = Clock::now() + options_.timeout;
    for (int i = 0; i < parts && error.empty(); ++i) {
      std::string failure;
      const size_t got = read_full(workers_[i].reply_fd, &replies_[i], sizeof replies_[i], deadline, failure);
      if (!failure.empty()) {
        error = "worker " + std::to_string(i) + ": " + failure;
        break;
      }
      if (got != sizeof replies_[i])
        error = "worker " + std::to_string(i) + " (pid " + std::to_string(workers_[i].pid) +
                ") died without an answer";
      else if (replies_[i].magic != kReplyMagic)
        error = "worker " + std::to_string(i) + " sent garbage";
    }
    if (!error.empty()) {
      broken_ = true;
      std::string detail = shut_down();
      throw std::runtime_error(error + detail);
    }
    return replies_;
  }

  // The worker's loop; it leaves when the pool closes its request pipe.
  [[noreturn]] static void serve(int request_fd, int reply_fd, WorkerFault fault) {
    const SigpipeHold hold;  // for the worker's life: its replies are one write each
    const pid_t self = getpid();
    while (true) {
      // Look for the next request for a while before blocking in read(). A worker asleep in a
      // pipe read is woken onto the writer's CPU (the kernel assumes the writer will sleep),
      // so both workers would start on one core; one that is awake keeps its own core. The
      // thread pool spins for the same reason (common/thread_pool.cpp).
      spin_until([request_fd] { return readable(request_fd); });
      Request q{};
      size_t got = 0;
      while (got < sizeof q) {
        ssize_t r = read(request_fd, reinterpret_cast<char*>(&q) + got, sizeof q - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) _exit(got == 0 ? 0 : 5);
        got += static_cast<size_t>(r);
      }
      Reply reply{kReplyMagic, 0, self, {}, 0};
      if (q.usage_only) {
        reply.usage = own_usage();
      } else {
        if (!apply_fault(fault, reply)) _exit(4);
        fault = WorkerFault::none;
        reply.sum = sum_slice(Problem{q.kernel, q.n, q.values, q.repeat}, q.begin, q.end, &reply.repeated);
      }
      if (!write_full(reply_fd, &reply, sizeof reply)) _exit(1);
    }
  }

  // Closes every request pipe (workers then exit) and reaps them all, killing any that does
  // not exit promptly. Returns how abnormal exits ended, for error messages.
  std::string shut_down() {
    std::string detail;
    for (const Worker& w : workers_) close(w.request_fd);
    const auto deadline = Clock::now() + std::chrono::seconds(broken_ ? 0 : 5);
    for (const Worker& w : workers_) {
      int status = reap(w.pid, deadline);
      close(w.reply_fd);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        detail += "; pid " + std::to_string(w.pid) + " " + describe_wait_status(status);
    }
    workers_.clear();
    return detail;
  }

  ProcessOptions options_;
  std::vector<Worker> workers_;
  std::vector<Request> requests_;  // exchange()'s, one per worker
  std::vector<Reply> replies_;
  bool broken_ = false;
};

}  // namespace

std::unique_ptr<Model> make_process_pool(int workers, ProcessOptions options) {
  return std::make_unique<ProcessPool>(workers, options);
}
std::unique_ptr<Model> make_process_pool(int workers) {
  return make_process_pool(workers, ProcessOptions{});
}

}  // namespace concbench::sum
