// SPDX-License-Identifier: MIT
// sum/seq: one call of the kernel on the calling thread, the baseline every model is measured against.
#include "sum/model.h"

namespace concbench::sum {
namespace {

class Seq final : public Model {
 public:
  int64_t sum(const Problem& p) override { return sum_slice(p, 0, p.n); }
};

}  // namespace

std::unique_ptr<Model> make_seq(int) { return std::make_unique<Seq>(); }

}  // namespace concbench::sum
