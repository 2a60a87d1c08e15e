// SPDX-License-Identifier: MIT
// native/threads.cc: the loop threads. ParallelFor covers its range once, in one chunk per
// thread of the caller; small work stays on the caller's thread; a chunk's exception comes
// back to the caller; thread counts are per caller; several callers at once; the reduction
// blocks are fixed by the data. Also run with BLASNET_TEST_MAX_WORKERS=1 (ctest's
// threads_limited): workers that cannot be created mean fewer chunks, not a failure; and with
// BLASNET_TEST_WORKER_LATE_US (threads_late_workers): the caller runs the chunks of workers
// that have not started them, and a late worker touches nothing of a call that has ended.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
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

// 0 without BLASNET_TEST_WORKER_LATE_US, else how long workers wait before claiming a chunk.
int WorkerLateUs() {
  const char* env = std::getenv("BLASNET_TEST_WORKER_LATE_US");
  return env != nullptr ? std::atoi(env) : 0;
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

TEST_CASE(threads, every_index_once_in_one_chunk_per_thread) {
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
      // Chunks are contiguous and non-empty, one per thread; each on one thread, the caller's
      // among them, though a late worker's chunk runs on the caller's.
      std::sort(chunks.ranges.begin(), chunks.ranges.end());
      int64_t next = 0;
      for (const auto& r : chunks.ranges) {
        CHECK_MSG(r.first == next && r.second > r.first,
                  at << ": chunk [" << r.first << ", " << r.second << ")");
        next = r.second;
      }
      const int64_t count = static_cast<int64_t>(chunks.ranges.size());
      const int64_t most = std::min<int64_t>(threads, n);
      CHECK(chunks.threads.count(std::this_thread::get_id()) == 1);
      CHECK(static_cast<int64_t>(chunks.threads.size()) <= count);
      // Late workers: the caller has run every chunk of these short loops (microseconds,
      // against 20 ms; a long one may see a worker arrive while the caller is still busy).
      if (WorkerLateUs() > 0 && n <= 1000) CHECK_EQ(chunks.threads.size(), 1u);
      if (limit < 0) {
        CHECK_MSG(count == most, at << ": " << count << " chunks, expected " << most);
      } else {
        CHECK_MSG(count >= 1 && count <= std::min<int64_t>(most, limit + 1),
                  at << ": " << count << " chunks with at most " << limit << " workers");
      }
    }
  }
}

TEST_CASE(threads, a_late_worker_touches_nothing_of_an_ended_call) {
  // Chunks that record into the call's own state: a worker that ran one after the call had
  // returned would write into a finished call (counted by `stale`), or run twice.
  static std::atomic<int> live{0}, stale{0};
  ref::Threads t(4);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::atomic<int>> hits(64);
    for (auto& h : hits) h.store(0);
    live.store(1);
    blasnet::ParallelFor(64, kBigWork, [&](int64_t b, int64_t e) {
      if (live.load() == 0) stale.fetch_add(1);
      for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
    });
    live.store(0);
    int wrong = 0;
    for (auto& h : hits) wrong += h.load() != 1;
    CHECK_MSG(wrong == 0, "round " << round << ": " << wrong << " indices not visited once");
  }
  // Give late workers the time to wake up and see the last call.
  std::this_thread::sleep_for(std::chrono::microseconds(2 * WorkerLateUs() + 1000));
  CHECK_EQ(stale.load(), 0);
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

namespace {

// Feeds the chooser `calls` calls whose duration depends on the setting it picks (serial_ns
// with one thread, parallel_ns with all) and returns the share of them run on all threads.
double ParallelShare(blasnet::AutoThreads* chooser, int most, int64_t calls, int64_t serial_ns,
                     int64_t parallel_ns) {
  int64_t parallel = 0;
  for (int64_t i = 0; i < calls; ++i) {
    const int threads = chooser->Threads(most);
    CHECK(threads == 1 || threads == most);
    if (threads == most) ++parallel;
    chooser->Record(threads == most ? parallel_ns : serial_ns, most);
  }
  return static_cast<double>(parallel) / static_cast<double>(calls);
}

}  // namespace

TEST_CASE(threads, auto_keeps_one_thread_when_it_is_faster_and_probes_all_now_and_then) {
  blasnet::AutoThreads chooser;
  CHECK_EQ(chooser.Threads(2), 2);  // it starts with all threads
  const double share = ParallelShare(&chooser, 2, 400000, 100000, 130000);
  CHECK_MSG(share > 0.0 && share < 0.08, "share of calls on two threads " << share);
  CHECK_EQ(chooser.Mean(false), 100000.0);
  CHECK_EQ(chooser.Mean(true), 130000.0);
  // Still probing: over a long run the other setting is measured again.
  const double later = ParallelShare(&chooser, 2, 200000, 100000, 130000);
  CHECK_MSG(later > 0.0 && later < 0.05, "share later " << later);
}

TEST_CASE(threads, auto_keeps_all_threads_when_they_are_faster_or_within_the_margin) {
  {
    blasnet::AutoThreads chooser;
    const double share = ParallelShare(&chooser, 4, 400000, 100000, 60000);
    CHECK_MSG(share > 0.92 && share < 1.0, "share of calls on four threads " << share);
  }
  {
    blasnet::AutoThreads chooser;  // one thread 2% faster: under kMargin, all threads stay
    const double share = ParallelShare(&chooser, 2, 400000, 100000, 102000);
    CHECK_MSG(share > 0.92 && share < 1.0, "share of calls on two threads " << share);
  }
}

