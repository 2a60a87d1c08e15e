// SPDX-License-Identifier: MIT
// A tiny persistent worker pool: loop kernels split their range between the caller's thread
// and the workers. Spawning threads per call would cost tens of microseconds; waking a parked
// worker costs a few. The pool is shared by every Node environment of the process; how many
// of its threads a call uses is the calling environment's own setting.
#include "threads.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "gemm.h"
#include "generated/contract.h"
#include "isa.h"
#include "scratch.h"

namespace blasnet {
namespace {

// Reductions cut their items into at most this many blocks, whatever the thread count: 24
// splits evenly over 1, 2, 3, 4, 6, 8 and 12 threads.
constexpr int64_t kReductionBlocks = 24;

// Work below this many inner operations runs on the caller's thread alone: waking a
// parked worker costs several microseconds, more than small element-wise loops take.
constexpr int64_t kMinParallelWork = 1 << 20;

// The environment whose call runs on this OS thread (set by the binding for each call).
thread_local EnvThreads* current_env = nullptr;

// True on a thread while it runs a chunk of a parallel loop: a kernel called from inside
// one then runs inline instead of re-entering the pool.
thread_local bool in_parallel_region = false;

struct RegionGuard {
  RegionGuard() { in_parallel_region = true; }
  ~RegionGuard() { in_parallel_region = false; }
};

// BLASNET_TEST_MAX_WORKERS=k makes creating a worker beyond the k-th fail as the system would
// under a process limit (std::system_error, EAGAIN): for the test that such a failure only
// means fewer threads.
int TestWorkerLimit() {
  const char* env = std::getenv("BLASNET_TEST_MAX_WORKERS");
  return env != nullptr ? std::atoi(env) : -1;
}

// BLASNET_TEST_WORKER_LATE_US=t makes every worker wait t microseconds after it sees a call
// before it claims its chunk, as a worker whose core is busy elsewhere would: for the test that
// the caller then runs those chunks itself, and that a late worker touches nothing of a call
// that has ended.
int TestWorkerLateUs() {
  const char* env = std::getenv("BLASNET_TEST_WORKER_LATE_US");
  return env != nullptr ? std::atoi(env) : 0;
}

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  // Runs fn over [0, n) in up to `parts` chunks with the workers; returns false, having run
  // nothing, when another caller's call holds the pool or no worker could be created.
  //
  // The hand-off takes no lock while both sides are awake: the caller publishes the call's
  // generation and chunk count in one atomic word (a worker reads both at once, so a worker
  // that sits a call out never mixes two calls' counts), the workers count `pending_` down,
  // and the caller spins on it. The mutex and condition variables are only for a side that
  // has gone to sleep: a worker parked on cv_ (counted in sleepers_) and a caller parked on
  // done_cv_ (main_waiting_).
  //
  // Chunk k is worker k's, but it must claim it first (claims_[k] set to the call's
  // generation); once the caller has finished its own chunk it claims and runs every chunk
  // no worker has started. A worker that is not running (its core busy with another process,
  // or still waking up) then costs nothing: the call runs at one thread's speed instead of
  // waiting for it. Measured on AMD EPYC (Zen 4 VM, 2 vCPUs) with a busy loop on the second
  // core, W2 training at two threads, without and with the claims and Pause's yielding side by
  // side: 18,295 and 74,229 samples/s (one thread: 72,000-79,000). Which thread runs a chunk
  // never changes the result (see threads.h).
  bool Run(int64_t n, int parts, const std::function<void(int64_t, int64_t)>& fn) {
    std::unique_lock<std::mutex> busy(run_mu_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    parts = std::min(parts, EnsureWorkers(parts - 1) + 1);
    if (parts <= 1) return false;
    fn_ = &fn;
    n_ = n;
    parts_ = parts;
    error_ = nullptr;
    error_part_ = parts;
    pending_.store(parts - 1, std::memory_order_relaxed);
    bool wake;
    {
      // Under mu_, so that a worker about to sleep either sees the new ticket or is counted.
      std::lock_guard<std::mutex> lk(mu_);
      generation_ += 1;
      ticket_.store((generation_ << kPartsBits) | static_cast<uint64_t>(parts),
                    std::memory_order_release);
      wake = sleepers_ > 0;
    }
    if (wake) cv_.notify_all();
    RunChunk(0);
    for (int part = 1; part < parts; ++part) {
      if (Claim(part, generation_)) {
        RunChunk(part);
        pending_.fetch_sub(1, std::memory_order_seq_cst);
      }
    }
    // The other chunks usually finish within microseconds of ours: spin a little before
    // sleeping, since a futex wake-up on a virtual machine can take tens of microseconds.
    for (int i = 0; i < kSpin && pending_.load(std::memory_order_acquire) > 0; ++i) Pause(i);
    if (pending_.load(std::memory_order_seq_cst) > 0) {
      std::unique_lock<std::mutex> lk(mu_);
      main_waiting_.store(true, std::memory_order_seq_cst);
      done_cv_.wait(lk, [&] { return pending_.load(std::memory_order_seq_cst) == 0; });
      main_waiting_.store(false, std::memory_order_relaxed);
    }
    fn_ = nullptr;
    std::exception_ptr error = error_;
    error_ = nullptr;
    if (error) std::rethrow_exception(error);
    return true;
  }

 private:
  // About 50 microseconds of spinning (a pause is some tens of cycles).
  static constexpr int kSpin = 4000;

  // One step of a spin-wait: a pause, and every kYieldEvery steps the core to any other thread
  // that is waiting for it (sched_yield: at once back when there is none). A thread that spins
  // on a core it shares with the caller, or with another process, would take the time they
  // need; with a busy loop pinned to the second vCPU (AMD EPYC Zen 4 VM), W2 training at two
  // threads ran at 34,098 samples/s spinning plainly and at 71,764 yielding every 64 pauses,
  // against about 84,000 at one thread; without the busy loop W1-W5 were unchanged (0.97-1.04x).
  static constexpr int kYieldEvery = 64;
  static void Pause(int i) {
    CpuRelax();
    if (i % kYieldEvery == kYieldEvery - 1) std::this_thread::yield();
  }

  // Takes chunk `part` of call `generation` for the thread that asks first.
  bool Claim(int part, uint64_t generation) {
    uint64_t seen = claims_[part].load(std::memory_order_relaxed);
    return seen < generation &&
           claims_[part].compare_exchange_strong(seen, generation, std::memory_order_acq_rel);
  }

  // Runs chunk `part`; an exception is kept (the lowest part's, so the message does not
  // depend on timing) for the caller to rethrow.
  void RunChunk(int part) {
    const int64_t begin = n_ * part / parts_, end = n_ * (part + 1) / parts_;
    try {
      RegionGuard region;
      (*fn_)(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lk(error_mu_);
      if (part < error_part_) {
        error_ = std::current_exception();
        error_part_ = part;
      }
    }
  }

  // Makes up to `count` workers exist and returns how many do. A thread that cannot be
  // created (std::system_error under a process limit) is not retried for a second.
  int EnsureWorkers(int count) {
    using Clock = std::chrono::steady_clock;
    if (static_cast<int>(workers_.size()) >= count) return count;
    if (failed_at_ != Clock::time_point() && Clock::now() - failed_at_ < std::chrono::seconds(1)) {
      return static_cast<int>(workers_.size());
    }
    static const int test_limit = TestWorkerLimit();
    while (static_cast<int>(workers_.size()) < count) {
      const int index = static_cast<int>(workers_.size()) + 1;
      try {
        if (test_limit >= 0 && static_cast<int>(workers_.size()) >= test_limit) {
          throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again),
                                  "BLASNET_TEST_MAX_WORKERS");
        }
        // The worker starts from the last published call: the next one is its first.
        workers_.emplace_back([this, index, last = generation_] { Loop(index, last); });
      } catch (...) {
        failed_at_ = Clock::now();
        break;
      }
    }
    // A new worker first warms OpenBLAS up on its thread (WarmUpBlas). Wait for that: a call
    // no longer waits for a worker that has not started its chunk, and a process that ended
    // while a worker was still inside OpenBLAS crashed as OpenBLAS freed its buffers at exit
    // (6-8 in 20 runs of the scratch suite under qemu-aarch64, where the warm-up is slow).
    for (int i = 0; warmed_.load(std::memory_order_acquire) < static_cast<int>(workers_.size());
         ++i) {
      Pause(i);
    }
    return static_cast<int>(workers_.size());
  }

