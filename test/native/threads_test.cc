// SPDX-License-Identifier: MIT
// native/threads.cc: the loop threads. ParallelFor covers its range once, in at most one chunk
// per thread of the caller; small work stays on the caller's thread; a chunk's exception comes
// back to the caller; thread counts are per caller; several callers at once; the reduction
// blocks are fixed by the data. Also run with BLASNET_TEST_MAX_WORKERS=1 (ctest's
// threads_limited): workers that cannot be created mean fewer chunks, not a failure.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "reference.h"
#include "threads.h"

namespace {

// Work large enough for ParallelFor to split (it runs anything under 2^20 on the caller).
constexpr int64_t kBigWork = int64_t{1} << 30;

// -1 without BLASNET_TEST_MAX_WORKERS, else the most workers the pool may create.
int WorkerLimit() {
  const char* env = std::getenv("BLASNET_TEST_MAX_WORKERS");
  return env != nullptr ? std::atoi(env) : -1;
}

struct Chunks {
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::set<std::thread::id> threads;
};

void Record(Chunks* c, int64_t b, int64_t e) {
  std::lock_guard<std::mutex> lk(c->mu);
  c->ranges.emplace_back(b, e);
  c->threads.insert(std::this_thread::get_id());
}

}  // namespace

TEST_CASE(threads, every_index_once_in_at_most_one_chunk_per_thread) {
  const int limit = WorkerLimit();
  for (int64_t n : {1, 2, 3, 7, 64, 1000, 100003}) {
    for (int threads = 1; threads <= 8; ++threads) {
      ref::Threads t(threads);
      std::vector<std::atomic<int>> hits(n);
      for (auto& h : hits) h.store(0);
      Chunks chunks;
      blasnet::ParallelFor(n, kBigWork, [&](int64_t b, int64_t e) {
        Record(&chunks, b, e);
        for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
      });
      const std::string at = "n " + std::to_string(n) + ", " + std::to_string(threads) + " threads";
      int64_t wrong = 0;
      for (auto& h : hits) wrong += h.load() != 1;
      CHECK_MSG(wrong == 0, at << ": " << wrong << " indices not visited exactly once");
      // Chunks are contiguous and non-empty, one per thread at most.
      std::sort(chunks.ranges.begin(), chunks.ranges.end());
      int64_t next = 0;
      for (const auto& r : chunks.ranges) {
        CHECK_MSG(r.first == next && r.second > r.first,
                  at << ": chunk [" << r.first << ", " << r.second << ")");
        next = r.second;
      }
      const int64_t count = static_cast<int64_t>(chunks.ranges.size());
      const int64_t most = std::min<int64_t>(threads, n);
      CHECK_EQ(static_cast<int64_t>(chunks.threads.size()), count);
      if (limit < 0) {
        CHECK_MSG(count == most, at << ": " << count << " chunks, expected " << most);
      } else {
        CHECK_MSG(count >= 1 && count <= std::min<int64_t>(most, limit + 1),
                  at << ": " << count << " chunks with at most " << limit << " workers");
      }
    }
  }
}

TEST_CASE(threads, small_work_stays_on_the_caller) {
  ref::Threads t(8);
  Chunks chunks;
  blasnet::ParallelFor(1000, 1000, [&](int64_t b, int64_t e) { Record(&chunks, b, e); });
  CHECK_EQ(chunks.ranges.size(), 1u);
  CHECK(chunks.threads.count(std::this_thread::get_id()) == 1);
}

TEST_CASE(threads, inside_a_chunk_kernels_run_inline) {
  ref::Threads t(4);
  std::atomic<int> bad{0}, outer_chunks{0}, inner_chunks{0};
  blasnet::ParallelFor(4, kBigWork, [&](int64_t, int64_t) {
    outer_chunks.fetch_add(1);
    if (blasnet::CallThreads() != 1) bad.fetch_add(1);
    const auto self = std::this_thread::get_id();
    blasnet::ParallelFor(100, kBigWork, [&](int64_t b, int64_t e) {
      inner_chunks.fetch_add(1);
      if (std::this_thread::get_id() != self || b != 0 || e != 100) bad.fetch_add(1);
    });
  });
  // (Without a single worker the loop runs as one plain call, and nothing is nested.)
  if (WorkerLimit() != 0) {
    CHECK_EQ(bad.load(), 0);
    CHECK_EQ(inner_chunks.load(), outer_chunks.load());
  }
  CHECK_EQ(blasnet::CallThreads(), 4);
}

