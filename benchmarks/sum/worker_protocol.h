// SPDX-License-Identifier: MIT
// What the process models send over their pipes, and the misbehaviour tests can ask a worker for.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cstdint>

#include "common/context.h"
#include "sum/model.h"

namespace concbench::sum {

// Every reply starts with this, so a worker that writes anything else is caught as garbage.
inline constexpr uint64_t kReplyMagic = 0x636f6e6362656e63;  // "concbenc"

struct Reply {
  uint64_t magic;
  int64_t sum;
  int32_t pid;  // who computed it, for the count of workers that took part
  Usage usage;  // the worker's own usage so far, when asked (process_pool: it is still alive)
  int64_t repeated;  // elements the test hook had it sum a second time (sum_slice)
};

// Runs in a forked child: does what `fault` asks before the real work. Returns false when the
// child must not answer (it has already exited or hangs until killed).
inline bool apply_fault(WorkerFault fault, Reply& reply) {
  switch (fault) {
    case WorkerFault::none:
      return true;
    case WorkerFault::crash:
      kill(getpid(), SIGKILL);
      return false;
    case WorkerFault::exit_early:
      _exit(3);
    case WorkerFault::hang:
    case WorkerFault::hang_at_start:
      while (true) pause();
    case WorkerFault::garbage:
      reply.magic = 0x0123456789abcdef;
      return true;
  }
  return true;
}

}  // namespace concbench::sum
