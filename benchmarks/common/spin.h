// SPDX-License-Identifier: MIT
// Spin-then-sleep waiting, shared by the pools' workers and the callers that wait for them.
#pragma once

#include <chrono>
#include <thread>

namespace concbench {

// How long a thread or process waiting for short CPU work (a task, a slice's answer) keeps
// looking for it before it goes to sleep. Waking a sleeping thread costs tens to hundreds of
// microseconds on a virtual machine, more than a whole small task, and a process asleep in a
// pipe read is woken on the writer's core; oneTBB and OpenMP workers spin for the same reason.
inline constexpr std::chrono::microseconds kCpuSpin{200};

// Asks ready() until it answers true or `spin` has passed, yielding the core between asks so
// a thread with real work on this core runs; returns ready()'s last answer. The caller then
// blocks (condition variable, latch, poll) if it is still not ready.
template <class Ready>
bool spin_until(Ready&& ready, std::chrono::microseconds spin = kCpuSpin) {
  const auto until = std::chrono::steady_clock::now() + spin;
  while (!ready()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace concbench
