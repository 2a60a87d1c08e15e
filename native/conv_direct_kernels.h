// SPDX-License-Identifier: MIT
// The direct convolution kernels of one instruction-set level. Not a normal header:
// native/conv_direct.cc includes it once per level, inside that level's namespace and target
// region (isa.h), with BLASNET_DIRECT_LANES (4, 8 or 16 floats per vector) and
// BLASNET_DIRECT_REGS (16 or 32 vector registers) defined. Only GCC/Clang vector extensions, no
// intrinsics.
//
// A stride-1 convolution of a padded plane is a one-dimensional correlation of the flattened
// plane: output (oh, ow) is sum over the taps (c, kh, kw) of W[f][tap] · xp[c][q + kh·Wp + kw]
// with q = oh·Wp + ow, Wp the padded width. Computed for every q in [0, OH·Wp) ("wide"
// positions; those with ow >= OW straddle two rows and are discarded), each tap is one
// unaligned vector load per L positions, shared by a block of filters: no im2col, no packing.

constexpr int L = BLASNET_DIRECT_LANES;
typedef float vf __attribute__((vector_size(L * 4)));
typedef float vfu __attribute__((vector_size(L * 4), aligned(4), may_alias));

BLASNET_INLINE vf Load(const float* p) { return *reinterpret_cast<const vfu*>(p); }
BLASNET_INLINE void Store(float* p, vf v) { *reinterpret_cast<vfu*>(p) = v; }

// Register blocks: forward kF filters x kV vectors of positions; backward kG filters x kT taps.
constexpr bool kManyRegs = BLASNET_DIRECT_REGS == 32;
constexpr int kF = kManyRegs ? 6 : 4;
constexpr int kV = kManyRegs ? 4 : 3;
constexpr int kG = kManyRegs ? 4 : 3;
constexpr int kT = kManyRegs ? 5 : 3;

// Wide outputs yw (FNf x Qr) for the filters of Wt (taps x FNf, FNf a multiple of kF: the kF
// weights of one tap side by side), positions in blocks of kV·L (Qr a multiple of it); tap t
// reads xp + off[t].
void Forward(const DirectPlan& p, const float* xp, const float* Wt, float* yw) {
  for (int64_t f0 = 0; f0 < p.FNf; f0 += kF) {
    for (int64_t q0 = 0; q0 < p.Qr; q0 += kV * L) {
      vf acc[kF][kV];
      for (int f = 0; f < kF; ++f) {
        for (int v = 0; v < kV; ++v) acc[f][v] = vf{};
      }
      const float* w = Wt + f0;
      for (int64_t t = 0; t < p.T; ++t, w += p.FNf) {
        const float* src = xp + p.off[t] + q0;
        vf xv[kV];
        for (int v = 0; v < kV; ++v) xv[v] = Load(src + v * L);
        for (int f = 0; f < kF; ++f) {
          const float wf = w[f];
          for (int v = 0; v < kV; ++v) acc[f][v] += wf * xv[v];
        }
      }
      for (int f = 0; f < kF; ++f) {
        for (int v = 0; v < kV; ++v) Store(yw + (f0 + f) * p.Qr + q0 + v * L, acc[f][v]);
      }
    }
  }
}

typedef int32_t vi __attribute__((vector_size(L * 4)));

// The first n < L floats at p, the other lanes zero; a whole load when it ends before `end`.
BLASNET_INLINE vf LoadHead(const float* p, int64_t n, vi keep, const float* end) {
  if (p + L <= end) return keep ? Load(p) : vf{};
  vf v = vf{};
  for (int64_t i = 0; i < n; ++i) v[i] = p[i];
  return v;
}

