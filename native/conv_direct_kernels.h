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

// The gradient of one filter's windows times the padded planes, windows in order, added into
// the lane-0 partials pv_f (taps x L): the R rows (c, kh) of FW <= L taps each, in registers,
// alternate windows in two sets of sums (added at the end) to hide the latency of the adds.
// g[i] (zero where nothing passes) and at[i] (the winner's offset in the padded plane) per window.
template <int R>
BLASNET_INLINE void WinnerRows(const DirectPlan& p, const float* xp, const float* g,
                               const int32_t* at, int64_t P, float* pv_f) {
  vf a[R], b[R];
  for (int r = 0; r < R; ++r) a[r] = b[r] = vf{};
  int64_t off[R];
  for (int r = 0; r < R; ++r) off[r] = p.off[r * p.FW];
  int64_t i = 0;
  for (; i + 2 <= P; i += 2) {
    const float* s0 = xp + at[i];
    const float* s1 = xp + at[i + 1];
    const float g0 = g[i], g1 = g[i + 1];
    for (int r = 0; r < R; ++r) a[r] += g0 * Load(s0 + off[r]);
    for (int r = 0; r < R; ++r) b[r] += g1 * Load(s1 + off[r]);
  }
  if (i < P) {
    for (int r = 0; r < R; ++r) a[r] += g[i] * Load(xp + at[i] + off[r]);
  }
  for (int r = 0; r < R; ++r) {
    const vf sum = a[r] + b[r];
    for (int64_t kw = 0; kw < p.FW; ++kw) pv_f[(r * p.FW + kw) * L] += sum[kw];
  }
}

// The same for any R and FW, with the sums in q (R x FWr floats, FWr = FW rounded up to L).
void WinnerRowsAny(const DirectPlan& p, const float* xp, const float* g, const int32_t* at,
                   int64_t P, int64_t R, int64_t FWr, float* q, float* pv_f) {
  std::fill(q, q + R * FWr, 0.0f);
  for (int64_t i = 0; i < P; ++i) {
    const float* src = xp + at[i];
    for (int64_t r = 0; r < R; ++r) {
      const float* xr = src + p.off[r * p.FW];
      float* qr = q + r * FWr;
      for (int64_t k = 0; k < FWr; k += L) Store(qr + k, Load(qr + k) + g[i] * Load(xr + k));
    }
  }
  for (int64_t r = 0; r < R; ++r) {
    for (int64_t kw = 0; kw < p.FW; ++kw) pv_f[(r * p.FW + kw) * L] += q[r * FWr + kw];
  }
}

typedef int32_t viu __attribute__((vector_size(L * 4), aligned(4), may_alias));
BLASNET_INLINE vi LoadI(const int32_t* p) { return *reinterpret_cast<const viu*>(p); }
BLASNET_INLINE void StoreI(int32_t* p, vi v) { *reinterpret_cast<viu*>(p) = v; }

