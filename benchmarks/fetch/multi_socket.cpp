// SPDX-License-Identifier: MIT
// fetch/multi_socket: curl_multi_socket_action on an epoll loop, C transfers in flight.
#include "fetch/model.h"
#include "fetch/socket_client.h"

namespace concbench::fetch {
namespace {

// The callback front-end of the shared SocketLoop, all on the calling thread: when a transfer
// ends, its handle starts the next request at once, from inside the loop. An open-loop request
// that has not arrived yet leaves its handle idle until the loop wakes the model at its arrival.
class MultiSocket final : public Model {
 public:
  explicit MultiSocket(const ModelConfig& config)
      : client_options_(config.client), concurrency_(config.concurrency), client_(config.client, config.concurrency) {}

  void run(std::span<const Request> requests, std::span<Outcome> outcomes) override {
    client_.run(requests, outcomes, 0, 1, run_deadline(requests, concurrency_, client_options_));
  }

 private:
  ClientOptions client_options_;
  int concurrency_;
  SocketClient client_;
};

}  // namespace

std::unique_ptr<Model> make_multi_socket(const ModelConfig& config) {
  return std::make_unique<MultiSocket>(config);
}

}  // namespace concbench::fetch
