// SPDX-License-Identifier: MIT
// native/activations.cc: relu, sigmoid (its own vectorised exp) and tanh, forward and backward,
// and the course's softmax, against double-precision formulas; special values; thread counts.
#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <limits>
#include <string>

#include "activations.h"
#include "check.h"
#include "reference.h"

namespace {

using ref::DVec;
using ref::Vec;

// Random values over several scales plus the special ones.
Vec Inputs(size_t n, uint64_t seed) {
  ref::Rng rng(seed);
  Vec x = rng.Fill(n, -10.0f, 10.0f);
  const float specials[] = {0.0f,
                            -0.0f,
                            1e-30f,
                            -1e-30f,
                            1e-40f,
                            -1e-40f,
                            87.0f,
                            -87.0f,
                            88.7f,
                            -88.7f,
                            89.0f,
                            -89.0f,
                            100.0f,
                            -100.0f,
                            1e30f,
                            -1e30f,
                            FLT_MAX,
                            -FLT_MAX,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN()};
  size_t i = 0;
  for (float s : specials) x[i++] = s;
  for (; i < n / 2; ++i) x[i] = rng.Uniform(-100.0f, 100.0f);
  return x;
}

}  // namespace

TEST_CASE(activations, relu_forward_and_backward) {
  const Vec x = Inputs(5000, 1);
  ref::Rng rng(2);
  const Vec dout = rng.Fill(x.size());
  Vec out(x.size(), 7.0f), dx(x.size(), 7.0f), want(x.size()), want_dx(x.size());
  blasnet::ReluForward(x.data(), out.data(), static_cast<int64_t>(x.size()));
  blasnet::ReluBackward(x.data(), dout.data(), dx.data(), static_cast<int64_t>(x.size()));
  // The course's mask (x <= 0): zero there, the value (or the gradient) elsewhere; a NaN is
  // not <= 0, so it passes.
  for (size_t i = 0; i < x.size(); ++i) {
    want[i] = x[i] <= 0.0f ? 0.0f : x[i];
    want_dx[i] = x[i] <= 0.0f ? 0.0f : dout[i];
  }
  CHECK_SAME_BITS("relu", out.data(), want.data(), x.size());
  CHECK_SAME_BITS("relu backward", dx.data(), want_dx.data(), x.size());
  // In place, as the fused convolution uses it.
  Vec inplace = x;
  blasnet::ReluRange(inplace.data(), inplace.data(), static_cast<int64_t>(x.size()));
  CHECK_SAME_BITS("relu in place", inplace.data(), want.data(), x.size());
}

TEST_CASE(activations, sigmoid_within_a_few_ulp) {
  const Vec x = Inputs(20000, 3);
  Vec out(x.size(), 7.0f);
  blasnet::SigmoidForward(x.data(), out.data(), static_cast<int64_t>(x.size()));
  DVec want(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    want[i] = 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])));
  // Relative: a few units of rounding; absolute: results below FLT_MIN (x < -87) may flush.
  CHECK_NEAR_ABS("sigmoid", out.data(), want.data(), x.size(), 4 * FLT_EPSILON, 1e-37);
  // Exactly 1 far right, 0 at -inf, 0.5 at zero.
  CHECK_EQ(out[18], 1.0f);
  CHECK_EQ(out[19], 0.0f);
  CHECK_EQ(out[0], 0.5f);
  CHECK(std::isnan(out[20]));

  ref::Rng rng(4);
  const Vec o = rng.Fill(x.size(), 0.0f, 1.0f), dout = rng.Fill(x.size());
  Vec dx(x.size());
  blasnet::SigmoidBackward(o.data(), dout.data(), dx.data(), static_cast<int64_t>(x.size()));
  DVec wdx(x.size());
  for (size_t i = 0; i < x.size(); ++i) wdx[i] = static_cast<double>(dout[i]) * (1.0 - o[i]) * o[i];
  CHECK_NEAR_ABS("sigmoid backward", dx.data(), wdx.data(), x.size(), 2 * FLT_EPSILON, 1e-37);
}

