// SPDX-License-Identifier: MIT
// One SocketLoop's share of a run: the engine of multi_socket (one share) and multi_threads (one per thread).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "fetch/request.h"
#include "fetch/socket_loop.h"

namespace concbench::fetch {

// `connections` transfers (easy handles) on a loop of their own. run() makes the requests
// offset, offset + stride, offset + 2 stride, ...: each is started as soon as it has arrived
// and a handle is idle, from inside the loop when a transfer ends. A share taken by stride
// keeps an open-loop schedule's arrivals evenly spread over the loops.
class SocketClient final : private Completion, private Wakeup {
 public:
  // The loop drives `handles` multi handles (SocketLoop), each holding a share of the connections.
  SocketClient(const ClientOptions& client, int connections, int handles = 1);

  // Throws std::runtime_error if the deadline passed before every request of the share ended.
  void run(std::span<const Request> requests, std::span<Outcome> outcomes, size_t offset, size_t stride,
           Clock::time_point deadline);

 private:
  void launch_arrived();
  void transfer_done(Transfer& t) override;
  void wake() override;

  std::vector<std::unique_ptr<Transfer>> transfers_;
  SocketLoop loop_;  // after the transfers: destroyed before them, so it can unregister them
  std::span<const Request> requests_;
  std::span<Outcome> outcomes_;
  std::vector<Transfer*> idle_;
  size_t next_ = 0, stride_ = 1;
  bool wake_pending_ = false;
};

}  // namespace concbench::fetch
