// SPDX-License-Identifier: MIT
#include "elementwise.h"

#include <cmath>
#include <cstdint>
#include <cstring>

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

// exp(x) in float with only arithmetic, compares and an int conversion, so that the loops
// calling it vectorise (std::exp is a library call per element: about 14 cycles each, a
// quarter of W1's inference time). x = n*ln2 + r with |r| <= ln2/2; exp(r) by a degree-7
// polynomial (the Cephes coefficients), within about 2 ulp of expf; 2^n built in the
// exponent bits. Above ln(FLT_MAX) the result is +Inf, as expf's; below -86.6 it stays at
// exp(-86.6) ~ 2.4e-38 where expf goes on into subnormals (for the sigmoid: 1 either way).
// Vectorising the selects needs -fno-trapping-math (set in both build files).
inline float ExpF(float x) {
  constexpr float kMax = 88.72283935546875f;  // ln(FLT_MAX), rounded down to a float
  constexpr uint32_t kMaxBits = 0x42b17218u;  // its bits
  // Ordered compares: a NaN fails both and is clamped to the bottom, so no NaN reaches the
  // int conversion; it is put back at the end.
  float v = x > -86.6f ? x : -86.6f;
  v = v < kMax ? v : kMax;
  const float t = v * 1.44269504088896341f + 0.5f;
  int32_t n = static_cast<int32_t>(t);
  n -= t < static_cast<float>(n) ? 1 : 0;  // floor for negative t; n in [-125, 128]
  const float fn = static_cast<float>(n);
  float r = v - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  const float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  // 2^n as 2^(n-1) * 2, so that n = 128 (x just below ln(FLT_MAX)) still has a float exponent.
  const uint32_t scale_bits = static_cast<uint32_t>(n + 126) << 23;
  float scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  const float y = (p * scale) * 2.0f;
  // Selects on the bits (integer selects vectorise; float ones did not): +Inf above kMax
  // (positive x whose bits exceed kMax's, +Inf included), and NaN in, NaN out.
  uint32_t xb, yb;
  std::memcpy(&xb, &x, sizeof xb);
  std::memcpy(&yb, &y, sizeof yb);
  const uint32_t over = 0u - static_cast<uint32_t>(xb > kMaxBits && xb < 0x80000000u);
  yb = (yb & ~over) | (0x7f800000u & over);
  const uint32_t nan = 0u - static_cast<uint32_t>((xb & 0x7fffffffu) > 0x7f800000u);
  const uint32_t rb = (yb & ~nan) | (xb & nan);
  float out;
  std::memcpy(&out, &rb, sizeof out);
  return out;
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
  // Single precision throughout, with the vectorised ExpF: within a few ulp of the double
  // formula (the sigmoid networks of the course are bound by it).
  Unary(x, out, n, 4, [](float v) { return 1.0f / (1.0f + ExpF(-v)); });
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
