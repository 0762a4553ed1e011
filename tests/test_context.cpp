// SPDX-License-Identifier: MIT
// Tests for what the binary reads of the machine into a record's context. The identity keys must
// read exactly as scripts/records.py reads them (test_compare.py holds it to the same files), or
// the scripts would not know the records made on the machine they run on.
#include <gtest/gtest.h>
#include <sched.h>

#include <string>
#include <vector>

#include "common/context.h"

namespace concbench {
namespace {

const std::string kX86 = CONCBENCH_TEST_DATA "/cpuinfo_x86";
const std::string kArm = CONCBENCH_TEST_DATA "/cpuinfo_arm";

TEST(ProcField, MatchesTheWholeKeyFromItsFirstLine) {
  // "model name" comes before "model": a prefix match would return the name.
  EXPECT_EQ(proc_field(kX86.c_str(), "model"), "143");
  EXPECT_EQ(proc_field(kX86.c_str(), "model name"), "Intel(R) Xeon(R)");  // padded in the file
  EXPECT_EQ(proc_field(kX86.c_str(), "cpu MHz"), "0.000");                // the first core's
  EXPECT_EQ(proc_field(kX86.c_str(), "cpu"), "");                         // no key of its own
  EXPECT_EQ(proc_field(kX86.c_str(), "flags"), "");
  EXPECT_EQ(proc_field("/nonexistent/cpuinfo", "model"), "");
}

TEST(CpuSignature, NamesTheDesignOnX86AndArm) {
  EXPECT_EQ(cpu_signature(kX86.c_str()), "GenuineIntel family 6 model 143 stepping 8");
  EXPECT_EQ(cpu_signature(kArm.c_str()), "implementer 0x41 part 0xd0c");
  EXPECT_EQ(cpu_signature("/nonexistent/cpuinfo"), "unknown");
}

// What a cgroup's files say, as cpu_quota() reads them: v2's cpu.max, v1's two files.
TEST(CgroupQuota, IsTheQuotaOverThePeriodAndZeroWhereNoneIsSet) {
  EXPECT_DOUBLE_EQ(cgroup_quota("150000 100000\n"), 1.5);
  EXPECT_DOUBLE_EQ(cgroup_quota("50000 100000"), 0.5);
  EXPECT_EQ(cgroup_quota("max 100000"), 0);  // v2: no quota
  EXPECT_EQ(cgroup_quota(""), 0);             // no such file
  EXPECT_EQ(cgroup_quota("100000"), 0);       // no period
  EXPECT_DOUBLE_EQ(cgroup_quota("25000\n", "100000\n"), 0.25);
  EXPECT_EQ(cgroup_quota("-1", "100000"), 0);  // v1: no quota
  EXPECT_EQ(cgroup_quota("50000", "0"), 0);
  EXPECT_EQ(cgroup_quota("5e4", "100000"), 0);
}

}  // namespace
}  // namespace concbench

// A run under taskset (or a cpuset) may use fewer CPUs than are online: the suite's hardware
// threads are those (its W sweep, its bound and its record), not hardware_concurrency's count,
// so such a run is not recorded as the unrestricted machine.
TEST(UsableCpus, AreTheAffinityMasksNotTheCpusOnline) {
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof saved, &saved), 0);
  EXPECT_EQ(concbench::usable_cpus(), CPU_COUNT(&saved));
  int first = 0;
  while (!CPU_ISSET(first, &saved)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  const int usable = concbench::usable_cpus();
  ASSERT_EQ(sched_setaffinity(0, sizeof saved, &saved), 0);
  EXPECT_EQ(usable, 1);
}

// A build tree kept when the work moved to another VM ran -march=native code for the first CPU
// on the second: the binary now refuses a CPU without the instruction sets it was compiled for.
TEST(NativeCpu, ACpuWithoutTheCompiledInstructionSetsIsRefusedNamingThem) {
  using concbench::native_cpu_problem;
  EXPECT_EQ(native_cpu_problem(std::vector<std::string>{}), "");
  EXPECT_EQ(native_cpu_problem({"avx512f", "avx512bw"}),
            "compiled for a CPU with avx512f, avx512bw, which this one lacks (a build from another machine): "
            "rebuild it (./bench and scripts/test.sh do)");
  EXPECT_EQ(native_cpu_problem(), "") << "this binary was built here";
}
