// SPDX-License-Identifier: MIT
// native/batchnorm.cc: the course's BatchNormalization (common/layers.py), forward in training
// and test mode with the running statistics, and backward, against its formulas in double.
#include <array>
#include <cfloat>
#include <cmath>
#include <string>

#include "batchnorm.h"
#include "check.h"
#include "reference.h"

namespace {

using ref::DVec;
using ref::Vec;

struct Forward {
  Vec x, gamma, beta, run_mean, run_var, xc, xn, std, out;
};

Forward RunForward(int64_t N, int64_t D, bool train, uint64_t seed, double momentum, double eps) {
  ref::Rng rng(seed);
  Forward f;
  f.x = rng.Fill(N * D, -3.0f, 5.0f);
  f.gamma = rng.Fill(D, 0.5f, 2.0f);
  f.beta = rng.Fill(D);
  f.run_mean = rng.Fill(D);
  f.run_var = rng.Fill(D, 0.1f, 2.0f);
  f.xc.assign(N * D, 7.0f), f.xn.assign(N * D, 7.0f), f.std.assign(D, 7.0f);
  f.out.assign(N * D, 7.0f);
  blasnet::BatchNormForwardArgs a{};
  a.x = ref::Arg(f.x), a.gamma = ref::Arg(f.gamma), a.beta = ref::Arg(f.beta);
  a.runMean = ref::Arg(f.run_mean), a.runVar = ref::Arg(f.run_var), a.xc = ref::Arg(f.xc);
  a.xn = ref::Arg(f.xn), a.std_ = ref::Arg(f.std), a.out = ref::Arg(f.out);
  a.N = N, a.D = D, a.momentum = momentum, a.eps = eps, a.train = train;
  blasnet::Run(a);
  return f;
}

}  // namespace

TEST_CASE(batchnorm, forward_in_training) {
  const double momentum = 0.9, eps = 1e-6;
  for (const auto& s : {std::array<int64_t, 2>{1, 1}, {4, 3}, {100, 50}, {3, 257}}) {
    const int64_t N = s[0], D = s[1];
    const Forward f = RunForward(N, D, true, N * 100 + D, momentum, eps);
    // The running statistics before the call, drawn the same way.
    ref::Rng r(N * 100 + D);
    r.Fill(N * D, -3.0f, 5.0f), r.Fill(D, 0.5f, 2.0f), r.Fill(D);
    const Vec run_mean0 = r.Fill(D), run_var0 = r.Fill(D, 0.1f, 2.0f);
    DVec mu(D), var(D), xc(N * D), xcs(N * D), xn(N * D), out(N * D), outs(N * D), stdv(D);
    DVec rmean(D), rvar(D);
    for (int64_t j = 0; j < D; ++j) {
      for (int64_t n = 0; n < N; ++n) mu[j] += f.x[n * D + j];
      mu[j] /= static_cast<double>(N);
      for (int64_t n = 0; n < N; ++n) var[j] += (f.x[n * D + j] - mu[j]) * (f.x[n * D + j] - mu[j]);
      var[j] /= static_cast<double>(N);
      stdv[j] = std::sqrt(var[j] + eps);
      rmean[j] = momentum * run_mean0[j] + (1 - momentum) * mu[j];
      rvar[j] = momentum * run_var0[j] + (1 - momentum) * var[j];
      for (int64_t n = 0; n < N; ++n) {
        const int64_t i = n * D + j;
        xc[i] = f.x[i] - mu[j];
        xcs[i] = std::fabs(f.x[i]) + std::fabs(mu[j]);
        xn[i] = xc[i] / stdv[j];
        out[i] = f.gamma[j] * xn[i] + f.beta[j];
        outs[i] = std::fabs(f.gamma[j] * xn[i]) + std::fabs(f.beta[j]);
      }
    }
    const std::string at = " (" + std::to_string(N) + ", " + std::to_string(D) + ")";
    CHECK_NEAR_ARR("xc" + at, f.xc.data(), xc.data(), xcs.data(), xc.size(), FLT_EPSILON, 0);
    CHECK_NEAR_ABS("std" + at, f.std.data(), stdv.data(), D, FLT_EPSILON, 0);
    // xn = xc / std: the roundings of xc, std and the division. With N = 1 every xc is 0.
    CHECK_NEAR_ABS("xn" + at, f.xn.data(), xn.data(), xn.size(), 4 * FLT_EPSILON, 1e-6);
    CHECK_NEAR_ARR("out" + at, f.out.data(), out.data(), outs.data(), out.size(), 6 * FLT_EPSILON,
                   1e-6);
    CHECK_NEAR_ABS("running mean" + at, f.run_mean.data(), rmean.data(), D, FLT_EPSILON, 1e-7);
    CHECK_NEAR_ABS("running var" + at, f.run_var.data(), rvar.data(), D, FLT_EPSILON, 1e-7);
  }
}

