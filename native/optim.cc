// SPDX-License-Identifier: MIT
#include "optim.h"

#include <cmath>

#include "generated/contract.h"
#include "isa.h"
#include "threads.h"

namespace blasnet {
namespace {

// Each optimizer's update of element i, written as the course writes it; the loops below run
// it over [0, n) with unaliased pointers, so that the compiler vectorises it.
struct Sgd {
  SgdHyper h;
  void operator()(float* __restrict p, const float* __restrict g, float*, float*, int64_t i) const {
    p[i] = static_cast<float>(p[i] - h.lr * static_cast<double>(g[i]));
  }
};

struct Momentum {
  MomentumHyper h;
  void operator()(float* __restrict p, const float* __restrict g, float* __restrict v, float*,
                  int64_t i) const {
    const double vi = h.momentum * v[i] - h.lr * static_cast<double>(g[i]);
    v[i] = static_cast<float>(vi);
    p[i] = static_cast<float>(p[i] + vi);
  }
};

struct Nesterov {
  MomentumHyper h;
  void operator()(float* __restrict p, const float* __restrict g, float* __restrict v, float*,
                  int64_t i) const {
    const double gi = g[i], old_v = v[i];
    p[i] =
        static_cast<float>(p[i] + h.momentum * h.momentum * old_v - (1 + h.momentum) * h.lr * gi);
    v[i] = static_cast<float>(h.momentum * old_v - h.lr * gi);
  }
};

struct AdaGrad {
  AdaGradHyper h;
  void operator()(float* __restrict p, const float* __restrict g, float* __restrict s, float*,
                  int64_t i) const {
    const double gi = g[i];
    const double hh = s[i] + gi * gi;
    s[i] = static_cast<float>(hh);
    p[i] = static_cast<float>(p[i] - h.lr * gi / (std::sqrt(hh) + h.eps));
  }
};

struct Rmsprop {
  RmspropHyper h;
  void operator()(float* __restrict p, const float* __restrict g, float* __restrict s, float*,
                  int64_t i) const {
    const double gi = g[i];
    const double hh = h.decay_rate * s[i] + (1 - h.decay_rate) * gi * gi;
    s[i] = static_cast<float>(hh);
    p[i] = static_cast<float>(p[i] - h.lr * gi / (std::sqrt(hh) + h.eps));
  }
};

struct Adam {
  AdamHyper h;
  void operator()(float* __restrict p, const float* __restrict g, float* __restrict m,
                  float* __restrict v, int64_t i) const {
    const double gi = g[i];
    const double mi = m[i] + (1 - h.beta1) * (gi - m[i]);
    const double vi = v[i] + (1 - h.beta2) * (gi * gi - v[i]);
    m[i] = static_cast<float>(mi);
    v[i] = static_cast<float>(vi);
    p[i] = static_cast<float>(p[i] - h.lr_t * mi / (std::sqrt(vi) + h.eps));
  }
};

template <class Step>
BLASNET_CLONES void StepLoop(Step step, float* __restrict p, const float* __restrict g,
                             float* __restrict s1, float* __restrict s2, int64_t n) {
  for (int64_t i = 0; i < n; ++i) step(p, g, s1, s2, i);
}

// Large arrays are split over the loop threads (each element is independent).
template <class Step>
void Steps(Step step, float* p, const float* g, float* s1, float* s2, int64_t n) {
  ParallelFor(n, n * 4, [&](int64_t b, int64_t e) {
    StepLoop(step, p + b, g + b, s1 ? s1 + b : nullptr, s2 ? s2 + b : nullptr, e - b);
  });
}

}  // namespace

void SgdStep(float* p, const float* g, int64_t n, SgdHyper h) {
  Steps(Sgd{h}, p, g, nullptr, nullptr, n);
}
void MomentumStep(float* p, const float* g, float* v, int64_t n, MomentumHyper h) {
  Steps(Momentum{h}, p, g, v, nullptr, n);
}
void NesterovStep(float* p, const float* g, float* v, int64_t n, MomentumHyper h) {
  Steps(Nesterov{h}, p, g, v, nullptr, n);
}
void AdaGradStep(float* p, const float* g, float* h, int64_t n, AdaGradHyper hp) {
  Steps(AdaGrad{hp}, p, g, h, nullptr, n);
}
void RmspropStep(float* p, const float* g, float* h, int64_t n, RmspropHyper hp) {
  Steps(Rmsprop{hp}, p, g, h, nullptr, n);
}
void AdamStep(float* p, const float* g, float* m, float* v, int64_t n, AdamHyper h) {
  Steps(Adam{h}, p, g, m, v, n);
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
void Run(const AdamStepArgs& a) {
  AdamStep(a.p.data, a.g.data, a.m.data, a.v.data, Len(a.p), {a.lrT, a.beta1, a.beta2, a.eps});
}

}  // namespace blasnet
