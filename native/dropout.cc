// SPDX-License-Identifier: MIT
#include "dropout.h"

#include "generated/contract.h"

namespace blasnet {

void DropoutForward(const float* x, float* out, float* mask, int64_t n, double ratio, float keep,
                    uint64_t seed) {
  // splitmix64: fast, and each call's stream is fixed by the seed drawn from the library's
  // seeded generator, so setSeed() makes masks repeat.
  uint64_t state = seed;
  for (int64_t i = 0; i < n; ++i) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    const double u = static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);  // [0, 1)
    const float m = u > ratio ? keep : 0.0f;
    mask[i] = m;
    out[i] = x[i] * m;
  }
}

void Multiply(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}

void Scale(const float* x, float* out, int64_t n, float s) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * s;
}

// ---- Bindings: dropoutForward, multiply, scale (lib/core/contract.ts) ----

void Run(const DropoutForwardArgs& a) {
  DropoutForward(a.x.data, a.out.data, a.mask.data, static_cast<int64_t>(a.x.length), a.ratio,
                 static_cast<float>(a.keep),
                 (static_cast<uint64_t>(a.seedHigh) << 31) ^ static_cast<uint64_t>(a.seedLow));
}

void Run(const MultiplyArgs& a) {
  Multiply(a.a.data, a.b.data, a.out.data, static_cast<int64_t>(a.a.length));
}

void Run(const ScaleArgs& a) {
  Scale(a.x.data, a.out.data, static_cast<int64_t>(a.x.length), static_cast<float>(a.s));
}

}  // namespace blasnet
