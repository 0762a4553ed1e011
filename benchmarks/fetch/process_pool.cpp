// SPDX-License-Identifier: MIT
// fetch/process_pool: C pre-forked worker processes that live across runs, each with its own handle and connection.
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/process.h"
#include "fetch/model.h"

namespace concbench::fetch {
namespace {

// A request as it crosses the pipe: this header, then the URL's bytes.
struct Order {
  uint64_t index;
  uint64_t id;
  uint64_t bytes;
  uint32_t url_length;
  bool verify;
  double not_before;  // the request's arrival (open loop), as Request::not_before
};

// The answer, small enough that each write is atomic.
struct Record {
  uint64_t index;
  Outcome outcome;
};
static_assert(sizeof(Record) <= PIPE_BUF);

// An order with this index and no URL asks the worker for its usage so far, between runs only
// (live_children_usage), and is answered with a UsageRecord instead of a Record.
constexpr uint64_t kUsageOrder = ~uint64_t{0};
struct UsageRecord {
  uint64_t index;  // kUsageOrder
  Usage usage;
};
static_assert(sizeof(UsageRecord) <= PIPE_BUF);

class ProcessPool final : public Model {
 public:
  // The workers start here, outside the timed region, as a multiprocessing.Pool is built once;
  // each keeps its easy handle, so keepalive:1 connections last across runs, as the threads of
  // the pool model keep theirs. (fork, in contrast, starts C processes per run.)
  explicit ProcessPool(const ModelConfig& config) : config_(config) {
    init_curl();
    for (int i = 0; i < config.concurrency; ++i) {
      int orders[2] = {-1, -1}, answers[2];
      try {  // a pipe that cannot be made stops the workers already started, as fork failing does
        make_pipe(orders);
        make_pipe(answers);
      } catch (...) {
        for (int fd : orders)
          if (fd >= 0) close(fd);
        shut_down();
        throw;
      }
      const pid_t pid = fork();
      if (pid < 0) {
        const int err = errno;
        for (int fd : {orders[0], orders[1], answers[0], answers[1]}) close(fd);
        shut_down();
        throw std::runtime_error(std::string("fork: ") + std::strerror(err));
      }
      if (pid == 0) {
        close(orders[1]);
        close(answers[0]);
        // Its siblings' pipes stay open in it otherwise, and they would never see end of file.
        for (const Worker& w : workers_) {
          close(w.orders);
          close(w.answers);
        }
        serve(orders[0], answers[1]);
      }
      close(orders[0]);
      close(answers[1]);
      workers_.push_back({pid, orders[1], answers[0]});
    }
  }

  ~ProcessPool() override { shut_down(); }

  // Hands each free worker the next request, as a pool's queue does: C at first, then one to
  // each worker as its answer comes back.
  void run(std::span<const Request> requests, std::span<Outcome> outcomes) override {
    if (broken_) throw std::runtime_error("the process pool is broken by an earlier failure");
    const auto deadline = run_deadline(requests, config_.concurrency, config_.client);
    size_t next = 0, answered = 0;
    std::vector<pollfd> waiting;
    std::string error;
    auto give = [&](size_t w) {
      if (next == requests.size()) return;
      if (!send(workers_[w].orders, next, requests[next])) {
        error = "worker " + std::to_string(w) + ": cannot send a request: " + std::strerror(errno);
        return;
      }
      ++next;
    };
    for (size_t w = 0; w < workers_.size() && error.empty(); ++w) give(w);
    while (error.empty() && answered < next) {
      waiting.clear();
      for (const Worker& w : workers_) waiting.push_back({w.answers, POLLIN, 0});
      const int left = poll_ms_until(deadline, 1000);
      if (left == 0) {
        error = "worker processes passed the run's deadline";
        break;
      }
      if (poll(waiting.data(), waiting.size(), left) < 0 && errno != EINTR) {
        error = std::string("poll: ") + std::strerror(errno);
        break;
      }
      for (size_t w = 0; w < waiting.size() && error.empty(); ++w) {
        if (waiting[w].revents == 0) continue;
        Record r{};
        const size_t got = read_full(waiting[w].fd, &r, sizeof r, deadline, error);
        if (!error.empty()) break;
        if (got != sizeof r || r.index >= requests.size()) {
          error = "worker " + std::to_string(w) + " (pid " + std::to_string(workers_[w].pid) + ") " +
                  (got == 0 ? "died" : "sent garbage");
          break;
        }
        outcomes[r.index] = r.outcome;
        ++answered;
        give(w);
      }
    }
    if (!error.empty()) {
      // The requests given to a worker that died never came back: failures, not holes.
      for (size_t i = 0; i < next; ++i)
        if (outcomes[i].failure == Failure::not_done) outcomes[i].failure = Failure::lost;
      broken_ = true;
      throw std::runtime_error(error + shut_down());
    }
  }

