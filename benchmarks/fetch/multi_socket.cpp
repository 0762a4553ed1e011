// SPDX-License-Identifier: MIT
// fetch/multi_socket: curl_multi_socket_action on an epoll loop, C transfers in flight.
#include <stdexcept>
#include <string>
#include <vector>

#include "fetch/model.h"
#include "fetch/socket_loop.h"

namespace concbench::fetch {
namespace {

// The callback front-end of the shared SocketLoop: when a transfer ends, its handle starts
// the next request at once, from inside the loop. An open-loop request that has not arrived
// yet leaves its handle idle until the loop wakes the model at its arrival.
class MultiSocket final : public Model, private Completion, private Wakeup {
 public:
  explicit MultiSocket(const ModelConfig& config) : client_(config.client), loop_(config.concurrency) {
    for (int i = 0; i < config.concurrency; ++i)
      transfers_.push_back(std::make_unique<Transfer>(config.client));
  }

  void run(std::span<const Request> requests, std::span<Outcome> outcomes) override {
    loop_.reset();
    requests_ = requests;
    outcomes_ = outcomes;
    next_ = 0;
    wake_pending_ = false;
    idle_.clear();
    for (auto& t : transfers_) idle_.push_back(t.get());
    launch_arrived();
    const auto deadline = run_deadline(requests, static_cast<int>(transfers_.size()), client_);
    if (!loop_.run(deadline)) throw std::runtime_error("the event loop passed the run's deadline");
  }

 private:
  // Starts every request that has arrived on an idle handle; if the next has not arrived,
  // asks to be woken when it does (once: a wake-up is pending until it runs).
  void launch_arrived() {
    while (!idle_.empty() && next_ < requests_.size()) {
      const Request& r = requests_[next_];
      if (r.not_before > 0 && !loop_.expired() && steady_time(r.not_before) > Clock::now()) {
        if (!wake_pending_) {
          wake_pending_ = true;
          loop_.at(steady_time(r.not_before), *this);
        }
        return;
      }
      Transfer* t = idle_.back();
      idle_.pop_back();
      const size_t i = next_++;
      t->begin(requests_[i], outcomes_[i]);
      loop_.start(*t, *this);
    }
  }

  void transfer_done(Transfer& t) override {
    idle_.push_back(&t);
    launch_arrived();
  }

  void wake() override {
    wake_pending_ = false;
    launch_arrived();
  }

  ClientOptions client_;
  std::vector<std::unique_ptr<Transfer>> transfers_;
  SocketLoop loop_;  // after the transfers: destroyed before them, so it can unregister them
  std::span<const Request> requests_;
  std::span<Outcome> outcomes_;
  std::vector<Transfer*> idle_;
  size_t next_ = 0;
  bool wake_pending_ = false;
};

}  // namespace

std::unique_ptr<Model> make_multi_socket(const ModelConfig& config) {
  return std::make_unique<MultiSocket>(config);
}

}  // namespace concbench::fetch
