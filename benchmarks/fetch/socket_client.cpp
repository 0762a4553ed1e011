// SPDX-License-Identifier: MIT
// One SocketLoop's share of a run: the engine of multi_socket and multi_threads.
#include "fetch/socket_client.h"

#include <stdexcept>

namespace concbench::fetch {

SocketClient::SocketClient(const ClientOptions& client, int connections, int handles)
    : loop_(connections, handles) {
  for (int i = 0; i < connections; ++i) transfers_.push_back(std::make_unique<Transfer>(client));
}

void SocketClient::run(std::span<const Request> requests, std::span<Outcome> outcomes, size_t offset,
                       size_t stride, Clock::time_point deadline) {
  loop_.reset();
  requests_ = requests;
  outcomes_ = outcomes;
  next_ = offset;
  stride_ = stride;
  wake_pending_ = false;
  idle_.clear();
  for (auto& t : transfers_) idle_.push_back(t.get());
  launch_arrived();
  if (!loop_.run(deadline)) throw std::runtime_error("the event loop passed the run's deadline");
}

// Starts every request of the share that has arrived on an idle handle; if the next has not
// arrived, asks to be woken when it does (once: a wake-up is pending until it runs).
void SocketClient::launch_arrived() {
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
    const size_t i = next_;
    next_ += stride_;
    t->begin(requests_[i], outcomes_[i]);
    loop_.start(*t, *this);
  }
}

void SocketClient::transfer_done(Transfer& t) {
  idle_.push_back(&t);
  launch_arrived();
}

void SocketClient::wake() {
  wake_pending_ = false;
  launch_arrived();
}

}  // namespace concbench::fetch
