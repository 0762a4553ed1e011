// SPDX-License-Identifier: MIT
// Tests for what the binary reads of the machine into a record's context. The identity keys must
// read exactly as scripts/records.py reads them (test_compare.py holds it to the same files), or
// the scripts would not know the records made on the machine they run on.
#include <gtest/gtest.h>
#include <sched.h>

#include <set>
#include <sstream>
#include <string>
#include <thread>
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

std::vector<std::string> dirs_of(const std::string& controller, const std::string& mountinfo,
                                 const std::string& cgroup) {
  std::istringstream m(mountinfo), c(cgroup);
  std::vector<std::string> out;
  for (const CgroupDir& d : cgroup_dirs(controller, m, c)) out.push_back((d.v2 ? "v2 " : "v1 ") + d.path);
  return out;
}

// The bare sum pins its W threads to the first W CPUs of this order: on a machine that numbers
// a core's two hyperthreads side by side (0 and 1 one core, 2 and 3 the next), cores first.
TEST(CoresFirst, PutsOneCpuOfEachCoreBeforeAnySecondOfOne) {
  const auto side_by_side = [](int cpu) { return "0:" + std::to_string(cpu / 2); };
  EXPECT_EQ(cores_first({0, 1, 2, 3}, side_by_side), (std::vector<int>{0, 2, 1, 3}));
  const auto two_packages = [](int cpu) { return std::to_string(cpu % 2) + ":0"; };  // core 0 of each
  EXPECT_EQ(cores_first({0, 1, 2, 3}, two_packages), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(cores_first({5, 7}, [](int) { return std::string(); }), (std::vector<int>{5, 7}));  // unknown: own cores
  // This machine's sysfs names every online CPU's core, and no two CPUs of one core come first.
  std::vector<int> all;
  for (int cpu = 0; cpu < static_cast<int>(std::thread::hardware_concurrency()); ++cpu) all.push_back(cpu);
  std::set<std::string> cores;
  for (const int cpu : all) cores.insert(sysfs_core_of(cpu));
  ASSERT_FALSE(cores.count("")) << "a CPU without topology in sysfs";
  const std::vector<int> order = cores_first(all, sysfs_core_of);
  std::set<std::string> first;
  for (size_t i = 0; i < cores.size(); ++i) first.insert(sysfs_core_of(order[i]));
  EXPECT_EQ(first, cores);
}

// Where cpu_quota() and memory_limit() look: the process's cgroup and those above it, on the
// hierarchy that holds the controller, as a host, a container and a hybrid machine mount them.
TEST(CgroupDirs, AreTheProcesssCgroupAndThoseAboveItUpToTheMountPoint) {
  const std::string hybrid =
      "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
      "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
  EXPECT_EQ(dirs_of("cpu", hybrid, "4:memory:/a\n2:cpu,cpuacct:/job/run\n0::/user.slice\n"),
            (std::vector<std::string>{"v1 /sys/fs/cgroup/cpu,cpuacct/job/run", "v1 /sys/fs/cgroup/cpu,cpuacct/job",
                                      "v1 /sys/fs/cgroup/cpu,cpuacct", "v2 /sys/fs/cgroup/unified/user.slice",
                                      "v2 /sys/fs/cgroup/unified"}));
  EXPECT_EQ(dirs_of("memory", hybrid, "4:memory:/\n2:cpu,cpuacct:/job\n"),
            (std::vector<std::string>{"v1 /sys/fs/cgroup/memory"}));
  // A container's mount has its own cgroup as its root: the path below it is read from the mount
  // point, whole names only (/docker/ab is not below /docker/a), and mountinfo's escapes undone.
  const std::string container = "50 40 0:31 /docker/a /sys/fs/cgroup/cpu\\040x ro - cgroup cgroup rw,cpu\n";
  EXPECT_EQ(dirs_of("cpu", container, "2:cpu:/docker/a\n"), (std::vector<std::string>{"v1 /sys/fs/cgroup/cpu x"}));
  EXPECT_EQ(dirs_of("cpu", container, "2:cpu:/docker/a/b\n"),
            (std::vector<std::string>{"v1 /sys/fs/cgroup/cpu x/b", "v1 /sys/fs/cgroup/cpu x"}));
  EXPECT_EQ(dirs_of("cpu", container, "2:cpu:/docker/ab\n"),
            (std::vector<std::string>{"v1 /sys/fs/cgroup/cpu x/docker/ab", "v1 /sys/fs/cgroup/cpu x/docker",
                                      "v1 /sys/fs/cgroup/cpu x"}));
  // v2 alone; no hierarchy holds the controller; no mount at all.
  EXPECT_EQ(dirs_of("cpu", "25 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n", "0::/\n"),
            (std::vector<std::string>{"v2 /sys/fs/cgroup"}));
  EXPECT_TRUE(dirs_of("cpu", "34 30 0:31 / /m rw - cgroup cgroup rw,memory\n", "4:memory:/a\n").empty());
  EXPECT_TRUE(dirs_of("cpu", "", "2:cpu:/a\n").empty());
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
