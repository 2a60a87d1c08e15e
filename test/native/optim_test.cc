// SPDX-License-Identifier: MIT
// native/optim.cc: one step of each of the course's optimizers (common/optimizer.py), through
// the bindings' named hyper-parameters, against the formulas in double with the state kept in
// float between steps; several steps in a row; the same bits at any thread count.
#include <cfloat>
#include <cmath>
#include <functional>
#include <string>

#include "check.h"
#include "optim.h"
#include "reference.h"

namespace {

using ref::DVec;
using ref::Vec;

// State of one parameter array: p and up to two state arrays (v, h, m).
struct State {
  Vec p, s1, s2;
};

// One reference step on element i: writes the new p, s1, s2 (in double) and a scale for p's
// tolerance (the magnitudes the update adds).
using RefStep = std::function<void(double p, double g, double s1, double s2, double* np,
                                   double* ns1, double* ns2, double* scale)>;
// One kernel step through its binding.
using KernelStep = std::function<void(State*, Vec*)>;

void CheckSteps(const std::string& name, const KernelStep& kernel, const RefStep& reference,
                int states) {
  const size_t n = 3001;
  ref::Rng rng(std::hash<std::string>{}(name));
  State st{rng.Fill(n), Vec(n, 0.0f), Vec(n, 0.0f)};
  for (int step = 0; step < 5; ++step) {
    Vec g = rng.Fill(n, -2.0f, 2.0f);
    if (step == 0) g[0] = 0.0f;  // a zero gradient: AdaGrad's h stays 0, eps keeps it finite
    const State before = st;
    kernel(&st, &g);
    DVec p(n), s1(n), s2(n), scale(n), s1scale(n), s2scale(n);
    for (size_t i = 0; i < n; ++i) {
      reference(before.p[i], g[i], before.s1[i], before.s2[i], &p[i], &s1[i], &s2[i], &scale[i]);
      s1scale[i] = std::fabs(s1[i]) + std::fabs(before.s1[i]) + std::fabs(g[i] * g[i]);
      s2scale[i] = std::fabs(s2[i]) + std::fabs(before.s2[i]) + std::fabs(g[i] * g[i]);
    }
    // Stored to float once: within a unit or two of rounding of the magnitudes involved.
    const std::string what = name + " step " + std::to_string(step + 1);
    CHECK_NEAR_ARR(what + " p", st.p.data(), p.data(), scale.data(), n, 2 * FLT_EPSILON, 1e-30);
    if (states >= 1) {
      CHECK_NEAR_ARR(what + " state 1", st.s1.data(), s1.data(), s1scale.data(), n, 2 * FLT_EPSILON,
                     1e-30);
    }
    if (states >= 2) {
      CHECK_NEAR_ARR(what + " state 2", st.s2.data(), s2.data(), s2scale.data(), n, 2 * FLT_EPSILON,
                     1e-30);
    }
  }
}

}  // namespace

TEST_CASE(optim, sgd) {
  const double lr = 0.1;
  CheckSteps(
      "sgd",
      [&](State* s, Vec* g) {
        blasnet::SgdStepArgs a{};
        a.p = ref::Arg(s->p), a.g = ref::Arg(*g), a.lr = lr;
        blasnet::Run(a);
      },
      [&](double p, double g, double, double, double* np, double*, double*, double* scale) {
        *np = p - lr * g;
        *scale = std::fabs(p) + std::fabs(lr * g);
      },
      0);
}

TEST_CASE(optim, momentum) {
  const double lr = 0.05, momentum = 0.9;
  CheckSteps(
      "momentum",
      [&](State* s, Vec* g) {
        blasnet::MomentumStepArgs a{};
        a.p = ref::Arg(s->p), a.g = ref::Arg(*g), a.v = ref::Arg(s->s1), a.lr = lr;
        a.momentum = momentum;
        blasnet::Run(a);
      },
      [&](double p, double g, double v, double, double* np, double* nv, double*, double* scale) {
        *nv = momentum * v - lr * g;
        *np = p + *nv;
        *scale = std::fabs(p) + std::fabs(momentum * v) + std::fabs(lr * g);
      },
      1);
}