// Vector partial sums pv (FNb x Tr x L, FNb a multiple of kG) += the output gradient d
// (FN x OH·OW) correlated with xp: pv[f][t] gathers, lane by lane, d[f][oh][ow] ·
// xp[off[t] + oh·Wp + ow] over the positions, row by row (a row's last vector partial, its
// lanes past OW zero). The filters past FN repeat the last one and the taps past T (up to Tr, a
// multiple of kT) have offset 0: their sums are not used.
void BackwardWeights(const DirectPlan& p, int64_t FN, int64_t OH, int64_t OW, const float* xp,
                     const float* d, float* pv) {
  const int64_t S = OH * OW, rem = OW % L, full = OW - rem;
  const float* end = d + FN * S;
  vi lane;
  for (int j = 0; j < L; ++j) lane[j] = j;
  const vi keep = lane < static_cast<int32_t>(rem);
  for (int64_t f0 = 0; f0 < p.FNb; f0 += kG) {
    const float* drow[kG];
    for (int f = 0; f < kG; ++f) drow[f] = d + std::min(f0 + f, FN - 1) * S;
    for (int64_t t0 = 0; t0 < p.Tr; t0 += kT) {
      vf acc[kG][kT];
      for (int f = 0; f < kG; ++f) {
        for (int t = 0; t < kT; ++t) acc[f][t] = vf{};
      }
      const float* src[kT];
      for (int t = 0; t < kT; ++t) src[t] = xp + p.off[t0 + t];
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t xo = oh * p.Wp, dof = oh * OW;
        vf xv[kT], dv[kG];
        for (int64_t j = 0; j < full; j += L) {
          for (int t = 0; t < kT; ++t) xv[t] = Load(src[t] + xo + j);
          for (int f = 0; f < kG; ++f) dv[f] = Load(drow[f] + dof + j);
          for (int f = 0; f < kG; ++f) {
            for (int t = 0; t < kT; ++t) acc[f][t] += dv[f] * xv[t];
          }
        }
        if (rem == 0) continue;
        for (int t = 0; t < kT; ++t) xv[t] = Load(src[t] + xo + full);
        for (int f = 0; f < kG; ++f) dv[f] = LoadHead(drow[f] + dof + full, rem, keep, end);
        for (int f = 0; f < kG; ++f) {
          for (int t = 0; t < kT; ++t) acc[f][t] += dv[f] * xv[t];
        }
      }
      for (int f = 0; f < kG; ++f) {
        for (int t = 0; t < kT; ++t) {
          float* out = pv + ((f0 + f) * p.Tr + t0 + t) * L;
          Store(out, Load(out) + acc[f][t]);
        }
      }
    }
  }
}

// db[f] += the sum of filter f's S gradients, for f < FN.
void GradSums(int64_t FN, int64_t S, const float* d, float* db) {
  for (int64_t f = 0; f < FN; ++f) {
    const float* r = d + f * S;
    vf a0 = vf{}, a1 = vf{};
    int64_t i = 0;
    for (; i + 2 * L <= S; i += 2 * L) a0 += Load(r + i), a1 += Load(r + i + L);
    for (; i + L <= S; i += L) a0 += Load(r + i);
    a0 += a1;
    float s = 0.0f;
    for (int j = 0; j < L; ++j) s += a0[j];
    for (; i < S; ++i) s += r[i];
    db[f] += s;
  }
}

// The lanes of each partial added up: sums[i] = pv[i·L] + ... + pv[i·L + L - 1], for n sums.
void LaneSums(const float* pv, int64_t n, float* sums) {
  for (int64_t i = 0; i < n; ++i) {
    const vf v = Load(pv + i * L);
    float s = 0.0f;
    for (int j = 0; j < L; ++j) s += v[j];
    sums[i] = s;
  }
}

// y (FN x OH·OW) = the wide outputs yw at their kept positions + b. Rows are copied whole
// vectors at a time: what a row's last vector writes past its end lands in the rows after it,
// which are written later; only a vector that would run past the end of y is cut short. (yw has
// L floats of slack after its end.)
void Compact(const DirectPlan& p, int64_t FN, int64_t OH, int64_t OW, const float* yw,
             const float* b, float* y) {
  const int64_t rows = FN * OH, total = rows * OW;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t f = r / OH, i = r % OH;
    const float* src = yw + f * p.Qr + i * p.Wp;
    float* dst = y + r * OW;
    const float bf = b[f];
    int64_t j = 0;
    for (; j < OW && r * OW + j + L <= total; j += L) Store(dst + j, Load(src + j) + bf);
    for (; j < OW; ++j) dst[j] = src[j] + bf;
  }
}

// The forward half (wide positions) and the backward half (rows) of this level's kernels.
constexpr ForwardKernels kForward = {kF, kV* L, Forward, Compact};
constexpr BackwardKernels kBackward = {L, kG, kT, BackwardWeights, LaneSums, GradSums};
