// SPDX-License-Identifier: MIT
// Settings shared by every workload: how thorough the run is and what machine it runs on.
#pragma once

namespace concbench {

struct Suite {
  bool quick = false;    // --quick: fewer points, a first look in under a minute
  int hardware_threads;  // std::thread::hardware_concurrency(), at least 1
};

}  // namespace concbench