TEST_CASE(threads, auto_follows_a_change_of_the_machine) {
  // Two threads win, then (the vCPUs moved apart) one thread wins, then two again.
  blasnet::AutoThreads chooser;
  ParallelShare(&chooser, 2, 300000, 100000, 70000);
  CHECK_EQ(chooser.Threads(2), 2);
  ParallelShare(&chooser, 2, 200000, 100000, 130000);  // the change, and time to notice it
  const double slow = ParallelShare(&chooser, 2, 200000, 100000, 130000);
  CHECK_MSG(slow < 0.05, "two threads slower: share on two " << slow);
  ParallelShare(&chooser, 2, 200000, 100000, 70000);
  const double fast = ParallelShare(&chooser, 2, 200000, 100000, 70000);
  CHECK_MSG(fast > 0.95, "two threads faster again: share on two " << fast);
}

TEST_CASE(threads, auto_is_not_misled_when_the_calls_change) {
  // Training and evaluation alternate (evaluation calls take three times as long); all threads
  // are faster in both, so a probe that straddles a change must not make one thread win.
  blasnet::AutoThreads chooser;
  int64_t parallel = 0, total = 0;
  for (int stage = 0; stage < 40; ++stage) {
    const bool eval = stage % 2 == 1;
    const int64_t calls = eval ? 3000 : 9000;
    for (int64_t i = 0; i < calls; ++i, ++total) {
      const bool par = chooser.Threads(2) == 2;
      parallel += par;
      chooser.Record(eval ? (par ? 240000 : 300000) : (par ? 80000 : 100000), 2);
    }
  }
  const double share = static_cast<double>(parallel) / static_cast<double>(total);
  CHECK_MSG(share > 0.9, "share of calls on two threads " << share);
}

TEST_CASE(threads, auto_does_not_keep_probing_a_far_slower_setting_on_a_noisy_machine) {
  // The machine's speed changes by 12% every 1,000 calls (a busy VM), so the windows before and
  // after a probe rarely agree within kStable. A probe far behind both of its neighbours says
  // enough: it is not made again at once. Over the first 40,000 calls (about 70 windows: a short
  // training run), with one thread 50% slower: two probes, the first at once and the next
  // kProbeWindows << 2 windows later (without the rule: one every third window, 6); with one
  // thread 80% slower the first probe is the only one (the next comes kProbeWindows << 3 later).
  for (const auto& [slow, most] : {std::pair<double, int>{1.5, 2}, {1.8, 1}}) {
    blasnet::AutoThreads chooser;
    int64_t serial = 0, total = 0, probes = 0;
    bool was_parallel = true;
    for (int stage = 0; stage < 40; ++stage) {
      const double f = stage % 2 == 0 ? 1.0 : 1.12;
      for (int64_t i = 0; i < 1000; ++i, ++total) {
        const bool par = chooser.Threads(2) == 2;
        serial += !par;
        probes += was_parallel && !par;
        was_parallel = par;
        chooser.Record(static_cast<int64_t>((par ? 100000 : 100000 * slow) * f), 2);
      }
    }
    CHECK_MSG(probes <= most, "one thread " << slow << "x slower: " << probes << " probes, "
                                            << serial << " of " << total << " calls");
    CHECK(chooser.Threads(2) == 2);
  }
}

TEST_CASE(threads, auto_with_one_thread_or_short_calls) {
  blasnet::AutoThreads one;
  CHECK_EQ(ParallelShare(&one, 1, 10000, 100000, 1), 1.0);  // Threads(1) is 1 = "all"
  CHECK_EQ(one.Mean(false), 0.0);
  // Windows need kWindowNs of calls: 1 us calls make a window every 50,000 calls, not 500.
  blasnet::AutoThreads chooser;
  ParallelShare(&chooser, 2, 40000, 1000, 1000);
  CHECK_EQ(chooser.Mean(true), 0.0);
  ParallelShare(&chooser, 2, 20000, 1000, 1000);
  CHECK_EQ(chooser.Mean(true), 1000.0);
}

TEST_CASE(threads, auto_mode_of_a_caller) {
  // The binding's scope times each of the caller's calls for its chooser; a scope nested in a
  // call of the same caller is part of that call.
  blasnet::EnvThreads env{2, true};
  std::thread caller([&env] {
    const int calls = blasnet::AutoThreads::kSettleCalls + blasnet::AutoThreads::kWindowCalls;
    for (int i = 0; i < calls; ++i) {
      blasnet::CallScope call(&env);
      CHECK_EQ(blasnet::CallThreads(), 2);
      blasnet::CallScope nested(&env);
      std::this_thread::sleep_for(std::chrono::microseconds(110));
    }
  });
  caller.join();
  CHECK_MSG(env.chooser.Mean(true) >= 110000.0 && env.chooser.Mean(true) < 5e6,
            "mean call " << env.chooser.Mean(true) << " ns");
  CHECK_EQ(env.chooser.Threads(2), 1);  // next: the first window with one thread
  blasnet::CallScope scope(&env);
  CHECK_EQ(blasnet::CallThreads(), 1);
  blasnet::SetCallThreads(3);
  CHECK(!env.automatic);
  CHECK_EQ(blasnet::CallThreads(), 3);
  blasnet::SetCallThreads(0);
  CHECK(env.automatic);
  CHECK_EQ(env.threads, blasnet::DefaultThreads());
  CHECK_EQ(env.chooser.Mean(true), 0.0);  // a new setting starts over
  const blasnet::ThreadInfo info = blasnet::Run(blasnet::ThreadInfoArgs{});
  CHECK(info.mode == "auto");
  CHECK_EQ(info.most, env.threads);
  CHECK_EQ(info.inUse, blasnet::CallThreads());
}
