// SPDX-License-Identifier: MIT
// fetch/seq: one easy handle, one request after another: the baseline every model is held to.
#include "fetch/model.h"

namespace concbench::fetch {
namespace {

class Seq final : public Model {
 public:
  explicit Seq(const ModelConfig& config) : transfer_(config.client) {}

  void run(std::span<const Request> requests, std::span<Outcome> outcomes) override {
    for (size_t i = 0; i < requests.size(); ++i) {
      in_flight_.begin();
      transfer_.perform(requests[i], outcomes[i]);
      in_flight_.end();
    }
  }

 private:
  Transfer transfer_;
};

}  // namespace

std::unique_ptr<Model> make_seq(const ModelConfig& config) { return std::make_unique<Seq>(config); }

}  // namespace concbench::fetch
