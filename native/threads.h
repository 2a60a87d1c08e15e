// SPDX-License-Identifier: MIT
// The loop threads: one persistent worker pool for the whole process, and per caller (each
// Node environment: the main thread and every worker_thread) its own thread count, which the
// binding makes current for the duration of each call.
//
// Results never depend on the thread count: ParallelFor is only used for work whose outputs
// do not depend on where the range is cut (element-wise loops, per-sample or per-plane
// outputs), and reductions cut their input into blocks fixed by the data's shape (ForBlocks),
// whose partial results are then added in block order.
#pragma once

#include <cstdint>
#include <functional>

namespace blasnet {

// The thread count a Node environment asked for (setNumThreads); one per environment.
struct EnvThreads {
  int threads;
};

// The default count: the machine's cores, at most kMaxThreads.
int DefaultThreads();

// Makes `env` the caller whose thread count the kernels use on this OS thread, for the
// lifetime of the scope (the binding wraps every call in one).
class CallScope {
 public:
  explicit CallScope(EnvThreads* env);
  ~CallScope();
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

 private:
  EnvThreads* prev_;
};

// The current call's thread count (1 outside a call, and inside a parallel chunk).
int CallThreads();
// Sets the current caller's thread count (setNumThreads).
void SetCallThreads(int n);

// Runs fn(begin, end) over [0, n) in contiguous chunks, at most one per thread of the call,
// when `work` (a rough count of inner operations) makes splitting worth it; the caller's
// thread takes the first chunk and waits for the others. An exception thrown by any chunk is
// rethrown here once every chunk has finished. Fewer threads than asked (a thread that
// could not be created, or the pool busy with another caller's call) means fewer chunks.
void ParallelFor(int64_t n, int64_t work, const std::function<void(int64_t, int64_t)>& fn);

// A `work` for ParallelFor from a caller that has already judged its split worth the threads
// (the gemm slices): above any threshold.
constexpr int64_t kAlwaysSplit = int64_t{1} << 50;

// The number of reduction blocks for n items: min(n, kReductionBlocks), fixed by n alone.
int64_t ReductionBlocks(int64_t n);
// The items [*begin, *end) of block b of `blocks` over n items.
inline void BlockRange(int64_t n, int64_t blocks, int64_t b, int64_t* begin, int64_t* end) {
  *begin = n * b / blocks;
  *end = n * (b + 1) / blocks;
}

}  // namespace blasnet
