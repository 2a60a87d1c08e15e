// SPDX-License-Identifier: MIT
#include "optim.h"

#include <cfloat>
#include <cmath>

#include "generated/contract.h"
#include "isa.h"
#include "threads.h"

namespace blasnet {
namespace {

// Each optimizer's update of element i, written as the course writes it, in float arithmetic
// (the hyper-parameters are rounded to float once, per call): the loops below run it over
// [0, n) with unaliased pointers, so that the compiler vectorises it. Float arithmetic is
// 2-3.6x faster than double here, and its error after the optimizer tests' six steps is about
// 1/40 of their tolerance (double arithmetic gave about the same).
// A decaying state (a velocity, a moving mean of g or g²) of a parameter whose gradient stays 0
// (a dead ReLU unit, a masked input) shrinks geometrically into the subnormal range and, under
// round-to-nearest, never leaves it: 0.9 times the smallest subnormal rounds back to itself. On
// Intel cores every vector instruction that reads or writes a subnormal takes a microcode assist
// (about 100x its cost), which slowed a SimpleConvNet trained with Adam to half speed after some
// 600 steps. Such states are stored as 0 instead: they are below FLT_MIN (1.2e-38), and the
// update they would have made (lr·m/(sqrt(v)+eps), at most about 1e-34 here) leaves any normal
// parameter unchanged in float.
BLASNET_INLINE float FlushSubnormal(float x) { return std::fabs(x) < FLT_MIN ? 0.0f : x; }

struct Sgd {
  float lr;
  BLASNET_INLINE void operator()(float* __restrict p, const float* __restrict g, float*, float*,
                                 int64_t i) const {
    p[i] -= lr * g[i];
  }
};

struct Momentum {
  float lr, momentum;
  BLASNET_INLINE void operator()(float* __restrict p, const float* __restrict g,
                                 float* __restrict v, float*, int64_t i) const {
    const float vi = FlushSubnormal(momentum * v[i] - lr * g[i]);
    v[i] = vi;
    p[i] += vi;
  }
};

struct Nesterov {
  float lr, momentum, momentum2, lr_ahead;  // momentum², (1 + momentum)·lr
  BLASNET_INLINE void operator()(float* __restrict p, const float* __restrict g,
                                 float* __restrict v, float*, int64_t i) const {
    const float gi = g[i], old_v = v[i];
    p[i] += momentum2 * old_v - lr_ahead * gi;
    v[i] = FlushSubnormal(momentum * old_v - lr * gi);
  }
};

struct AdaGrad {
  float lr, eps;
  BLASNET_INLINE void operator()(float* __restrict p, const float* __restrict g,
                                 float* __restrict s, float*, int64_t i) const {
    const float gi = g[i];
    const float hh = s[i] + gi * gi;
    s[i] = hh;
    p[i] -= lr * gi / (std::sqrt(hh) + eps);
  }
};

struct Rmsprop {
  float lr, decay_rate, one_minus_decay, eps;
  BLASNET_INLINE void operator()(float* __restrict p, const float* __restrict g,
                                 float* __restrict s, float*, int64_t i) const {
    const float gi = g[i];
    const float hh = FlushSubnormal(decay_rate * s[i] + one_minus_decay * gi * gi);
    s[i] = hh;
    p[i] -= lr * gi / (std::sqrt(hh) + eps);
  }
};

struct Adam {
  float lr_t, one_minus_beta1, one_minus_beta2, eps;
  BLASNET_INLINE void operator()(float* __restrict p, const float* __restrict g,
                                 float* __restrict m, float* __restrict v, int64_t i) const {
    const float gi = g[i];
    const float mi = FlushSubnormal(m[i] + one_minus_beta1 * (gi - m[i]));
    const float vi = FlushSubnormal(v[i] + one_minus_beta2 * (gi * gi - v[i]));
    m[i] = mi;
    v[i] = vi;
    p[i] -= lr_t * mi / (std::sqrt(vi) + eps);
  }
};

// The moving average of a parameter: here p is the average (written) and g the parameter.
struct Average {
  float one_minus_decay;
  BLASNET_INLINE void operator()(float* __restrict avg, const float* __restrict p, float*, float*,
                                 int64_t i) const {
    avg[i] += one_minus_decay * (p[i] - avg[i]);
  }
};

template <class Step>
BLASNET_INLINE void StepLoopImpl(Step step, float* __restrict p, const float* __restrict g,
                                 float* __restrict s1, float* __restrict s2, int64_t n) {
  for (int64_t i = 0; i < n; ++i) step(p, g, s1, s2, i);
}

// Memory-bound at the sizes that matter: 256-bit registers (512-bit ones measured no faster).
BLASNET_MULTIVERSION(StepLoop, StepLoopImpl, BLASNET_TARGET_AVX512)

// Arrays from 8,192 elements up are split over the loop threads (each element is independent;
// ParallelFor splits from 2^20 units of work, 128 per element). Not for the arithmetic, which is
// memory-bound, but for where the data is: a gemm cut over two threads left half of each
// gradient in the other core's cache, and on a 2-vCPU VM (AMD EPYC) pulling it over made SGD's
// update of W2 (MultiLayerNet, 6 x 100) 3-4x slower than on one thread; split the same way, each
// thread updates the half it wrote. W2 training 140-160k -> 240k samples/s there.
template <class Step>
void Steps(Step step, float* p, const float* g, float* s1, float* s2, int64_t n) {
  ParallelFor(n, n * 128, [&](int64_t b, int64_t e) {
    StepLoop(step, p + b, g + b, s1 ? s1 + b : nullptr, s2 ? s2 + b : nullptr, e - b);
  });
}

float F(double v) { return static_cast<float>(v); }

}  // namespace

void SgdStep(float* p, const float* g, int64_t n, SgdHyper h) {
  Steps(Sgd{F(h.lr)}, p, g, nullptr, nullptr, n);
}
void MomentumStep(float* p, const float* g, float* v, int64_t n, MomentumHyper h) {
  Steps(Momentum{F(h.lr), F(h.momentum)}, p, g, v, nullptr, n);
}
void NesterovStep(float* p, const float* g, float* v, int64_t n, MomentumHyper h) {
  Steps(Nesterov{F(h.lr), F(h.momentum), F(h.momentum * h.momentum), F((1 + h.momentum) * h.lr)}, p,
        g, v, nullptr, n);
}
void AdaGradStep(float* p, const float* g, float* h, int64_t n, AdaGradHyper hp) {
  Steps(AdaGrad{F(hp.lr), F(hp.eps)}, p, g, h, nullptr, n);
}
void RmspropStep(float* p, const float* g, float* h, int64_t n, RmspropHyper hp) {
  Steps(Rmsprop{F(hp.lr), F(hp.decay_rate), F(1 - hp.decay_rate), F(hp.eps)}, p, g, h, nullptr, n);
}
void AdamStep(float* p, const float* g, float* m, float* v, int64_t n, AdamHyper h) {
  Steps(Adam{F(h.lr_t), F(1 - h.beta1), F(1 - h.beta2), F(h.eps)}, p, g, m, v, n);
}

void AverageStep(float* avg, const float* p, int64_t n, double decay) {
  Steps(Average{F(1 - decay)}, avg, p, nullptr, nullptr, n);
}

// ---- Bindings: the optimizer steps (lib/core/contract.ts) ----

namespace {
int64_t Len(const F32& a) { return static_cast<int64_t>(a.length); }
}  // namespace

void Run(const SgdStepArgs& a) { SgdStep(a.p.data, a.g.data, Len(a.p), {a.lr}); }
void Run(const MomentumStepArgs& a) {
  MomentumStep(a.p.data, a.g.data, a.v.data, Len(a.p), {a.lr, a.momentum});
}
void Run(const NesterovStepArgs& a) {
  NesterovStep(a.p.data, a.g.data, a.v.data, Len(a.p), {a.lr, a.momentum});
}
void Run(const AdaGradStepArgs& a) {
  AdaGradStep(a.p.data, a.g.data, a.h.data, Len(a.p), {a.lr, a.eps});
}
void Run(const RmspropStepArgs& a) {
  RmspropStep(a.p.data, a.g.data, a.h.data, Len(a.p), {a.lr, a.decayRate, a.eps});
}
void Run(const AverageStepArgs& a) { AverageStep(a.avg.data, a.p.data, Len(a.avg), a.decay); }
void Run(const AdamStepArgs& a) {
  AdamStep(a.p.data, a.g.data, a.m.data, a.v.data, Len(a.p), {a.lrT, a.beta1, a.beta2, a.eps});
}

}  // namespace blasnet