// GradSums and BackwardWeights of sample n for a gradient that comes through a 2x2, stride-2
// max pooling (and the Relu before it when pg.relu): only the winner of each window has a
// gradient, so only a quarter of the positions are multiplied, straight from the pooled
// gradient and its argmax, and the dense (FN x OH·OW) gradient is never written. The sums run
// over the windows in order instead of the dense kernels' lanes: equal within float rounding,
// and still the same bits on any thread count. Returns false, having done nothing, when a winner
// lies outside its window (argmax from elsewhere than the forward pass): the caller then runs
// the dense kernels. `lists` holds (2·P + 1)·FN + 3·P floats, `q` R·FWr.
bool PooledBackward(const DirectPlan& p, int64_t FN, int64_t OH, int64_t OW, const float* xp,
                    const PoolGradFusion& pg, int64_t n, float* pv, float* db, float* lists,
                    float* q) {
  const int64_t POH = OH / 2, POW = OW / 2, P = POH * POW;
  const int32_t iOW = static_cast<int32_t>(OW), iWp = static_cast<int32_t>(p.Wp);
  float* gs = lists;
  int32_t* ats = reinterpret_cast<int32_t*>(lists + FN * P);
  float* sums = lists + 2 * FN * P;  // db's terms, added once every winner is known to be valid
  // Per window i (row py, column px of the pooled plane): the plane index of its top-left
  // output 2·py·OW (+ 2·px), px, and what turns a winner's plane index into its offset in the
  // padded plane, 2·py·(Wp - OW) (+ Wp - OW more when it lies in the window's second row). With
  // them the windows are checked and listed L at a time over the whole plane, not row by row.
  int32_t* top = reinterpret_cast<int32_t*>(sums + FN);
  int32_t* col = top + P;
  int32_t* base = col + P;
  for (int64_t py = 0, i = 0; py < POH; ++py) {
    for (int64_t px = 0; px < POW; ++px, ++i) {
      top[i] = static_cast<int32_t>(2 * py * OW);
      col[i] = static_cast<int32_t>(px);
      base[i] = static_cast<int32_t>(2 * py * (p.Wp - OW));
    }
  }
  // Each window's gradient (zero where nothing passes: as MaxPoolPlaneBackward, a Relu passes
  // nothing where the pooled output is <= 0, NaN passes) and its winner's offset in the padded
  // plane; every winner must lie in its window, one of its two rows and two columns.
  vi bad = vi{};
  int32_t bad1 = 0;
  for (int64_t f = 0; f < FN; ++f) {
    const int64_t o = (n * FN + f) * P;
    const float* dp = pg.dpooled + o;
    const float* pooled = pg.pooled + o;
    const int32_t* a = pg.argmax + o;
    float* g = gs + f * P;
    int32_t* at = ats + f * P;
    vf sv = vf{};
    int64_t i = 0;
    for (; i + L <= P; i += L) {
      const vi av = LoadI(a + i);
      const vi rel = av - LoadI(top + i);
      const vi low = rel >= iOW;
      bad |= (rel < 0) | (rel >= 2 * iOW) | (((rel - (low & iOW)) >> 1) != LoadI(col + i));
      StoreI(at + i, av + LoadI(base + i) + (low & (iWp - iOW)));
      vi gv = reinterpret_cast<vi>(Load(dp + i));
      if (pg.relu) gv &= ~(Load(pooled + i) <= 0.0f);
      const vf gf = reinterpret_cast<vf>(gv);
      Store(g + i, gf);
      sv += gf;
    }
    float s = 0.0f;
    for (; i < P; ++i) {
      const int32_t rel = a[i] - top[i], low = rel >= iOW ? 1 : 0;
      bad1 |= (rel < 0) | (rel >= 2 * iOW) | (((rel - low * iOW) >> 1) != col[i]);
      at[i] = a[i] + base[i] + low * (iWp - iOW);
      const float gi = pg.relu && pooled[i] <= 0.0f ? 0.0f : dp[i];
      g[i] = gi;
      s += gi;
    }
    float t = 0.0f;
    for (int j = 0; j < L; ++j) t += sv[j];
    sums[f] = t + s;
  }
  for (int j = 0; j < L; ++j) bad1 |= bad[j];
  if (bad1 != 0) return false;
  for (int64_t f = 0; f < FN; ++f) db[f] += sums[f];
  const int64_t R = p.T / p.FW, FWr = (p.FW + L - 1) / L * L;
  for (int64_t f = 0; f < FN; ++f) {
    float* pv_f = pv + f * p.Tr * L;
    const float* g = gs + f * P;
    const int32_t* at = ats + f * P;
    if (FWr == L && R == 5) {
      WinnerRows<5>(p, xp, g, at, P, pv_f);
    } else if (FWr == L && R == 3) {
      WinnerRows<3>(p, xp, g, at, P, pv_f);
    } else {
      WinnerRowsAny(p, xp, g, at, P, R, FWr, q, pv_f);
    }
  }
  return true;
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

#if BLASNET_DIRECT_LANES == 4
#define BLASNET_EVENS(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6)
#define BLASNET_ODDS(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7)
#elif BLASNET_DIRECT_LANES == 8
#define BLASNET_EVENS(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14)
#define BLASNET_ODDS(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15)
#else
#define BLASNET_EVENS(a, b) \
  __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define BLASNET_ODDS(a, b) \
  __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)