TEST_CASE(threads, a_chunk_exception_reaches_the_caller) {
  ref::Threads t(4);
  for (int round = 0; round < 3; ++round) {
    std::string message;
    try {
      blasnet::ParallelFor(8, kBigWork, [&](int64_t b, int64_t) {
        // Every chunk but the first throws: the lowest one's exception is rethrown, whatever
        // order they finish in.
        if (b > 0) throw std::runtime_error("chunk at " + std::to_string(b));
      });
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
    // Chunk p of `parts` starts at 8 p / parts; the second one's message comes back. (With no
    // worker at all the loop is one chunk, and nothing throws.)
    const int limit = WorkerLimit();
    if (limit == 0) continue;
    const int parts = limit < 0 ? 4 : std::min(4, limit + 1);
    const std::string want = "chunk at " + std::to_string(8 / parts);
    CHECK_MSG(message == want, "got '" << message << "', expected '" << want << "'");
  }
  // The pool still works.
  std::atomic<int64_t> sum{0};
  blasnet::ParallelFor(1000, kBigWork, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) sum.fetch_add(i);
  });
  CHECK_EQ(sum.load(), 999 * 1000 / 2);
}

TEST_CASE(threads, counts_are_per_caller) {
  CHECK_EQ(blasnet::CallThreads(), 1);  // outside any call
  blasnet::EnvThreads main_env{3};
  blasnet::CallScope scope(&main_env);
  CHECK_EQ(blasnet::CallThreads(), 3);
  std::thread other([] {
    blasnet::EnvThreads env{5};
    blasnet::CallScope s(&env);
    blasnet::SetCallThreads(6);
    CHECK_EQ(blasnet::CallThreads(), 6);
  });
  other.join();
  CHECK_EQ(blasnet::CallThreads(), 3);
  // The bindings of setNumThreads / getNumThreads.
  blasnet::Run(blasnet::SetNumThreadsArgs{7});
  CHECK_EQ(blasnet::Run(blasnet::GetNumThreadsArgs{}), 7);
  CHECK_EQ(main_env.threads, 7);
}

TEST_CASE(threads, several_callers_at_once) {
  // Callers on their own threads share the pool: one gets it, the others run their loops
  // themselves; every loop still covers its range.
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([c, &wrong] {
      ref::Threads t(2 + c);
      for (int round = 0; round < 50; ++round) {
        const int64_t n = 1000 + round + c;
        std::vector<int> hits(n, 0);
        blasnet::ParallelFor(n, kBigWork, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) ++hits[i];
        });
        for (int h : hits) wrong.fetch_add(h != 1);
      }
    });
  }
  for (auto& t : callers) t.join();
  CHECK_EQ(wrong.load(), 0);
}

TEST_CASE(threads, the_default_count_and_the_limit) {
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  const int want = std::max(1, std::min<int>(cores, static_cast<int>(blasnet::kMaxThreads)));
  CHECK_EQ(blasnet::DefaultThreads(), want);
  // The limit of lib/core/contract.ts (MAX_THREADS), written into the generated header.
  CHECK_EQ(blasnet::kMaxThreads, 64);
}

TEST_CASE(threads, reduction_blocks_are_fixed_by_the_data) {
  for (int64_t n : {1, 2, 5, 23, 24, 25, 100, 1001}) {
    const int64_t blocks = blasnet::ReductionBlocks(n);
    CHECK_EQ(blocks, std::min<int64_t>(n, 24));
    int64_t next = 0;
    for (int64_t b = 0; b < blocks; ++b) {
      int64_t begin, end;
      blasnet::BlockRange(n, blocks, b, &begin, &end);
      CHECK_MSG(begin == next && end > begin, "n " << n << " block " << b);
      next = end;
    }
    CHECK_EQ(next, n);
    for (int threads = 1; threads <= 8; ++threads) {
      ref::Threads t(threads);
      CHECK_EQ(blasnet::ReductionBlocks(n), blocks);
    }
  }
}
