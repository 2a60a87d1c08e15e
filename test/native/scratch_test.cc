// SPDX-License-Identifier: MIT
// native/scratch.cc: per-thread scratch grows to the largest request and is reused; a request
// above the cap (lib/core/contract.ts: SCRATCH_CAP_BYTES) is refused before anything is
// allocated; more than SCRATCH_KEEP_BYTES held after a call is freed; a kernel whose scratch
// would pass the cap refuses the call.
#include <atomic>
#include <string>
#include <thread>

#include "check.h"
#include "conv.h"
#include "reference.h"
#include "scratch.h"
#include "threads.h"

TEST_CASE(scratch, grows_to_the_largest_request_and_is_reused) {
  std::thread([] {
    // A fresh thread: no scratch yet.
    CHECK_EQ(blasnet::ThreadScratchBytes(), 0u);
    blasnet::Scratch<float> s;
    float* a = s.Get(1000);
    CHECK_EQ(s.allocations(), 1u);
    CHECK_EQ(blasnet::ThreadScratchBytes(), 4000u);
    float* b = s.Get(10);  // smaller: the same buffer
    CHECK(a == b);
    CHECK_EQ(s.allocations(), 1u);
    s.Get(2000);
    CHECK_EQ(s.allocations(), 2u);
    CHECK_EQ(blasnet::ThreadScratchBytes(), 8000u);
    blasnet::Scratch<double> d;
    d.Get(10);
    CHECK_EQ(blasnet::ThreadScratchBytes(), 8080u);
  }).join();
}

TEST_CASE(scratch, a_request_above_the_cap_is_refused_before_allocating) {
  CHECK_EQ(blasnet::kScratchCapBytes, int64_t{1} << 30);
  CHECK_EQ(blasnet::kScratchKeepBytes, int64_t{64} << 20);
  std::thread([] {
    blasnet::Scratch<float> s;
    const size_t over = static_cast<size_t>(blasnet::kScratchCapBytes) / sizeof(float) + 1;
    CHECK_THROWS(s.Get(over), blasnet::Refusal, "above the cap of 1.0 GiB");
    CHECK_EQ(blasnet::ThreadScratchBytes(), 0u);
    CHECK_EQ(s.allocations(), 0u);
    // A count whose byte size overflows size_t.
    CHECK_THROWS(s.Get(~size_t{0} / 2), blasnet::Refusal, "above the cap");
    // Exactly the cap is allowed (not allocated here: 1 GiB; a byte-sized slot shows it).
    blasnet::Scratch<char> c;
    CHECK_THROWS(c.Get(static_cast<size_t>(blasnet::kScratchCapBytes) + 1), blasnet::Refusal,
                 "above the cap");
  }).join();
}

TEST_CASE(scratch, large_scratch_is_released_after_a_call) {
  std::thread([] {
    blasnet::Scratch<char> small, big;
    small.Get(1 << 20);
    blasnet::ReleaseLargeScratch();  // 1 MiB held: kept
    CHECK_EQ(blasnet::ThreadScratchBytes(), size_t{1} << 20);
    big.Get(static_cast<size_t>(blasnet::kScratchKeepBytes));
    blasnet::ReleaseLargeScratch();  // over the keep limit: everything freed
    CHECK_EQ(blasnet::ThreadScratchBytes(), 0u);
    // A slot used again after a release allocates afresh (and says so).
    const size_t before = small.allocations();
    small.Get(16);
    CHECK_EQ(small.allocations(), before + 1);
  }).join();
}

TEST_CASE(scratch, workers_release_what_a_huge_call_grew) {
  ref::Threads t(4);
  // Every chunk grows this thread's scratch past the keep limit...
  blasnet::ParallelFor(4, int64_t{1} << 30, [](int64_t, int64_t) {
    thread_local blasnet::Scratch<char> big;
    big.Get(static_cast<size_t>(blasnet::kScratchKeepBytes) + 4096);
  });
  // ...and a worker has freed it once its chunk ended.
  const auto caller = std::this_thread::get_id();
  std::atomic<int> kept{0};
  blasnet::ParallelFor(4, int64_t{1} << 30, [&](int64_t, int64_t) {
    if (std::this_thread::get_id() != caller &&
        blasnet::ThreadScratchBytes() > static_cast<size_t>(blasnet::kScratchKeepBytes)) {
      kept.fetch_add(1);
    }
  });
  CHECK_EQ(kept.load(), 0);
  blasnet::ReleaseLargeScratch();  // the caller's (the binding does this after every call)
}

TEST_CASE(scratch, a_kernel_refuses_a_call_whose_scratch_passes_the_cap) {
  // One 2048x2048 plane, 16x16 filters: each sample's columns need 256 x 2033^2 floats (4 GiB).
  const blasnet::ConvGeometry g = ref::Conv(1, 1, 2048, 2048, 1, 16, 16, 1, 0);
  ref::Vec x(g.N * g.C * g.H * g.W, 1.0f), W(256, 1.0f), b(1), out(g.OH * g.OW);
  blasnet::ConvForwardArgs a{};
  a.x = ref::Arg(x), a.W = ref::Arg(W), a.b = ref::Arg(b), a.out = ref::Arg(out), a.g = g;
  CHECK_THROWS(blasnet::Run(a), blasnet::Refusal, "per thread, above the cap of 1.0 GiB");
  CHECK(blasnet::ThreadScratchBytes() < (size_t{64} << 20));
}