TEST_CASE(batchnorm, forward_in_test_mode_uses_the_running_statistics) {
  const int64_t N = 7, D = 5;
  const Forward f = RunForward(N, D, false, 42, 0.9, 1e-6);
  ref::Rng r(42);
  r.Fill(N * D, -3.0f, 5.0f), r.Fill(D, 0.5f, 2.0f), r.Fill(D);
  const Vec run_mean0 = r.Fill(D), run_var0 = r.Fill(D, 0.1f, 2.0f);
  // Unchanged in test mode.
  CHECK_SAME_BITS("running mean", f.run_mean.data(), run_mean0.data(), D);
  CHECK_SAME_BITS("running var", f.run_var.data(), run_var0.data(), D);
  DVec out(N * D);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t j = 0; j < D; ++j) {
      const double xn = (f.x[n * D + j] - run_mean0[j]) / std::sqrt(run_var0[j] + 1e-6);
      out[n * D + j] = f.gamma[j] * xn + f.beta[j];
    }
  }
  CHECK_NEAR_ABS("test-mode out", f.out.data(), out.data(), out.size(), 8 * FLT_EPSILON, 1e-6);
}

TEST_CASE(batchnorm, backward_as_the_course_writes_it) {
  for (const auto& s : {std::array<int64_t, 2>{2, 1}, {4, 3}, {100, 50}, {3, 257}}) {
    const int64_t N = s[0], D = s[1];
    for (bool train : {true, false}) {
      const Forward f = RunForward(N, D, train, N * 7 + D, 0.9, 1e-6);
      ref::Rng rng(N + D * 13);
      Vec dout = rng.Fill(N * D);
      Vec dgamma(D, 7.0f), dbeta(D, 7.0f), dx(N * D, 7.0f);
      Vec gamma = f.gamma, xc = f.xc, xn = f.xn, stdv = f.std;
      blasnet::BatchNormBackwardArgs a{};
      a.dout = ref::Arg(dout), a.gamma = ref::Arg(gamma), a.xc = ref::Arg(xc);
      a.xn = ref::Arg(xn), a.std_ = ref::Arg(stdv), a.dgamma = ref::Arg(dgamma);
      a.dbeta = ref::Arg(dbeta), a.dx = ref::Arg(dx), a.N = N, a.D = D, a.train = train;
      blasnet::Run(a);

      DVec rdbeta(D), sdbeta(D), rdgamma(D), sdgamma(D), rdx(N * D), sdx(N * D);
      for (int64_t j = 0; j < D; ++j) {
        double dstd = 0, dstd_abs = 0;
        for (int64_t n = 0; n < N; ++n) {
          const int64_t i = n * D + j;
          rdbeta[j] += dout[i], sdbeta[j] += std::fabs(dout[i]);
          rdgamma[j] += static_cast<double>(xn[i]) * dout[i];
          sdgamma[j] += std::fabs(static_cast<double>(xn[i]) * dout[i]);
          const double dxn = static_cast<double>(gamma[j]) * dout[i];
          dstd -= dxn * xc[i] / (static_cast<double>(stdv[j]) * stdv[j]);
          dstd_abs += std::fabs(dxn * xc[i] / (static_cast<double>(stdv[j]) * stdv[j]));
        }
        const double dvar = 0.5 * dstd / stdv[j];
        DVec dxc(N), dxc_abs(N);
        double dmu = 0, dmu_abs = 0;
        for (int64_t n = 0; n < N; ++n) {
          const int64_t i = n * D + j;
          const double dxn = static_cast<double>(gamma[j]) * dout[i];
          dxc[n] = dxn / stdv[j];
          dxc_abs[n] = std::fabs(dxc[n]);
          if (train) {
            dxc[n] += (2.0 / static_cast<double>(N)) * xc[i] * dvar;
            dxc_abs[n] +=
                std::fabs((2.0 / static_cast<double>(N)) * xc[i]) * 0.5 * dstd_abs / stdv[j];
          }
          dmu += dxc[n], dmu_abs += dxc_abs[n];
        }
        for (int64_t n = 0; n < N; ++n) {
          const int64_t i = n * D + j;
          rdx[i] = train ? dxc[n] - dmu / static_cast<double>(N) : dxc[n];
          sdx[i] = dxc_abs[n] + (train ? dmu_abs / static_cast<double>(N) : 0.0);
        }
      }
      const std::string at = std::string(train ? " train" : " test") + " (" + std::to_string(N) +
                             ", " + std::to_string(D) + ")";
      CHECK_NEAR_ARR("dbeta" + at, dbeta.data(), rdbeta.data(), sdbeta.data(), D, 2 * FLT_EPSILON,
                     0);
      CHECK_NEAR_ARR("dgamma" + at, dgamma.data(), rdgamma.data(), sdgamma.data(), D,
                     2 * FLT_EPSILON, 0);
      CHECK_NEAR_ARR("dx" + at, dx.data(), rdx.data(), sdx.data(), dx.size(), 8 * FLT_EPSILON,
                     1e-30);
    }
  }
}
