// SPDX-License-Identifier: MIT
// Shared helpers for the kernels: overflow-safe size arithmetic and the
// small thread pool used to split loop kernels over the batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace blasnet {

// a * b, or false when the product does not fit in size_t.
inline bool MulOk(size_t a, size_t b, size_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

// Output extent of a sliding window: (in + 2*pad - k) / stride + 1, or -1 when
// the window does not fit.
inline int64_t OutExtent(int64_t in, int64_t k, int64_t stride, int64_t pad) {
  int64_t span = in + 2 * pad - k;
  if (span < 0 || stride < 1) return -1;
  return span / stride + 1;
}

// Number of loop threads (our own, not OpenBLAS's); 1 means run inline.
int LoopThreads();
void SetLoopThreads(int n);

// Runs fn(begin, end) over [0, n) split into contiguous chunks, one per loop
// thread, when `work` (a rough count of inner operations) makes it worth it.
// The caller's thread takes the first chunk. Blocks until all chunks finish.
void ParallelFor(int64_t n, int64_t work, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace blasnet