  // Every order to all the workers first, then every answer: they report at once. Outside the
  // timed runs: the benchmark asks before and after its loop, so the workers' CPU time (the
  // requests' client work) counts in its cpu_util as a thread model's does.
  Usage live_children_usage() override {
    if (broken_) throw std::runtime_error("the process pool is broken by an earlier failure");
    const Order ask{kUsageOrder, 0, 0, 0, false, 0};
    std::string error;
    for (size_t w = 0; w < workers_.size() && error.empty(); ++w)
      if (!write_full(workers_[w].orders, &ask, sizeof ask))
        error = "worker " + std::to_string(w) + ": cannot ask for its usage: " + std::strerror(errno);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    Usage total;
    for (size_t w = 0; w < workers_.size() && error.empty(); ++w) {
      UsageRecord r{};
      const size_t got = read_full(workers_[w].answers, &r, sizeof r, deadline, error);
      if (!error.empty()) break;
      if (got != sizeof r || r.index != kUsageOrder)
        error = "worker " + std::to_string(w) + " (pid " + std::to_string(workers_[w].pid) + ") " +
                (got == 0 ? "died" : "sent garbage") + " when asked for its usage";
      total += r.usage;
    }
    if (!error.empty()) {
      broken_ = true;
      throw std::runtime_error(error + shut_down());
    }
    return total;
  }

 private:
  struct Worker {
    pid_t pid;
    int orders, answers;  // the parent's ends
  };

  static bool send(int fd, size_t index, const Request& r) {
    const Order order{index, r.id, r.bytes, static_cast<uint32_t>(r.url.size()), r.verify, r.not_before};
    return write_full(fd, &order, sizeof order) && write_full(fd, r.url.data(), r.url.size());
  }

  // The worker's loop, in the child; it leaves when the pool closes its order pipe. libcurl
  // allocates, so this child is not limited to async-signal-safe calls (see fork.cpp); it ends
  // by exit_child (common/process.h), never returning into the parent's frames.
  [[noreturn]] void serve(int orders, int answers) {
    const SigpipeHold hold;  // for the worker's life: its answers are one write each
    exit_child("fetch/process_pool worker", [&] {
      Transfer transfer(config_.client);
      Request request;
      const auto never = Clock::time_point::max();
      while (true) {
        Order order{};
        std::string error;
        size_t got = read_full(orders, &order, sizeof order, never, error);
        if (got == sizeof order) {
          request.url.resize(order.url_length);
          got += read_full(orders, request.url.data(), order.url_length, never, error);
        }
        if (got == 0 && error.empty()) return 0;  // the pool is shutting down
        if (!error.empty() || got != sizeof order + order.url_length) return 5;
        if (order.index == kUsageOrder) {
          const UsageRecord r{kUsageOrder, own_usage()};
          if (!write_full(answers, &r, sizeof r)) return 1;
          continue;
        }
        request.id = order.id;
        request.bytes = order.bytes;
        request.verify = order.verify;
        request.not_before = order.not_before;
        if (static_cast<int64_t>(order.index) == config_.crash_at_index) kill(getpid(), SIGKILL);
        Record r{order.index, Outcome{}};
        wait_for_arrival(request);
        transfer.perform(request, r.outcome);
        if (!write_full(answers, &r, sizeof r)) return 1;
      }
    });
  }

  // Closes every order pipe (the workers then exit) and reaps them all, killing any that does
  // not exit promptly. Returns how abnormal exits ended, for error messages.
  std::string shut_down() {
    std::string detail;
    for (const Worker& w : workers_) close(w.orders);
    // Broken, the pool waits a little: an idle worker exits at once on end of file, so only one
    // stuck in a request is killed, and the error names the worker that failed, not those it
    // stopped.
    const auto deadline = Clock::now() + std::chrono::milliseconds(broken_ ? 100 : 5000);
    for (const Worker& w : workers_) {
      const int status = reap(w.pid, deadline);
      close(w.answers);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        detail += "; pid " + std::to_string(w.pid) + " " + describe_wait_status(status);
    }
    workers_.clear();
    return detail;
  }

  ModelConfig config_;
  std::vector<Worker> workers_;
  bool broken_ = false;
};

}  // namespace

std::unique_ptr<Model> make_process_pool(const ModelConfig& config) {
  return std::make_unique<ProcessPool>(config);
}

}  // namespace concbench::fetch
