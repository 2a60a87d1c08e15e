// SPDX-License-Identifier: MIT
#include "activations.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "generated/contract.h"
#include "isa.h"
#include "threads.h"

namespace blasnet {
namespace {

// Element-wise loops split over the loop threads once arrays are large enough.
template <typename Fn>
void ForRange(int64_t n, int64_t cost, Fn&& fn) {
  ParallelFor(n, n * cost, [&](int64_t b, int64_t e) { fn(b, e); });
}

// Unary and backward loops over [0, n) with unaliased pointers, so they vectorise; each compiled
// for every instruction-set level (isa.h).
template <typename Op>
BLASNET_INLINE void Map1Impl(const float* __restrict x, float* __restrict out, int64_t n, Op op) {
  for (int64_t i = 0; i < n; ++i) out[i] = op(x[i]);
}

// In place (out == x): no __restrict, the same arithmetic.
template <typename Op>
BLASNET_INLINE void Map1InPlaceImpl(float* x, int64_t n, Op op) {
  for (int64_t i = 0; i < n; ++i) x[i] = op(x[i]);
}

template <typename Op>
BLASNET_INLINE void Map2Impl(const float* __restrict a, const float* __restrict b,
                             float* __restrict out, int64_t n, Op op) {
  for (int64_t i = 0; i < n; ++i) out[i] = op(a[i], b[i]);
}

// Memory-bound loops gain nothing from 512-bit vectors: AVX-512 on 256-bit registers.
BLASNET_MULTIVERSION(Map1, Map1Impl, BLASNET_TARGET_AVX512)
BLASNET_MULTIVERSION(Map1InPlace, Map1InPlaceImpl, BLASNET_TARGET_AVX512)
BLASNET_MULTIVERSION(Map2, Map2Impl, BLASNET_TARGET_AVX512)
// Compute-bound ones (the exp of the sigmoid) run about 1.5-2x faster on 512-bit vectors.
BLASNET_MULTIVERSION(Map1Wide, Map1Impl, BLASNET_TARGET_AVX512_ZMM)
BLASNET_MULTIVERSION(Map1WideInPlace, Map1InPlaceImpl, BLASNET_TARGET_AVX512_ZMM)

constexpr auto kRelu = [](float v) { return v <= 0.0f ? 0.0f : v; };
constexpr auto kReluGrad = [](float v, float d) { return v <= 0.0f ? 0.0f : d; };

template <typename Op>
void Unary(const float* x, float* out, int64_t n, int64_t cost, Op op) {
  ForRange(n, cost, [&](int64_t b, int64_t e) { Map1(x + b, out + b, e - b, op); });
}

template <typename Op>
void UnaryWide(const float* x, float* out, int64_t n, int64_t cost, Op op) {
  ForRange(n, cost, [&](int64_t b, int64_t e) { Map1Wide(x + b, out + b, e - b, op); });
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
BLASNET_INLINE float ExpF(float x) {
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

// Single precision throughout, with the vectorised ExpF: within a few ulp of the double
// formula (the sigmoid networks of the course are bound by it). Every loop applying these
// computes each element alike (vector body or scalar tail, any split), so the fused affine
// step gives the same bits as the layers one after another.
constexpr auto kSigmoid = [](float v) { return 1.0f / (1.0f + ExpF(-v)); };
constexpr auto kSigmoidGrad = [](float o, float d) { return d * (1.0f - o) * o; };

}  // namespace

void ReluForward(const float* x, float* out, int64_t n) {
  // Zero where x <= 0, as the course's mask: a NaN passes through (it does in PyTorch too).
  Unary(x, out, n, 1, kRelu);
}

void ReluBackward(const float* x, const float* dout, float* dx, int64_t n) {
  Binary(x, dout, dx, n, kReluGrad);
}

void ReluRange(const float* x, float* out, int64_t n) {
  if (x == out) {
    Map1InPlace(out, n, kRelu);
  } else {
    Map1(x, out, n, kRelu);
  }
}

void ReluBackwardRange(const float* x, const float* dout, float* dx, int64_t n) {
  Map2(x, dout, dx, n, kReluGrad);
}

void SigmoidForward(const float* x, float* out, int64_t n) { UnaryWide(x, out, n, 4, kSigmoid); }

void SigmoidBackward(const float* out, const float* dout, float* dx, int64_t n) {
  Binary(out, dout, dx, n, kSigmoidGrad);
}

void SigmoidRange(const float* x, float* out, int64_t n) {
  if (x == out) {
    Map1WideInPlace(out, n, kSigmoid);
  } else {
    Map1Wide(x, out, n, kSigmoid);
  }
}

void SigmoidBackwardRange(const float* out, const float* dout, float* dx, int64_t n) {
  Map2(out, dout, dx, n, kSigmoidGrad);
}

void TanhForward(const float* x, float* out, int64_t n) {
  Unary(x, out, n, 8, [](float v) { return std::tanh(v); });
}

void TanhBackward(const float* out, const float* dout, float* dx, int64_t n) {
  Binary(out, dout, dx, n, [](float o, float d) { return d * (1.0f - o * o); });
}

namespace {

// One row of the course's softmax: the row's maximum first, then exp(x - max) and the sum in
// double; out may be x (each element is read before it is written).
void SoftmaxRow(const float* x, float* out, int64_t n) {
  float m = x[0];
  for (int64_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double e = std::exp(static_cast<double>(x[i]) - m);
    out[i] = static_cast<float>(e);
    sum += e;
  }
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(out[i] / sum);
}

}  // namespace

// ---- Bindings: the activations (lib/core/contract.ts) ----

void Run(const ReluForwardArgs& a) {
  ReluForward(a.x.data, a.out.data, static_cast<int64_t>(a.x.length));
}
void Run(const ReluBackwardArgs& a) {
  ReluBackward(a.x.data, a.dout.data, a.dx.data, static_cast<int64_t>(a.x.length));
}
void Run(const SigmoidForwardArgs& a) {
  SigmoidForward(a.x.data, a.out.data, static_cast<int64_t>(a.x.length));
}
void Run(const SigmoidBackwardArgs& a) {
  SigmoidBackward(a.out.data, a.dout.data, a.dx.data, static_cast<int64_t>(a.out.length));
}
void Run(const TanhForwardArgs& a) {
  TanhForward(a.x.data, a.out.data, static_cast<int64_t>(a.x.length));
}
void Run(const TanhBackwardArgs& a) {
  TanhBackward(a.out.data, a.dout.data, a.dx.data, static_cast<int64_t>(a.out.length));
}

void Run(const SoftmaxArgs& a) {
  // Rows are independent: any split over the threads gives the same result.
  ParallelFor(a.rows, a.rows * a.cols * 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      SoftmaxRow(a.x.data + r * a.cols, a.out.data + r * a.cols, a.cols);
  });
}

}  // namespace blasnet
