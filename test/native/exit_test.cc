// SPDX-License-Identifier: MIT
// A process that ends right after its first parallel call: the call has created the workers,
// and each warms OpenBLAS up on its thread before its first chunk. Since a call no longer
// waits for a worker that has not started its chunk, the pool waits for that warm-up when it
// creates workers; otherwise the process could end while a worker was inside OpenBLAS, which
// frees its buffers at exit (a crash after the last case, seen under qemu-aarch64, where the
// warm-up is slow). ctest runs this suite alone, so the process ends right after it.
#include <atomic>
#include <cstdint>

#include "check.h"
#include "reference.h"
#include "threads.h"

TEST_CASE(exit, right_after_the_first_parallel_call) {
  ref::Threads t(8);
  std::atomic<int64_t> sum{0};
  blasnet::ParallelFor(8, int64_t{1} << 30, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) sum.fetch_add(i);
  });
  CHECK_EQ(sum.load(), 28);
}
