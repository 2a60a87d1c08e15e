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

// Automatic thread count: whether a caller's parallel kernels run on one thread or on all it
// may use, chosen from how long its calls take each way. On a virtual machine the same two
// vCPUs can be neighbours one minute and far apart the next: then every parallel region of a
// training step waits for weights and activations to cross between the cores, and a step on two
// threads can take longer than on one (measured: AMD EPYC Zen 5 VM, W2 one thread 450 us, two
// 500 us; in other minutes two threads 295 us). Training repeats the same calls step after step,
// so the mean duration of a window of calls (at least kWindowCalls calls and kWindowNs of call
// time, after kSettleCalls unmeasured ones while caches move) measures a setting. The chooser
// keeps one setting (all threads at first) and now and then probes the other: a window of the
// kept setting, one of the other, one of the kept again. When the two kept windows agree within
// kStable (the calls did not change, e.g. from training to evaluation), the other setting is
// kept from then on if it was more than kMargin faster; otherwise the next probe comes after
// twice as many windows (four times when the other was more than kFarBehind slower, eight when
// more than twice that; kProbeWindows at first, up to 2^kMaxBackoff times that). When they disagree
// the probe is repeated soon, unless the other setting was more than kFarBehind slower than both
// (then it backs off as above: on a busy VM the kept windows often differ by 10% while one thread
// is 50% slower). Results do not depend on the choice (see above).
class AutoThreads {
 public:
  static constexpr int kSettleCalls = 100;
  static constexpr int kWindowCalls = 500;
  static constexpr int64_t kWindowNs = 50'000'000;
  static constexpr int kProbeWindows = 8;
  static constexpr int kMaxBackoff = 4;
  static constexpr double kMargin = 0.03;
  static constexpr double kStable = 0.05;
  static constexpr double kFarBehind = 0.25;

  // The thread count for the next call, of at most `most`.
  int Threads(int most) const { return most > 1 && parallel_ ? most : 1; }
  // Records the duration of a call made with Threads(most) threads.
  void Record(int64_t ns, int most);
  // The last mean call duration measured with one thread (parallel = false) or all; 0 before.
  double Mean(bool parallel) const { return mean_[parallel ? 1 : 0]; }

 private:
  enum class Phase { kKeep, kProbe, kConfirm };
  void Switch(Phase next);
  static int BackoffStep(double probe, double kept);

  bool parallel_ = true;  // the setting in use
  Phase phase_ = Phase::kKeep;
  int calls_ = 0;
  int measured_ = 0;
  int64_t sum_ = 0;
  int since_probe_ = 0;
  int backoff_ = 0;
  double kept_before_ = 0.0;  // the kept setting's window before the probe
  double probe_ = 0.0;        // the probe's window
  double mean_[2] = {0.0, 0.0};
};

// A Node environment's thread setting (setNumThreads); one per environment.
struct EnvThreads {
  // The thread count when fixed; in automatic mode the most the chooser may use.
  int threads;
  // setNumThreads(0), the default: the chooser picks 1 or `threads` per call.
  bool automatic = false;
  AutoThreads chooser{};
};

// The default count: the machine's cores, at most kMaxThreads.
int DefaultThreads();

// Makes `env` the caller whose thread count the kernels use on this OS thread, for the
// lifetime of the scope (the binding wraps every call in one).
// In automatic mode the scope times the call for the chooser.
class CallScope {
 public:
  explicit CallScope(EnvThreads* env);
  ~CallScope();
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

 private:
  EnvThreads* prev_;
  int64_t start_ns_ = -1;  // set when this call is timed
};

// The current call's thread count (1 outside a call, and inside a parallel chunk).
int CallThreads();
// Sets the current caller's thread count (setNumThreads): n >= 1 fixed, 0 automatic with up to
// DefaultThreads().
void SetCallThreads(int n);

// Runs fn(begin, end) over [0, n) in contiguous chunks, one per thread of the call, when `work`
// (a rough count of inner operations) makes splitting worth it; the caller's thread takes the
// first chunk, worker k the k-th. A chunk its worker has not started when the caller is done
// with its own (the worker's core busy elsewhere, or still waking up) is run by the caller,
// so a chunk runs on one thread but not always its own. An exception thrown by any chunk is
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
