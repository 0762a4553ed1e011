// SPDX-License-Identifier: MIT
// sum/std_par: std::transform_reduce(std::execution::par) over chunks, what a modern C++ user tries first.
#include <execution>
#include <functional>
#include <numeric>
#include <vector>

#include "common/arena.h"
#include "sum/model.h"

// libstdc++ runs std::execution::par on oneTBB when it finds it, and serially otherwise: a
// serial std_par would be seq under another name.
#if !defined(_PSTL_PAR_BACKEND_TBB)
#error "std::execution::par would run on libstdc++'s serial backend: sum/std_par needs oneTBB (libtbb-dev)"
#endif

namespace concbench::sum {
namespace {

// Chunks per worker: enough for the library to balance load, few enough that each chunk is a
// long run of the kernel.
constexpr int kChunksPerWorker = 8;

class StdPar final : public Model {
 public:
  // libstdc++'s parallel algorithms run on oneTBB in the caller's arena, so an arena of
  // `workers` threads is how a user bounds them.
  explicit StdPar(int workers) : arena_(workers), workers_(workers) { arena_.initialize(); }

  int64_t sum(const Problem& p) override {
    // Chunks even where n is smaller (empty ones then), so all W workers can take part.
    const int chunks = workers_ * kChunksPerWorker;
    chunk_ids_.resize(chunks);
    std::iota(chunk_ids_.begin(), chunk_ids_.end(), 0);
    return arena_.execute([&] {
      return std::transform_reduce(std::execution::par, chunk_ids_.begin(), chunk_ids_.end(),
                                   int64_t{0}, std::plus<int64_t>(), [&](int chunk) {
                                     Slice s = slice_of(p.n, chunks, chunk);
                                     return sum_slice(p, s.begin, s.end);
                                   });
    });
  }

 private:
  WorkerArena arena_;
  int workers_;
  std::vector<int> chunk_ids_;
};

}  // namespace

std::unique_ptr<Model> make_std_par(int workers) { return std::make_unique<StdPar>(workers); }

}  // namespace concbench::sum
