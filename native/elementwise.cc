// SPDX-License-Identifier: MIT
#include "elementwise.h"

#include <cmath>

#include "common.h"

namespace blasnet {
namespace {

// Element-wise loops split over the loop threads once arrays are large enough.
template <typename Fn>
void ForRange(int64_t n, int64_t cost, Fn&& fn) {
  ParallelFor(n, n * cost, [&](int64_t b, int64_t e) { fn(b, e); });
}

// Unary and backward loops over [0, n) with unaliased pointers, so they vectorise.
template <typename Op>
__attribute__((target_clones("avx2", "default")))
void Map1(const float* __restrict x, float* __restrict out, int64_t n, Op op) {
  for (int64_t i = 0; i < n; ++i) out[i] = op(x[i]);
}

template <typename Op>
__attribute__((target_clones("avx2", "default")))
void Map2(const float* __restrict a, const float* __restrict b, float* __restrict out, int64_t n, Op op) {
  for (int64_t i = 0; i < n; ++i) out[i] = op(a[i], b[i]);
}

template <typename Op>
void Unary(const float* x, float* out, int64_t n, int64_t cost, Op op) {
  ForRange(n, cost, [&](int64_t b, int64_t e) { Map1(x + b, out + b, e - b, op); });
}

template <typename Op>
void Binary(const float* a, const float* b2, float* out, int64_t n, Op op) {
  ForRange(n, 1, [&](int64_t b, int64_t e) { Map2(a + b, b2 + b, out + b, e - b, op); });
}

}  // namespace

void ReluForward(const float* x, float* out, int64_t n) {
  // Zero where x <= 0, as the course's mask: a NaN passes through (it does in PyTorch too).
  Unary(x, out, n, 1, [](float v) { return v <= 0.0f ? 0.0f : v; });
}

void ReluBackward(const float* x, const float* dout, float* dx, int64_t n) {
  Binary(x, dout, dx, n, [](float v, float d) { return v <= 0.0f ? 0.0f : d; });
}

void SigmoidForward(const float* x, float* out, int64_t n) {
  // expf in single precision: within an ulp or two of the double formula, and about twice
  // as fast (the sigmoid networks of the course are bound by it).
  Unary(x, out, n, 8, [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
}

void SigmoidBackward(const float* out, const float* dout, float* dx, int64_t n) {
  Binary(out, dout, dx, n, [](float o, float d) { return d * (1.0f - o) * o; });
}

void TanhForward(const float* x, float* out, int64_t n) {
  Unary(x, out, n, 8, [](float v) { return std::tanh(v); });
}

void TanhBackward(const float* out, const float* dout, float* dx, int64_t n) {
  Binary(out, dout, dx, n, [](float o, float d) { return d * (1.0f - o * o); });
}

namespace {

// One kind's loop over [0, n) with unaliased pointers, so the compiler vectorises it.
template <int Kind>
__attribute__((target_clones("avx2", "default"))) void StepRange(float* __restrict p, const float* __restrict g, float* __restrict s1,
               float* __restrict s2, const double* h, int64_t n) {
  const double h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3];
  for (int64_t i = 0; i < n; ++i) {
    const double gi = g[i];
    if (Kind == 0) {  // SGD: p -= lr g
      p[i] = static_cast<float>(p[i] - h0 * gi);
    } else if (Kind == 1) {  // Momentum: v = momentum v - lr g; p += v
      const double v = h1 * s1[i] - h0 * gi;
      s1[i] = static_cast<float>(v);
      p[i] = static_cast<float>(p[i] + v);
    } else if (Kind == 2) {  // Nesterov: v = momentum v - lr g; p += momentum^2 v - (1 + momentum) lr g
      const double v = h1 * s1[i] - h0 * gi;
      s1[i] = static_cast<float>(v);
      p[i] = static_cast<float>(p[i] + h1 * h1 * v - (1 + h1) * h0 * gi);
    } else if (Kind == 3) {  // AdaGrad: h += g^2; p -= lr g / (sqrt(h) + eps)
      const double hh = s1[i] + gi * gi;
      s1[i] = static_cast<float>(hh);
      p[i] = static_cast<float>(p[i] - h0 * gi / (std::sqrt(hh) + h1));
    } else if (Kind == 4) {  // RMSprop: h = decay h + (1 - decay) g^2; p -= lr g / (sqrt(h) + eps)
      const double hh = h1 * s1[i] + (1 - h1) * gi * gi;
      s1[i] = static_cast<float>(hh);
      p[i] = static_cast<float>(p[i] - h0 * gi / (std::sqrt(hh) + h2));
    } else {  // Adam: m += (1-b1)(g-m); v += (1-b2)(g^2-v); p -= lrT m / (sqrt(v) + eps)
      const double m = s1[i] + (1 - h1) * (gi - s1[i]);
      const double v = s2[i] + (1 - h2) * (gi * gi - s2[i]);
      s1[i] = static_cast<float>(m);
      s2[i] = static_cast<float>(v);
      p[i] = static_cast<float>(p[i] - h0 * m / (std::sqrt(v) + h3));
    }
  }
}

}  // namespace

void OptimizerStep(int kind, float* p, const float* g, float* s1, float* s2, const double* h,
                   int64_t n) {
  using Fn = void (*)(float*, const float*, float*, float*, const double*, int64_t);
  static constexpr Fn kinds[] = {StepRange<0>, StepRange<1>, StepRange<2>,
                                 StepRange<3>, StepRange<4>, StepRange<5>};
  const Fn step = kinds[kind];
  ForRange(n, 4, [&](int64_t b, int64_t e) {
    step(p + b, g + b, s1 ? s1 + b : nullptr, s2 ? s2 + b : nullptr, h, e - b);
  });
}

}  // namespace blasnet
