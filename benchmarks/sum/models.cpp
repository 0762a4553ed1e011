// SPDX-License-Identifier: MIT
// The list of sum models: one place that names them all, for the benchmarks and the tests.
#include "sum/model.h"

namespace concbench::sum {

std::span<const ModelInfo> all_models() {
  static const ModelInfo models[] = {
      {"seq", false, make_seq},
      {"threads", true, make_threads},
      {"pool", true, make_pool},
      {"tbb", true, make_tbb},
      {"openmp", true, make_openmp},
      {"fork", true, [](int w) { return make_fork(w); }},
      {"process_pool", true, [](int w) { return make_process_pool(w); }},
      {"std_par", true, make_std_par},
      {"mpi", true, make_mpi},
  };
  return models;
}

}  // namespace concbench::sum
