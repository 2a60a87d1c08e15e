// SPDX-License-Identifier: MIT
// A tiny persistent worker pool: loop kernels (im2col, col2im, pooling) split
// the batch between the caller's thread and the workers. Spawning threads per
// call would cost tens of microseconds; waking a parked worker costs a few.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "common.h"

namespace blasnet {
namespace {

// True on a thread while it runs a chunk of a parallel loop: a kernel called from inside
// one (the conv loop's element-wise calls) then runs inline instead of re-entering the pool.
thread_local bool in_parallel_region = false;

struct RegionGuard {
  RegionGuard() { in_parallel_region = true; }
  ~RegionGuard() { in_parallel_region = false; }
};

// Work below this many inner operations runs on the caller's thread alone: waking a
// parked worker costs several microseconds, more than small element-wise loops take.
constexpr int64_t kMinParallelWork = 1 << 20;

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

  int threads() const { return threads_.load(); }

  void set_threads(int n) {
    n = std::max(1, std::min(n, 64));
    threads_.store(n);
  }

  void Run(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
    // Only one parallel region at a time; a concurrent caller (another
    // worker_thread's environment) runs inline instead of waiting.
    std::unique_lock<std::mutex> busy(run_mu_, std::try_to_lock);
    int parts = static_cast<int>(std::min<int64_t>(threads_.load(), n));
    if (!busy.owns_lock() || parts <= 1) {
      fn(0, n);
      return;
    }
    EnsureWorkers(parts - 1);
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = &fn;
      n_ = n;
      parts_ = parts;
      pending_.store(parts - 1);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    {
      RegionGuard region;
      fn(0, ChunkEnd(0));
    }
    // The other chunks usually finish within microseconds of ours: spin a little before
    // sleeping, since a futex wake-up on a virtual machine can take tens of microseconds.
    for (int i = 0; i < kSpin && pending_.load(std::memory_order_acquire) > 0; ++i) CpuRelax();
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return pending_.load() == 0; });
    fn_ = nullptr;
  }

 private:
  // About 50 microseconds of spinning (a pause is some tens of cycles).
  static constexpr int kSpin = 4000;

  static void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    std::this_thread::yield();
#endif
  }

  int64_t ChunkEnd(int part) const { return n_ * (part + 1) / parts_; }

  void EnsureWorkers(int count) {
    while (static_cast<int>(workers_.size()) < count) {
      int index = static_cast<int>(workers_.size()) + 1;
      workers_.emplace_back([this, index] { Loop(index); });
    }
  }

  void Loop(int part) {
    uint64_t seen = 0;
    for (;;) {
      // Training runs parallel regions back to back: wait for the next one spinning for a
      // moment, then sleep on the condition variable.
      for (int i = 0; i < kSpin && generation_.load(std::memory_order_acquire) == seen &&
                      !stop_.load(std::memory_order_relaxed);
           ++i) {
        CpuRelax();
      }
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stop_.load() || generation_.load() != seen; });
      if (stop_.load()) return;
      seen = generation_.load();
      if (part >= parts_) continue;
      const auto* fn = fn_;
      int64_t begin = n_ * part / parts_, end = ChunkEnd(part);
      lk.unlock();
      {
        RegionGuard region;
        (*fn)(begin, end);
      }
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> done(mu_);
        done_cv_.notify_one();
      }
    }
  }

  std::atomic<int> threads_{static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))};
  std::mutex run_mu_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> workers_;
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int parts_ = 1;
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
};

Pool& ThePool() {
  // Leaked on purpose: joining threads from a static destructor at process
  // exit can deadlock when the exit happens on a worker-less path.
  static Pool* pool = new Pool();
  return *pool;
}

}  // namespace

int LoopThreads() { return ThePool().threads(); }
void SetLoopThreads(int n) { ThePool().set_threads(n); }

void ParallelFor(int64_t n, int64_t work, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (n == 1 || work < kMinParallelWork || LoopThreads() <= 1 || in_parallel_region) {
    fn(0, n);
    return;
  }
  ThePool().Run(n, fn);
}

}  // namespace blasnet