TEST_CASE(optim, nesterov_with_the_velocity_before_the_step) {
  const double lr = 0.05, m = 0.8;
  CheckSteps(
      "nesterov",
      [&](State* s, Vec* g) {
        blasnet::NesterovStepArgs a{};
        a.p = ref::Arg(s->p), a.g = ref::Arg(*g), a.v = ref::Arg(s->s1), a.lr = lr;
        a.momentum = m;
        blasnet::Run(a);
      },
      [&](double p, double g, double v, double, double* np, double* nv, double*, double* scale) {
        *np = p + m * m * v - (1 + m) * lr * g;
        *nv = m * v - lr * g;
        *scale = std::fabs(p) + std::fabs(m * m * v) + std::fabs((1 + m) * lr * g);
      },
      1);
}

TEST_CASE(optim, adagrad) {
  const double lr = 0.01, eps = 1e-7;
  CheckSteps(
      "adagrad",
      [&](State* s, Vec* g) {
        blasnet::AdaGradStepArgs a{};
        a.p = ref::Arg(s->p), a.g = ref::Arg(*g), a.h = ref::Arg(s->s1), a.lr = lr, a.eps = eps;
        blasnet::Run(a);
      },
      [&](double p, double g, double h, double, double* np, double* nh, double*, double* scale) {
        *nh = h + g * g;
        const double step = lr * g / (std::sqrt(*nh) + eps);
        *np = p - step;
        *scale = std::fabs(p) + std::fabs(step);
      },
      1);
}

TEST_CASE(optim, rmsprop) {
  const double lr = 0.01, decay = 0.99, eps = 1e-7;
  CheckSteps(
      "rmsprop",
      [&](State* s, Vec* g) {
        blasnet::RmspropStepArgs a{};
        a.p = ref::Arg(s->p), a.g = ref::Arg(*g), a.h = ref::Arg(s->s1), a.lr = lr;
        a.decayRate = decay, a.eps = eps;
        blasnet::Run(a);
      },
      [&](double p, double g, double h, double, double* np, double* nh, double*, double* scale) {
        *nh = decay * h + (1 - decay) * g * g;
        const double step = lr * g / (std::sqrt(*nh) + eps);
        *np = p - step;
        *scale = std::fabs(p) + std::fabs(step);
      },
      1);
}

TEST_CASE(optim, adam_with_the_bias_correction_in_lr_t) {
  const double lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-7;
  int t = 0;
  double lr_t = 0;
  CheckSteps(
      "adam",
      [&](State* s, Vec* g) {
        // The course's lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t), computed by the caller.
        ++t;
        lr_t = lr * std::sqrt(1.0 - std::pow(beta2, t)) / (1.0 - std::pow(beta1, t));
        blasnet::AdamStepArgs a{};
        a.p = ref::Arg(s->p), a.g = ref::Arg(*g), a.m = ref::Arg(s->s1), a.v = ref::Arg(s->s2);
        a.lrT = lr_t, a.beta1 = beta1, a.beta2 = beta2, a.eps = eps;
        blasnet::Run(a);
      },
      [&](double p, double g, double m, double v, double* np, double* nm, double* nv,
          double* scale) {
        *nm = m + (1 - beta1) * (g - m);
        *nv = v + (1 - beta2) * (g * g - v);
        const double step = lr_t * *nm / (std::sqrt(*nv) + eps);
        *np = p - step;
        *scale = std::fabs(p) + std::fabs(step);
      },
      2);
}

TEST_CASE(optim, same_bits_at_every_thread_count) {
  const size_t n = 1 << 19;
  ref::Rng rng(12);
  const Vec p0 = rng.Fill(n), g = rng.Fill(n), m0 = rng.Fill(n, 0.0f, 0.1f);
  const Vec v0 = rng.Fill(n, 0.0f, 0.1f);
  Vec first_p, first_m, first_v;
  for (int threads = 1; threads <= 8; ++threads) {
    ref::Threads t(threads);
    Vec p = p0, m = m0, v = v0;
    blasnet::AdamStep(p.data(), g.data(), m.data(), v.data(), static_cast<int64_t>(n),
                      {0.001, 0.9, 0.999, 1e-7});
    blasnet::MomentumStep(p.data(), g.data(), m.data(), static_cast<int64_t>(n), {0.01, 0.9});
    if (threads == 1) {
      first_p = p, first_m = m, first_v = v;
      continue;
    }
    const std::string at = " at " + std::to_string(threads) + " threads";
    CHECK_SAME_BITS("p" + at, p.data(), first_p.data(), n);
    CHECK_SAME_BITS("m" + at, m.data(), first_m.data(), n);
    CHECK_SAME_BITS("v" + at, v.data(), first_v.data(), n);
  }
}