  void Loop(int part, uint64_t seen) {
    static const int late_us = TestWorkerLateUs();
    WarmUpBlas();
    warmed_.fetch_add(1, std::memory_order_release);
    for (;;) {
      // Training runs parallel regions back to back: wait for the next one spinning for a
      // moment, then sleep on the condition variable.
      uint64_t ticket = ticket_.load(std::memory_order_acquire);
      for (int i = 0;
           i < kSpin && (ticket >> kPartsBits) == seen && !stop_.load(std::memory_order_relaxed);
           ++i) {
        Pause(i);
        ticket = ticket_.load(std::memory_order_acquire);
      }
      if ((ticket >> kPartsBits) == seen) {
        std::unique_lock<std::mutex> lk(mu_);
        ++sleepers_;
        cv_.wait(lk, [&] {
          return stop_.load() || (ticket_.load(std::memory_order_acquire) >> kPartsBits) != seen;
        });
        --sleepers_;
        ticket = ticket_.load(std::memory_order_acquire);
      }
      if (stop_.load()) return;
      seen = ticket >> kPartsBits;
      if (late_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(late_us));
      // A worker outside this call's chunk count sits it out, and one whose chunk the caller
      // has taken; it touches nothing else of the call.
      if (part >= static_cast<int>(ticket & kPartsMask) || !Claim(part, seen)) continue;
      RunChunk(part);
      // A huge call's scratch is not kept by the worker for the rest of the process.
      ReleaseLargeScratch();
      if (pending_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
          main_waiting_.load(std::memory_order_seq_cst)) {
        std::lock_guard<std::mutex> done(mu_);
        done_cv_.notify_one();
      }
    }
  }

