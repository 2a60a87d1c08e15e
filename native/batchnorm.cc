// SPDX-License-Identifier: MIT
#include "batchnorm.h"

#include <cmath>
#include <vector>

namespace blasnet {
namespace {

double* Scratch(std::vector<double>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(n);
  return v.data();
}

}  // namespace

void BatchNormForward(const float* x, const float* gamma, const float* beta, float* run_mean,
                      float* run_var, float* xc, float* xn, float* std, float* out, int64_t N,
                      int64_t D, double momentum, double eps, bool train) {
  thread_local std::vector<double> mean_buf, var_buf;
  double* mean = Scratch(mean_buf, D);
  if (train) {
    double* var = Scratch(var_buf, D);
    for (int64_t j = 0; j < D; ++j) mean[j] = 0.0;
    for (int64_t r = 0; r < N; ++r) {
      const float* xr = x + r * D;
      for (int64_t j = 0; j < D; ++j) mean[j] += xr[j];
    }
    for (int64_t j = 0; j < D; ++j) {
      mean[j] /= static_cast<double>(N);
      var[j] = 0.0;
    }
    for (int64_t r = 0; r < N; ++r) {
      const float* xr = x + r * D;
      float* cr = xc + r * D;
      for (int64_t j = 0; j < D; ++j) {
        const double v = xr[j] - mean[j];
        cr[j] = static_cast<float>(v);
        var[j] += v * v;
      }
    }
    for (int64_t j = 0; j < D; ++j) {
      const double variance = var[j] / static_cast<double>(N);
      run_mean[j] = static_cast<float>(momentum * run_mean[j] + (1 - momentum) * mean[j]);
      run_var[j] = static_cast<float>(momentum * run_var[j] + (1 - momentum) * variance);
      std[j] = static_cast<float>(std::sqrt(variance + eps));
    }
  } else {
    for (int64_t j = 0; j < D; ++j) std[j] = static_cast<float>(std::sqrt(run_var[j] + eps));
    for (int64_t r = 0; r < N; ++r) {
      const float* xr = x + r * D;
      float* cr = xc + r * D;
      for (int64_t j = 0; j < D; ++j) cr[j] = xr[j] - run_mean[j];
    }
  }
  for (int64_t r = 0; r < N; ++r) {
    const float* cr = xc + r * D;
    float* nr = xn + r * D;
    float* orow = out + r * D;
    for (int64_t j = 0; j < D; ++j) {
      const float v = cr[j] / std[j];
      nr[j] = v;
      orow[j] = gamma[j] * v + beta[j];
    }
  }
}

void BatchNormBackward(const float* dout, const float* gamma, const float* xc, const float* xn,
                       const float* std, float* dgamma, float* dbeta, float* dx, int64_t N,
                       int64_t D, bool train) {
  thread_local std::vector<double> sum_d_buf, sum_dxc_buf, sum_dg_buf, dvar_buf, dmu_buf;
  double* sum_d = Scratch(sum_d_buf, D);
  double* sum_dxc = Scratch(sum_dxc_buf, D);
  double* sum_dg = Scratch(sum_dg_buf, D);
  for (int64_t j = 0; j < D; ++j) sum_d[j] = sum_dxc[j] = sum_dg[j] = 0.0;
  for (int64_t r = 0; r < N; ++r) {
    const float* dr = dout + r * D;
    const float* cr = xc + r * D;
    const float* nr = xn + r * D;
    for (int64_t j = 0; j < D; ++j) {
      sum_d[j] += dr[j];
      sum_dg[j] += static_cast<double>(nr[j]) * dr[j];
      sum_dxc[j] += static_cast<double>(dr[j]) * cr[j];
    }
  }
  for (int64_t j = 0; j < D; ++j) {
    dbeta[j] = static_cast<float>(sum_d[j]);
    dgamma[j] = static_cast<float>(sum_dg[j]);
  }
  if (!train) {
    for (int64_t r = 0; r < N; ++r) {
      const float* dr = dout + r * D;
      float* gr = dx + r * D;
      for (int64_t j = 0; j < D; ++j) gr[j] = gamma[j] * dr[j] / std[j];
    }
    return;
  }
  // dxc = gamma*dout/std + (2/N) xc dvar with dvar = -0.5 gamma sum(dout*xc) / std^3;
  // dx = dxc - mean over the batch of dxc.
  double* dvar = Scratch(dvar_buf, D);
  double* dmu = Scratch(dmu_buf, D);
  for (int64_t j = 0; j < D; ++j) {
    const double s = std[j];
    dvar[j] = (2.0 / static_cast<double>(N)) * (-0.5 * gamma[j] * sum_dxc[j] / (s * s * s));
    dmu[j] = 0.0;
  }
  for (int64_t r = 0; r < N; ++r) {
    const float* dr = dout + r * D;
    const float* cr = xc + r * D;
    float* gr = dx + r * D;
    for (int64_t j = 0; j < D; ++j) {
      const double v = static_cast<double>(gamma[j]) * dr[j] / std[j] + dvar[j] * cr[j];
      gr[j] = static_cast<float>(v);
      dmu[j] += v;
    }
  }
  for (int64_t j = 0; j < D; ++j) dmu[j] /= static_cast<double>(N);
  for (int64_t r = 0; r < N; ++r) {
    float* gr = dx + r * D;
    for (int64_t j = 0; j < D; ++j) gr[j] = static_cast<float>(gr[j] - dmu[j]);
  }
}

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

}  // namespace blasnet
