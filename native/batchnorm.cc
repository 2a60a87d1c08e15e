// SPDX-License-Identifier: MIT
#include "batchnorm.h"

#include <cmath>

#include "generated/contract.h"
#include "isa.h"
#include "scratch.h"
#include "threads.h"

namespace blasnet {

namespace {

// The loops run along rows (j inner), so that they vectorise over the D columns; the sums are
// per column in double, as before.
BLASNET_INLINE void ForwardImpl(const float* x, const float* gamma, const float* beta,
                                float* run_mean, float* run_var, float* xc, float* xn, float* std,
                                float* out, int64_t N, int64_t D, double momentum, double eps,
                                bool train, double* mean, double* var) {
  if (train) {
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

BLASNET_INLINE void BackwardImpl(const float* dout, const float* gamma, const float* xc,
                                 const float* xn, const float* std, float* dgamma, float* dbeta,
                                 float* dx, int64_t N, int64_t D, bool train, double* sum_d,
                                 double* sum_dxc, double* sum_dg, double* dvar, double* dmu) {
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

// The test-mode forward with the Relu and the test-mode Dropout scale after it, in one pass over
// rows [r0, r1): each element goes through the arithmetic of the three layers' own loops (the
// same float operations in the same order, so the same bits), without writing xc, xn or the
// intermediate outputs.
BLASNET_INLINE void InferImpl(const float* x, const float* gamma, const float* beta,
                              const float* run_mean, const float* std, float* out, int64_t r0,
                              int64_t r1, int64_t D, bool relu, float scale, bool scaled) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * D;
    float* orow = out + r * D;
    for (int64_t j = 0; j < D; ++j) {
      const float c = xr[j] - run_mean[j];
      const float v = c / std[j];
      float y = gamma[j] * v + beta[j];
      if (relu) y = y <= 0.0f ? 0.0f : y;
      orow[j] = scaled ? y * scale : y;
    }
  }
}

BLASNET_MULTIVERSION(ForwardLoops, ForwardImpl, BLASNET_TARGET_AVX512)
BLASNET_MULTIVERSION(InferLoops, InferImpl, BLASNET_TARGET_AVX512)
BLASNET_MULTIVERSION(BackwardLoops, BackwardImpl, BLASNET_TARGET_AVX512)

}  // namespace

void BatchNormForward(const float* x, const float* gamma, const float* beta, float* run_mean,
                      float* run_var, float* xc, float* xn, float* std, float* out, int64_t N,
                      int64_t D, double momentum, double eps, bool train) {
  thread_local Scratch<double> mean_buf, var_buf;
  double* mean = mean_buf.Get(D);
  double* var = var_buf.Get(D);
  ForwardLoops(x, gamma, beta, run_mean, run_var, xc, xn, std, out, N, D, momentum, eps, train,
               mean, var);
}

void BatchNormInfer(const float* x, const float* gamma, const float* beta, const float* run_mean,
                    const float* run_var, float* out, int64_t N, int64_t D, double eps, bool relu,
                    double scale) {
  thread_local Scratch<float> std_buf;
  float* std = std_buf.Get(D);
  for (int64_t j = 0; j < D; ++j) std[j] = static_cast<float>(std::sqrt(run_var[j] + eps));
  const float s = static_cast<float>(scale);
  const bool scaled = s != 1.0f;
  ParallelFor(N, N * D, [&](int64_t r0, int64_t r1) {
    InferLoops(x, gamma, beta, run_mean, std, out, r0, r1, D, relu, s, scaled);
  });
}

void BatchNormBackward(const float* dout, const float* gamma, const float* xc, const float* xn,
                       const float* std, float* dgamma, float* dbeta, float* dx, int64_t N,
                       int64_t D, bool train) {
  thread_local Scratch<double> sum_d_buf, sum_dxc_buf, sum_dg_buf, dvar_buf, dmu_buf;
  BackwardLoops(dout, gamma, xc, xn, std, dgamma, dbeta, dx, N, D, train, sum_d_buf.Get(D),
                sum_dxc_buf.Get(D), sum_dg_buf.Get(D), dvar_buf.Get(D), dmu_buf.Get(D));
}

// ---- Bindings: batchNormForward, batchNormBackward (lib/core/contract.ts) ----

void Run(const BatchNormForwardArgs& a) {
  BatchNormForward(a.x.data, a.gamma.data, a.beta.data, a.runMean.data, a.runVar.data, a.xc.data,
                   a.xn.data, a.std_.data, a.out.data, a.N, a.D, a.momentum, a.eps, a.train);
}

void Run(const BatchNormInferArgs& a) {
  BatchNormInfer(a.x.data, a.gamma.data, a.beta.data, a.runMean.data, a.runVar.data, a.out.data,
                 a.N, a.D, a.eps, a.relu, a.scale);
}

void Run(const BatchNormBackwardArgs& a) {
  BatchNormBackward(a.dout.data, a.gamma.data, a.xc.data, a.xn.data, a.std_.data, a.dgamma.data,
                    a.dbeta.data, a.dx.data, a.N, a.D, a.train);
}

}  // namespace blasnet