  std::mutex run_mu_;
  std::mutex mu_;
  std::mutex error_mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> workers_;
  std::chrono::steady_clock::time_point failed_at_{};
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int parts_ = 1;
  std::exception_ptr error_;
  int error_part_ = 0;
  std::atomic<int> pending_{0};
  // The current call's generation (high bits) and chunk count (low kPartsBits bits).
  static constexpr int kPartsBits = 8;
  static constexpr uint64_t kPartsMask = (uint64_t{1} << kPartsBits) - 1;
  static_assert(kMaxThreads <= static_cast<int>(kPartsMask), "chunk count must fit the ticket");
  std::atomic<uint64_t> ticket_{0};
  uint64_t generation_ = 0;  // the caller's count of calls (run_mu_ held)
  // Per chunk, the generation of the last call whose chunk was claimed (see Claim).
  std::atomic<uint64_t> claims_[kMaxThreads + 1] = {};
  int sleepers_ = 0;            // workers parked on cv_ (mu_ held)
  std::atomic<int> warmed_{0};  // workers that have finished WarmUpBlas
  std::atomic<bool> main_waiting_{false};
  std::atomic<bool> stop_{false};
};

Pool& ThePool() {
  // Leaked on purpose: joining threads from a static destructor at process
  // exit can deadlock when the exit happens on a worker-less path.
  static Pool* pool = new Pool();
  return *pool;
}

}  // namespace

int DefaultThreads() {
  const unsigned cores = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp<int64_t>(cores, 1, kMaxThreads));
}

namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void AutoThreads::Switch(Phase next) {
  parallel_ = !parallel_;
  phase_ = next;
  calls_ = 0;  // the calls right after a switch are not measured
}

// How much further the next probe moves after a probe that lost to the kept setting: one step
// (twice the windows), two when it was more than kFarBehind slower, three when more than twice
// that: a probe costs a window at the slower setting, worth making less often the more it lost.
int AutoThreads::BackoffStep(double probe, double kept) {
  if (probe > (1 + 2 * kFarBehind) * kept) return 3;
  return probe > (1 + kFarBehind) * kept ? 2 : 1;
}

