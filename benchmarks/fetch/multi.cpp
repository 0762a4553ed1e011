// SPDX-License-Identifier: MIT
// fetch/multi: libcurl multi on one thread, curl_multi_perform + curl_multi_poll, C in flight.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "fetch/model.h"

namespace concbench::fetch {
namespace {

class Multi final : public Model {
 public:
  // C easy handles made once and reused: a handle re-added after its transfer keeps its
  // buffers, and the multi handle keeps the connections, so keep-alive spans iterations.
  explicit Multi(const ModelConfig& config) : client_(config.client) {
    multi_ = new_multi(config.concurrency);
    for (int i = 0; i < config.concurrency; ++i)
      transfers_.push_back(std::make_unique<Transfer>(config.client));
  }
  ~Multi() override {
    // Handles still added (only after an exception) leave the multi before either is freed.
    for (auto& t : transfers_) curl_multi_remove_handle(multi_, t->easy());
    transfers_.clear();
    curl_multi_cleanup(multi_);
  }

  void run(std::span<const Request> requests, std::span<Outcome> outcomes) override {
    const auto deadline =
        run_deadline(requests, static_cast<int>(transfers_.size()), client_);
    size_t next = 0, active = 0;
    std::vector<Transfer*> idle;
    for (auto& t : transfers_) idle.push_back(t.get());
    // Starts every request that has arrived (all of them, closed loop) on an idle handle.
    auto launch_arrived = [&] {
      while (!idle.empty() && next < requests.size() &&
             steady_time(requests[next].not_before) <= Clock::now()) {
        Transfer& t = *idle.back();
        idle.pop_back();
        t.begin(requests[next], outcomes[next]);
        ++next;
        check(curl_multi_add_handle(multi_, t.easy()), "curl_multi_add_handle");
        ++active;
      }
    };
    launch_arrived();
    while (active > 0 || next < requests.size()) {
      if (Clock::now() >= deadline) {
        throw std::runtime_error("the multi loop passed the run's deadline with " +
                                 std::to_string(active) + " transfers in flight");
      }
      int running = 0;
      // curl_multi_perform visits every added handle on every call; with C in the thousands
      // that per-wake-up cost is what multi_socket exists to avoid.
      check(curl_multi_perform(multi_, &running), "curl_multi_perform");
      take_finished(multi_, [&](Transfer& t, CURLcode code) {
        t.finish(code);
        --active;
        idle.push_back(&t);
      });
      launch_arrived();
      if (active == 0 && next == requests.size()) break;
      // A transfer added above has no socket yet, but libcurl has set its timer to zero, and
      // curl_multi_poll never sleeps past libcurl's timer. It wakes for the next arrival too
      // (in whole milliseconds: curl_multi_poll's resolution, late by up to one).
      int wait_ms = 1000;
      if (next < requests.size() && !idle.empty() && requests[next].not_before > 0)
        wait_ms = static_cast<int>(std::clamp<int64_t>(
            std::chrono::ceil<std::chrono::milliseconds>(steady_time(requests[next].not_before) - Clock::now())
                .count(), 0, 1000));
      check(curl_multi_poll(multi_, nullptr, 0, wait_ms, nullptr), "curl_multi_poll");
    }
  }

 private:
  static void check(CURLMcode rc, const char* what) {
    if (rc != CURLM_OK)
      throw std::runtime_error(std::string(what) + ": " + curl_multi_strerror(rc));
  }

  ClientOptions client_;
  CURLM* multi_ = nullptr;
  std::vector<std::unique_ptr<Transfer>> transfers_;
};

}  // namespace

std::unique_ptr<Model> make_multi(const ModelConfig& config) {
  return std::make_unique<Multi>(config);
}

}  // namespace concbench::fetch
