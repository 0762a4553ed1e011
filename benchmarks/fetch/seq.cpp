// SPDX-License-Identifier: MIT
// fetch/seq: one easy handle, one request after another: the baseline every model is held to.
#include "fetch/model.h"

namespace concbench::fetch {
namespace {

class Seq final : public Model {
 public:
  explicit Seq(const ModelConfig& config) : client_(config.client), transfer_(config.client) {}

  void run(std::span<const Request> requests, std::span<Outcome> outcomes) override {
    begin_run(requests, 1, client_);
    for (size_t i = 0; i < requests.size(); ++i) perform(transfer_, requests[i], outcomes[i]);
    end_run();
  }

 private:
  ClientOptions client_;
  Transfer transfer_;
};

}  // namespace

std::unique_ptr<Model> make_seq(const ModelConfig& config) { return std::make_unique<Seq>(config); }

}  // namespace concbench::fetch