#endif

// Compact, the Relu (when relu) and a 2x2, stride-2 max pooling in one pass over the wide
// outputs, for even OH and OW: sample's pooled planes (FN x OH/2·OW/2) and the winners' plane
// indices h·OW + w, the same bits as Compact, ReluRange and MaxPoolPlane one after the other:
// v + b, then max(0, v) with NaN passing, each window scanned in (row, column) order, the first
// maximum winning and a NaN winning over numbers. L pooled outputs per step from 2L wide
// outputs of each of the window's two rows, split into even and odd columns; yw needs 2L floats
// of slack after its end, which a row's last step may read. The lanes of a row's last step past
// its end are stored only where later rows overwrite them, never past the sample's planes.
void CompactPool2x2(const DirectPlan& p, int64_t FN, int64_t OH, int64_t OW, const float* yw,
                    const float* b, bool relu, float* pooled, int32_t* argmax) {
  const int64_t POH = OH / 2, POW = OW / 2, P = POH * POW;
  const int32_t iOW = static_cast<int32_t>(OW);
  vi iota;
  for (int j = 0; j < L; ++j) iota[j] = 2 * j;
  for (int64_t f = 0; f < FN; ++f) {
    const float bf = b[f];
    for (int64_t ph = 0; ph < POH; ++ph) {
      const float* r0 = yw + f * p.Qr + 2 * ph * p.Wp;
      const float* r1 = r0 + p.Wp;
      float* po = pooled + f * P + ph * POW;
      int32_t* ao = argmax + f * P + ph * POW;
      const int32_t top = static_cast<int32_t>(2 * ph * OW);
      for (int64_t pw = 0; pw < POW; pw += L) {
        const vf a0 = Load(r0 + 2 * pw), a1 = Load(r0 + 2 * pw + L);
        const vf c0 = Load(r1 + 2 * pw), c1 = Load(r1 + 2 * pw + L);
        vf v[4] = {BLASNET_EVENS(a0, a1) + bf, BLASNET_ODDS(a0, a1) + bf,
                   BLASNET_EVENS(c0, c1) + bf, BLASNET_ODDS(c0, c1) + bf};
        if (relu) {
          for (int k = 0; k < 4; ++k) v[k] = v[k] <= 0 ? vf{} : v[k];
        }
        const vi at0 = iota + (top + 2 * static_cast<int32_t>(pw));
        vf best = v[0];
        vi at = at0;
        for (int k = 1; k < 4; ++k) {
          const vi take = (v[k] > best) | ((v[k] != v[k]) & (best == best));
          best = take ? v[k] : best;
          at = take ? at0 + ((k / 2) * iOW + (k % 2)) : at;
        }
        // A row's last vector is stored whole while it stays inside the sample's planes: what it
        // writes past the row's end lands in the rows after it, which are written later.
        if (pw + L <= POW || (po + pw + L) - pooled <= FN * P) {
          Store(po + pw, best);
          StoreI(ao + pw, at);
        } else {
          for (int64_t j = 0; j < POW - pw; ++j) po[pw + j] = best[j], ao[pw + j] = at[j];
        }
      }
    }
  }
}
#undef BLASNET_EVENS
#undef BLASNET_ODDS

// The forward half (wide positions) and the backward half (rows) of this level's kernels.
constexpr ForwardKernels kForward = {kF, kV* L, Forward, Compact, CompactPool2x2};
constexpr BackwardKernels kBackward = {
    L, kG, kT, BackwardWeights, LaneSums, GradSums, PooledBackward};
