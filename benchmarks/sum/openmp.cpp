// SPDX-License-Identifier: MIT
// sum/openmp: `parallel for reduction(+)` over the slices with a num_threads clause.
#include <omp.h>

#include "sum/model.h"

namespace concbench::sum {
namespace {

class OpenMp final : public Model {
 public:
  explicit OpenMp(int workers) : workers_(workers) {
    // A team of exactly W, whatever OMP_DYNAMIC says: dynamic teams (libgomp's are the online
    // CPUs less the load average) made W > cores impossible, and a team of 1 under a label of
    // 2 once the load rose mid-benchmark. This thread runs every call: the setting is its own.
    omp_set_dynamic(0);
    // libgomp starts a team's threads at its first parallel region and keeps them for the next:
    // one region here, so building the model pays for them (start_ms), not the first call. Not
    // an empty one: GCC drops a parallel region whose body is empty.
    int team = 0;
#pragma omp parallel num_threads(workers_)
#pragma omp single
    team = omp_get_num_threads();
    static_cast<void>(team);
  }

  int64_t sum(const Problem& p) override {
    // The loop runs over slices, not elements: each thread calls the shared kernel once, as
    // every other model does. A loop over elements here would be a different kernel (and one
    // the compiler may fold into a closed form).
    const int parts = workers_;
    int64_t total = 0;
#pragma omp parallel for num_threads(parts) reduction(+ : total) schedule(static, 1)
    for (int i = 0; i < parts; ++i) {
      Slice s = slice_of(p.n, parts, i);
      total += sum_slice(p, s.begin, s.end);
    }
    return total;
  }

 private:
  int workers_;
};

}  // namespace

std::unique_ptr<Model> make_openmp(int workers) { return std::make_unique<OpenMp>(workers); }

}  // namespace concbench::sum
