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
// the next request at once, from inside the loop.
class MultiSocket final : public Model, private Completion {
 public:
  explicit MultiSocket(const ModelConfig& config) : client_(config.client), loop_(config.concurrency) {
    for (int i = 0; i < config.concurrency; ++i)
      transfers_.push_back(std::make_unique<Transfer>(config.client));
  }

  void run(std::span<const Request> requests, std::span<Outcome> outcomes) override {
    requests_ = requests;
    outcomes_ = outcomes;
    next_ = 0;
    for (auto& t : transfers_) {
      if (next_ == requests.size()) break;
      launch(*t);
    }
    const auto deadline =
        run_deadline(requests.size(), static_cast<int>(transfers_.size()), client_);
    if (!loop_.run(deadline)) throw std::runtime_error("the event loop passed the run's deadline");
  }

 private:
  void launch(Transfer& t) {
    const size_t i = next_++;
    t.begin(requests_[i], outcomes_[i]);
    loop_.start(t, *this);
  }

  void transfer_done(Transfer& t) override {
    if (next_ < requests_.size()) launch(t);
  }

  ClientOptions client_;
  std::vector<std::unique_ptr<Transfer>> transfers_;
  SocketLoop loop_;  // after the transfers: destroyed before them, so it can unregister them
  std::span<const Request> requests_;
  std::span<Outcome> outcomes_;
  size_t next_ = 0;
};

}  // namespace

std::unique_ptr<Model> make_multi_socket(const ModelConfig& config) {
  return std::make_unique<MultiSocket>(config);
}

}  // namespace concbench::fetch
