// SPDX-License-Identifier: MIT
// A test whose precondition this machine does not meet: skipped when run by hand, but a failure
// under scripts/test.sh, which sets CONCBENCH_NO_SKIPS. ctest counts a skip as a pass, so a
// check that quietly stopped running (a descriptor limit lowered on a new machine) would leave
// a README claim unproven with every test green.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#define CONCBENCH_SKIP(why)                                                             \
  do {                                                                                  \
    const std::string concbench_why = (why);                                            \
    const char* concbench_no_skips = std::getenv("CONCBENCH_NO_SKIPS");                 \
    if (concbench_no_skips != nullptr && std::string(concbench_no_skips) == "1")        \
      FAIL() << concbench_why                                                           \
             << " (scripts/test.sh runs every test; CONCBENCH_ALLOW_SKIPS=1 lets this " \
                "one skip)";                                                            \
    GTEST_SKIP() << concbench_why;                                                      \
  } while (0)