void AutoThreads::Record(int64_t ns, int most) {
  if (most <= 1) return;
  if (++calls_ <= kSettleCalls) return;
  sum_ += ns;
  if (++measured_ < kWindowCalls || sum_ < kWindowNs) return;
  const double mean = static_cast<double>(sum_) / measured_;
  calls_ = measured_ = 0;
  sum_ = 0;
  mean_[parallel_ ? 1 : 0] = mean;
  switch (phase_) {
    case Phase::kKeep:
      kept_before_ = mean;
      // The first window is followed by a probe at once.
      if (mean_[parallel_ ? 0 : 1] == 0.0 || ++since_probe_ >= (kProbeWindows << backoff_)) {
        since_probe_ = 0;
        Switch(Phase::kProbe);
      }
      return;
    case Phase::kProbe:
      probe_ = mean;
      Switch(Phase::kConfirm);
      return;
    case Phase::kConfirm: {
      phase_ = Phase::kKeep;
      const double kept = (kept_before_ + mean) / 2;
      if (std::abs(kept_before_ - mean) > kStable * std::min(kept_before_, mean)) {
        // The calls changed (or the machine's speed did). A probe more than kFarBehind slower
        // than both windows around it still says enough; any other is made again next.
        if (probe_ > (1 + kFarBehind) * std::max(kept_before_, mean)) {
          backoff_ =
              std::min(backoff_ + BackoffStep(probe_, std::max(kept_before_, mean)), kMaxBackoff);
        } else {
          since_probe_ = (kProbeWindows << backoff_) - 1;
        }
        kept_before_ = mean;
        return;
      }
      kept_before_ = mean;
      // One thread is taken when more than kMargin faster, all threads unless more than kMargin
      // slower.
      const bool probed_parallel = !parallel_;
      const bool take =
          probed_parallel ? probe_ < kept * (1 + kMargin) : probe_ * (1 + kMargin) < kept;
      if (take) {
        parallel_ = probed_parallel;
        calls_ = 0;
        backoff_ = 0;
        kept_before_ = probe_;
      } else {
        backoff_ = std::min(backoff_ + BackoffStep(probe_, kept), kMaxBackoff);
      }
      return;
    }
  }
}

CallScope::CallScope(EnvThreads* env) : prev_(current_env) {
  current_env = env;
  // Only a caller's own outermost call is timed (kernels called inside one are part of it).
  if (env != nullptr && env->automatic && prev_ != env && !in_parallel_region) start_ns_ = NowNs();
}

CallScope::~CallScope() {
  if (start_ns_ >= 0) current_env->chooser.Record(NowNs() - start_ns_, current_env->threads);
  current_env = prev_;
}

int CallThreads() {
  if (in_parallel_region || current_env == nullptr) return 1;
  const EnvThreads& env = *current_env;
  return env.automatic ? env.chooser.Threads(env.threads) : env.threads;
}

void SetCallThreads(int n) {
  if (current_env == nullptr) return;
  current_env->automatic = n == 0;
  current_env->threads = n == 0 ? DefaultThreads() : n;
  current_env->chooser = AutoThreads();
}

int64_t ReductionBlocks(int64_t n) { return std::min(n, kReductionBlocks); }

void ParallelFor(int64_t n, int64_t work, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int threads = CallThreads();
  if (n == 1 || work < kMinParallelWork || threads <= 1) {
    fn(0, n);
    return;
  }
  const int parts = static_cast<int>(std::min<int64_t>(threads, n));
  if (!ThePool().Run(n, parts, fn)) fn(0, n);
}

// ---- Bindings: setNumThreads, getNumThreads (lib/core/contract.ts) ----

void Run(const SetNumThreadsArgs& a) { SetCallThreads(static_cast<int>(a.n)); }

int64_t Run(const GetNumThreadsArgs&) { return current_env != nullptr ? current_env->threads : 1; }

ThreadInfo Run(const ThreadInfoArgs&) {
  if (current_env == nullptr) return ThreadInfo{"fixed", 1, 1};
  return ThreadInfo{current_env->automatic ? "auto" : "fixed", current_env->threads, CallThreads()};
}

}  // namespace blasnet
