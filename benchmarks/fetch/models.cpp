// SPDX-License-Identifier: MIT
// The list of fetch models: one place that names them all, for the benchmarks and the tests.
#include <algorithm>

#include "fetch/model.h"

namespace concbench::fetch {

std::span<const ModelInfo> all_models() {
  // The C10k sweep (10,000 requests at 100 ms, C = 2000 .. 10,000) runs every model that holds
  // C connections in one process without a process or a runtime team per slot.
  static const ModelInfo models[] = {
      {"seq", Kind::sequential, false, 1, 10'000, make_seq, "one request at a time: 10,000 at 100 ms take 1,000 s",
       3},
      {"pool", Kind::workers, false, 10'000, 10'000, make_pool, {}, 3},
      {"threads", Kind::workers, true, 10'000, 10'000, make_threads, {}, 3},
      {"fork", Kind::workers, false, 100, 1000, make_fork, "a process per slot, forked every run"},
      {"process_pool", Kind::workers, false, 100, 1000, make_process_pool, "a worker process per slot"},
      {"openmp", Kind::workers, false, 1000, 1000, make_openmp,
       "a team of C threads blocking in requests, as in pool, which the sweep runs: left out to keep the run "
       "short",
       3},
      {"tbb", Kind::workers, false, 1000, 1000, make_tbb,
       "a task arena of C threads blocking in requests, as in pool, which the sweep runs: left out to keep the "
       "run short",
       3},
      {"multi", Kind::event_loop, true, 10'000, 10'000, make_multi},
      {"multi_socket", Kind::event_loop, true, 10'000, 10'000, make_multi_socket},
      {"coro", Kind::event_loop, true, 10'000, 10'000, make_coro},
      {"multi_threads", Kind::event_loop, true, 10'000, 10'000, make_multi_threads, {}, 1,
       multi_threads_handles},
  };
  return models;
}

const ModelInfo* find_model(std::string_view name) {
  auto models = all_models();
  auto it = std::find_if(models.begin(), models.end(),
                         [&](const ModelInfo& m) { return m.name == name; });
  return it == models.end() ? nullptr : &*it;
}

const ModelInfo& raw_http_info() {
  static const ModelInfo info{"raw_http", Kind::event_loop, false, 10'000, 10'000, make_raw_http};
  return info;
}

void Model::begin_run(std::span<const Request> requests, int concurrency, const ClientOptions& client) {
  deadline_ = run_deadline(requests, concurrency, client);
  late_ = 0;
}

void Model::perform(Transfer& transfer, const Request& request, Outcome& outcome) {
  if (Clock::now() >= deadline_) {
    outcome.failure = Failure::timeout;
    ++late_;
    return;
  }
  wait_for_arrival(request);
  transfer.perform(request, outcome);
}

void Model::end_run() const {
  if (late_ > 0)
    throw std::runtime_error(std::to_string(late_.load()) + " requests were not started: the run passed its deadline");
}

Clock::time_point run_deadline(std::span<const Request> requests, int concurrency,
                               const ClientOptions& client) {
  const size_t c = static_cast<size_t>(std::max(1, concurrency));
  const size_t rounds = (requests.size() + c - 1) / c;
  double last_arrival = 0;
  for (const Request& r : requests) last_arrival = std::max(last_arrival, r.not_before);
  const Clock::time_point from = std::max(Clock::now(), steady_time(last_arrival));
  return from + (client.timeout + client.connect_timeout) * static_cast<int64_t>(rounds) +
         std::chrono::seconds(30);
}

}  // namespace concbench::fetch
