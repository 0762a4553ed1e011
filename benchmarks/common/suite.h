// SPDX-License-Identifier: MIT
// Settings shared by every workload: how thorough the run is and what machine it runs on.
#pragma once

namespace concbench {

struct Suite {
  bool quick = false;    // --quick: fewer points, a first look in under a minute
  int hardware_threads;  // usable_cpus() (common/context.h): the CPUs this process may run on
};

}  // namespace concbench