TEST_CASE(activations, tanh_forward_and_backward) {
  const Vec x = Inputs(20000, 5);
  Vec out(x.size());
  blasnet::TanhForward(x.data(), out.data(), static_cast<int64_t>(x.size()));
  DVec want(x.size());
  for (size_t i = 0; i < x.size(); ++i) want[i] = std::tanh(static_cast<double>(x[i]));
  CHECK_NEAR_ABS("tanh", out.data(), want.data(), x.size(), 2 * FLT_EPSILON, 1e-40);

  ref::Rng rng(6);
  const Vec o = rng.Fill(x.size()), dout = rng.Fill(x.size());
  Vec dx(x.size());
  blasnet::TanhBackward(o.data(), dout.data(), dx.data(), static_cast<int64_t>(x.size()));
  DVec wdx(x.size()), scale(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double oi = o[i];
    wdx[i] = dout[i] * (1.0 - oi * oi);
    scale[i] = std::fabs(static_cast<double>(dout[i])) * (1.0 + oi * oi);
  }
  CHECK_NEAR_ARR("tanh backward", dx.data(), wdx.data(), scale.data(), x.size(), 2 * FLT_EPSILON,
                 0);
}

TEST_CASE(activations, softmax_rows_in_double) {
  for (const auto& shape : {std::array<int64_t, 2>{1, 1}, {3, 10}, {7, 1}, {100, 10}, {2, 1000}}) {
    const int64_t rows = shape[0], cols = shape[1];
    ref::Rng rng(rows * 31 + cols);
    Vec x = rng.Fill(rows * cols, -20.0f, 20.0f);
    // Large logits: shifted by the row's maximum, exp never overflows.
    if (rows > 1) {
      for (int64_t c = 0; c < cols; ++c) x[cols + c] += 5000.0f;
    }
    DVec want(x.size());
    for (int64_t r = 0; r < rows; ++r) {
      double m = x[r * cols];
      for (int64_t c = 0; c < cols; ++c) m = std::max(m, static_cast<double>(x[r * cols + c]));
      double sum = 0;
      for (int64_t c = 0; c < cols; ++c) sum += std::exp(x[r * cols + c] - m);
      for (int64_t c = 0; c < cols; ++c) want[r * cols + c] = std::exp(x[r * cols + c] - m) / sum;
    }
    Vec out(x.size(), 7.0f);
    blasnet::SoftmaxArgs a{};
    a.x = ref::Arg(x), a.out = ref::Arg(out), a.rows = rows, a.cols = cols;
    blasnet::Run(a);
    const std::string what = "softmax " + std::to_string(rows) + "x" + std::to_string(cols);
    CHECK_NEAR_ABS(what, out.data(), want.data(), out.size(), 2 * FLT_EPSILON, 1e-44);
    // In place (out = x): the same values.
    a.out = ref::Arg(x);
    blasnet::Run(a);
    CHECK_SAME_BITS(what + " in place", x.data(), out.data(), out.size());
  }
}

TEST_CASE(activations, same_bits_at_every_thread_count) {
  // Long enough to be split; an odd length so that chunks end anywhere.
  const size_t n = 1500001;
  const Vec x = Inputs(n, 7);
  ref::Rng rng(8);
  const Vec dout = rng.Fill(n);
  Vec first[5];
  for (int threads = 1; threads <= 8; ++threads) {
    ref::Threads t(threads);
    Vec r[5] = {Vec(n), Vec(n), Vec(n), Vec(n), Vec(n)};
    const int64_t len = static_cast<int64_t>(n);
    blasnet::ReluForward(x.data(), r[0].data(), len);
    blasnet::ReluBackward(x.data(), dout.data(), r[1].data(), len);
    blasnet::SigmoidForward(x.data(), r[2].data(), len);
    blasnet::TanhForward(x.data(), r[3].data(), len);
    blasnet::SoftmaxArgs a{};
    Vec xs = x;
    for (auto& v : xs) v = std::isfinite(v) ? v : 0.0f;
    a.x = ref::Arg(xs), a.out = ref::Arg(r[4]), a.rows = 1001, a.cols = 1498;
    blasnet::Run(a);
    if (threads == 1) {
      // The whole range written, not only the chunks of one thread.
      for (size_t i = 0; i < n; ++i) {
        if (!(x[i] <= 0.0f) && !std::isnan(x[i]) && r[0][i] != x[i]) {
          CHECK_MSG(false, "relu left [" << i << "] unwritten");
          break;
        }
      }
      for (int k = 0; k < 5; ++k) first[k] = r[k];
      continue;
    }
    const char* names[] = {"relu", "relu backward", "sigmoid", "tanh", "softmax"};
    for (int k = 0; k < 5; ++k) {
      CHECK_SAME_BITS(std::string(names[k]) + " at " + std::to_string(threads) + " threads",
                      r[k].data(), first[k].data(), n);
    }
  }
}
