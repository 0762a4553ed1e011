// SPDX-License-Identifier: MIT
// The interface every fetch model implements, and the list of models.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <span>
#include <string_view>

#include "common/context.h"
#include "fetch/request.h"

namespace concbench::fetch {

struct ModelConfig {
  int concurrency = 1;  // C: the most requests in flight at once
  ClientOptions client;
  // Test hook for the fork and process_pool models: the worker process that takes this request
  // index kills itself (SIGKILL) before answering, to prove a dead worker is an error, never a
  // hang.
  int crash_at_index = -1;
};

// A concurrency model: how N blocking-or-not GETs are spread over C slots. Models are built
// outside the timed region (handles, pools, arenas, event loops start there) and reused for
// every iteration, so keep-alive connections survive from one iteration to the next.
class Model {
 public:
  virtual ~Model() = default;
  // Makes every request, filling outcomes[i] for requests[i] (outcomes.size() == requests.size()).
  // A failed request is an outcome, not an exception. Throws std::runtime_error only when the
  // model itself failed: a worker process died, or the run passed its deadline.
  virtual void run(std::span<const Request> requests, std::span<Outcome> outcomes) = 0;
  // The distinct threads that ran the last run's event loops, for the models that spread
  // them over threads (multi_threads); 0 for the rest.
  virtual int threads_used() const { return 0; }
  // What the model's live worker processes have used so far (process_pool asks its workers),
  // asked between runs only; {} for the models whose requests are made in this process or in
  // children reaped within the run (fork), which process_usage() already counts. Throws
  // std::runtime_error, and the model is broken, if a worker cannot answer.
  virtual Usage live_children_usage() { return {}; }

 protected:
  // For the models that block in one request at a time (seq, pool, threads, openmp, tbb):
  // begin_run() sets the run's deadline, perform() waits for the request's arrival and makes
  // it, or none once the deadline has passed (its outcome then says timeout), and end_run()
  // throws if any was left out, so no model runs on past the bound whatever its requests do.
  void begin_run(std::span<const Request> requests, int concurrency, const ClientOptions& client);
  void perform(Transfer& transfer, const Request& request, Outcome& outcome);
  void end_run() const;

 private:
  Clock::time_point deadline_ = Clock::time_point::max();
  std::atomic<size_t> late_{0};
};

using ModelFactory = std::unique_ptr<Model> (*)(const ModelConfig& config);

enum class Kind {
  sequential,  // one request at a time whatever C says
  workers,     // C threads or processes, each blocking in one request: C is a worker count
  event_loop,  // C transfers in flight on event loops (one thread; multi_threads' W): C is a
               // connection limit
};

struct ModelInfo {
  std::string_view name;
  Kind kind;
  // Reports mem_per_inflight_kb: the models where in-flight requests are the memory story.
  bool reports_memory;
  // Largest C and N of the default sweeps (flags can ask for more): a process per slot, or a
  // CPU scheduler that serialises blocked requests, makes the big points cost many seconds
  // that say nothing the smaller ones do not.
  int default_max_concurrency;
  int default_max_n;
  ModelFactory make;
  // Why the default C10k sweep (C up to 10,000 in flight) leaves this model out; empty for
  // the models it runs. Recorded in the run's context, so the page says why, not just "absent".
  std::string_view no_c10k = {};
  // Descriptors this process holds per slot: a blocking handle's connection, plus the
  // socketpair of the multi handle curl_easy_perform makes inside every easy handle (libcurl
  // 7.68 and later, for curl_multi_wakeup): 3. An event-loop transfer holds its connection.
  // The C10k sweep leaves out a C whose descriptors would pass the limit, and says so; a test
  // counts them for the models it runs. The process models' slots are other processes: their
  // descriptors here are pipes, not counted.
  int descriptors_per_slot = 1;
  // Multi handles a model makes for C slots, each with its socketpair: 2 descriptors apiece.
  // One handle's pair fits in the sweep's margin; only a model that makes many declares them
  // (multi_threads, one handle per 20 slots).
  int (*multi_handles)(int conc) = nullptr;

  // Descriptors the model holds with all C slots in use.
  int64_t descriptors(int conc) const {
    return int64_t{descriptors_per_slot} * conc + (multi_handles ? 2 * int64_t{multi_handles(conc)} : 0);
  }
  bool parallel() const { return kind != Kind::sequential; }
};

// Every model, in the order they run and are plotted.
std::span<const ModelInfo> all_models();
const ModelInfo* find_model(std::string_view name);

// A bound for a whole run: every transfer has a timeout, so a run of n requests on c slots
// ends within ceil(n / c) timeouts after the last arrives; past that (plus slack for process
// and thread start-up) something is broken and the model gives up instead of hanging.
Clock::time_point run_deadline(std::span<const Request> requests, int concurrency,
                               const ClientOptions& client);

std::unique_ptr<Model> make_seq(const ModelConfig& config);
std::unique_ptr<Model> make_pool(const ModelConfig& config);
std::unique_ptr<Model> make_threads(const ModelConfig& config);
std::unique_ptr<Model> make_fork(const ModelConfig& config);
std::unique_ptr<Model> make_process_pool(const ModelConfig& config);
std::unique_ptr<Model> make_openmp(const ModelConfig& config);
std::unique_ptr<Model> make_tbb(const ModelConfig& config);
std::unique_ptr<Model> make_multi(const ModelConfig& config);
std::unique_ptr<Model> make_multi_socket(const ModelConfig& config);
std::unique_ptr<Model> make_coro(const ModelConfig& config);
std::unique_ptr<Model> make_multi_threads(const ModelConfig& config);
// The multi handles multi_threads makes for C slots (one per loop at least).
int multi_threads_handles(int conc);

// Not one of the models: the floor under them (peak/raw_http), a minimal HTTP/1.1 client on
// plain sockets and epoll without libcurl, for the fixture's http://IPv4:port URLs only. It keeps
// the Model contract (C connections kept, every answer checked, timeouts, open-loop arrivals),
// so the model tests hold it to the same labels.
const ModelInfo& raw_http_info();
std::unique_ptr<Model> make_raw_http(const ModelConfig& config);

}  // namespace concbench::fetch
