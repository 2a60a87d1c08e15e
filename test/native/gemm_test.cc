// SPDX-License-Identifier: MIT
// native/gemm.cc: Sgemm (every transpose, odd sizes, sliced or not), the affine layer's kernels,
// the bias and column sums, and OpenBLAS's one-time setup.
#include <cblas.h>

#include <algorithm>
#include <array>
#include <cfloat>
#include <cstdlib>
#include <limits>
#include <string>

#include "activations.h"
#include "check.h"
#include "gemm.h"
#include "reference.h"

namespace {

using ref::DVec;
using ref::Vec;

// A float sum of K products is within about K units of rounding of the sum of their absolute
// values (the worst case; blocked sums do better).
double GemmTol(int64_t K) { return (K + 2) * FLT_EPSILON; }

double SliceThreshold() {
  const char* env = std::getenv("BLASNET_GEMM_THREAD_WORK");
  const double v = env != nullptr ? std::atof(env) : 0.0;
  return v > 0 ? v : blasnet::kMultiThreadGemmWork;
}

void CheckGemm(bool tA, bool tB, int M, int N, int K, float alpha, float beta, int threads,
               uint64_t seed) {
  ref::Rng rng(seed);
  const Vec A = rng.Fill(static_cast<size_t>(M) * K), B = rng.Fill(static_cast<size_t>(K) * N);
  const Vec C0 = rng.Fill(static_cast<size_t>(M) * N);
  Vec C = C0;
  if (beta == 0.0f) {
    for (auto& c : C) c = 1e30f;  // beta = 0: whatever C held is overwritten
  }
  {
    ref::Threads t(threads);
    blasnet::Sgemm(tA, tB, M, N, K, alpha, A.data(), B.data(), beta, C.data());
  }
  DVec want, scale;
  ref::Gemm(tA, tB, M, N, K, alpha, A, B, beta, C0, &want, &scale);
  const std::string what = "sgemm tA=" + std::to_string(tA) + " tB=" + std::to_string(tB) + " " +
                           std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) +
                           " threads=" + std::to_string(threads);
  CHECK_NEAR_ARR(what, C.data(), want.data(), scale.data(), C.size(), GemmTol(K), 1e-30);
}

}  // namespace

TEST_CASE(gemm, every_transpose_and_odd_sizes) {
  const int sizes[][3] = {{1, 1, 1}, {1, 7, 3}, {5, 1, 9}, {7, 13, 5}, {17, 3, 33}, {31, 65, 17}};
  uint64_t seed = 1;
  for (const auto& s : sizes) {
    for (int tA = 0; tA < 2; ++tA) {
      for (int tB = 0; tB < 2; ++tB) {
        CheckGemm(tA, tB, s[0], s[1], s[2], 1.0f, 0.0f, 1, seed++);
        CheckGemm(tA, tB, s[0], s[1], s[2], -0.5f, 1.0f, 2, seed++);
        CheckGemm(tA, tB, s[0], s[1], s[2], 2.0f, 0.25f, 3, seed++);
      }
    }
  }
}

TEST_CASE(gemm, sliced_large_gemms_by_rows_and_by_columns) {
  // Above the slicing threshold: C cut by rows (M >= N) or by columns, shared by the threads.
  const int sizes[][3] = {{300, 100, 80}, {96, 333, 70}, {130, 129, 128}};
  uint64_t seed = 100;
  for (const auto& s : sizes) {
    for (int tA = 0; tA < 2; ++tA) {
      for (int tB = 0; tB < 2; ++tB) {
        for (int threads : {1, 2, 5})
          CheckGemm(tA, tB, s[0], s[1], s[2], 1.0f, 0.5f, threads, seed);
        ++seed;
      }
    }
  }
}

TEST_CASE(gemm, same_bits_at_every_thread_count) {
  const int M = 257, N = 129, K = 67;
  ref::Rng rng(7);
  const Vec A = rng.Fill(M * K), B = rng.Fill(K * N), C0 = rng.Fill(M * N);
  Vec first;
  for (int threads = 1; threads <= 8; ++threads) {
    Vec C = C0;
    {
      ref::Threads t(threads);
      blasnet::Sgemm(false, true, M, N, K, 1.0f, A.data(), B.data(), 1.0f, C.data());
    }
    if (threads == 1) {
      first = C;
    } else {
      CHECK_SAME_BITS("sgemm at " + std::to_string(threads) + " threads", C.data(), first.data(),
                      C.size());
    }
  }
}

TEST_CASE(gemm, slices_depend_on_the_shape_alone) {
  const double threshold = SliceThreshold();
  const int shapes[][3] = {{1, 1, 1},      {100, 40, 784}, {300, 100, 80},  {1000, 64, 64},
                           {64, 4096, 64}, {40, 40, 4000}, {4096, 4096, 64}};
  for (const auto& s : shapes) {
    const int slices = blasnet::GemmSlices(s[0], s[1], s[2]);
    const double work = static_cast<double>(s[0]) * s[1] * s[2];
    CHECK_MSG(slices >= 1 && slices <= 8 && (slices & (slices - 1)) == 0,
              "GemmSlices(" << s[0] << ", " << s[1] << ", " << s[2] << ") = " << slices);
    if (work < threshold) CHECK_EQ(slices, 1);
    if (slices > 1) CHECK(std::max(s[0], s[1]) / slices >= 32);
    // The same at every thread count: the slices are the reason results do not depend on it.
    for (int threads = 1; threads <= 8; ++threads) {
      ref::Threads t(threads);
      CHECK_EQ(blasnet::GemmSlices(s[0], s[1], s[2]), slices);
    }
  }
}

TEST_CASE(gemm, affine_forward_and_backward) {
  for (const auto& s : {std::array<int, 3>{1, 1, 1}, {4, 3, 5}, {100, 784, 50}, {33, 17, 65}}) {
    const int N = s[0], I = s[1], O = s[2];
    ref::Rng rng(N * 1000 + I);
    const Vec x = rng.Fill(N * I), W = rng.Fill(I * O), b = rng.Fill(O), dout = rng.Fill(N * O);
    Vec out(N * O);
    blasnet::AffineForward(x.data(), W.data(), b.data(), out.data(), N, I, O,
                           blasnet::AffineActivation::kNone);
    DVec want(N * O), scale(N * O);
    for (int n = 0; n < N; ++n) {
      for (int o = 0; o < O; ++o) {
        double acc = b[o], abs = std::fabs(b[o]);
        for (int i = 0; i < I; ++i) {
          acc += static_cast<double>(x[n * I + i]) * W[i * O + o];
          abs += std::fabs(static_cast<double>(x[n * I + i]) * W[i * O + o]);
        }
        want[n * O + o] = acc;
        scale[n * O + o] = abs;
      }
    }
    CHECK_NEAR_ARR("affine out", out.data(), want.data(), scale.data(), out.size(), GemmTol(I),
                   1e-30);

    Vec dx(N * I, 99.0f), dW(I * O, 99.0f), db(O, 99.0f);
    blasnet::AffineBackward(dout.data(), x.data(), W.data(), nullptr, dx.data(), dW.data(),
                            db.data(), N, I, O, blasnet::AffineActivation::kNone);
    DVec rdx(N * I), sdx(N * I), rdW(I * O), sdW(I * O), rdb(O), sdb(O);
    for (int n = 0; n < N; ++n) {
      for (int o = 0; o < O; ++o) {
        const double d = dout[n * O + o];
        rdb[o] += d;
        sdb[o] += std::fabs(d);
        for (int i = 0; i < I; ++i) {
          rdW[i * O + o] += x[n * I + i] * d;
          sdW[i * O + o] += std::fabs(x[n * I + i] * d);
          rdx[n * I + i] += d * W[i * O + o];
          sdx[n * I + i] += std::fabs(d * W[i * O + o]);
        }
      }
    }
    CHECK_NEAR_ARR("affine dx", dx.data(), rdx.data(), sdx.data(), dx.size(), GemmTol(O), 1e-30);
    CHECK_NEAR_ARR("affine dW", dW.data(), rdW.data(), sdW.data(), dW.size(), GemmTol(N), 1e-30);
    CHECK_NEAR_ARR("affine db", db.data(), rdb.data(), sdb.data(), db.size(), GemmTol(N), 1e-30);

    // dx = null: dW and db alone, the same values.
    Vec dW2(I * O), db2(O);
    blasnet::AffineBackward(dout.data(), x.data(), W.data(), nullptr, nullptr, dW2.data(),
                            db2.data(), N, I, O, blasnet::AffineActivation::kNone);
    CHECK_SAME_BITS("dW without dx", dW2.data(), dW.data(), dW.size());
    CHECK_SAME_BITS("db without dx", db2.data(), db.data(), db.size());
  }
}

TEST_CASE(gemm, affine_slices_depend_on_the_shape_alone) {
  const int shapes[][3] = {{1, 1, 1},    {100, 100, 100}, {100, 784, 100},  {1000, 100, 100},
                           {64, 64, 64}, {100, 100, 10},  {5000, 4320, 100}};
  for (const auto& s : shapes) {
    const int slices = blasnet::AffineSlices(s[0], s[1], s[2]);
    const double work = static_cast<double>(s[0]) * s[1] * s[2];
    CHECK_MSG(slices >= 1 && slices <= 8 && (slices & (slices - 1)) == 0,
              "AffineSlices(" << s[0] << ", " << s[1] << ", " << s[2] << ") = " << slices);
    if (work < 2 * blasnet::kAffineSliceWork) CHECK_EQ(slices, 1);
    if (slices > 1) CHECK(s[0] / slices >= 32 && work / slices >= blasnet::kAffineSliceWork);
    for (int threads = 1; threads <= 8; ++threads) {
      ref::Threads t(threads);
      CHECK_EQ(blasnet::AffineSlices(s[0], s[1], s[2]), slices);
    }
  }
  // A batch of 100 through 100x100 weights is cut in two: one slice per core on two cores.
  CHECK_EQ(blasnet::AffineSlices(100, 100, 100), 2);
}

// The fused Affine + Relu (or Sigmoid) equals the affine kernel followed by the activation's,
// bit for bit, forward and backward, at every thread count: the values include NaN, +-0 and
// infinities, where the Relu's mask (x <= 0 drops the gradient, NaN keeps it) must come out the
// same from the output. With 99 outputs, the fused step's row slices end in scalar tails where
// the whole-batch activation loop is still in its vector body.
TEST_CASE(gemm, affine_activation_equals_affine_then_activation) {
  using Act = blasnet::AffineActivation;
  for (const Act act : {Act::kRelu, Act::kSigmoid}) {
    const char* name = act == Act::kRelu ? "affine+relu" : "affine+sigmoid";
    const auto forward = act == Act::kRelu ? blasnet::ReluForward : blasnet::SigmoidForward;
    for (const auto& s : {std::array<int, 3>{1, 1, 1},
                          {33, 17, 65},
                          {100, 100, 100},
                          {100, 784, 100},
                          {1000, 100, 100},
                          {100, 300, 99},
                          {100, 100, 10}}) {
      const int N = s[0], I = s[1], O = s[2];
      ref::Rng rng(N * 7 + I * 3 + O);
      Vec x = rng.Fill(N * I), W = rng.Fill(I * O), b = rng.Fill(O), dout = rng.Fill(N * O);
      // Specials among the inputs: some outputs come out NaN, infinite or exactly zero.
      if (N * I > 8) {
        x[1] = std::numeric_limits<float>::quiet_NaN();
        x[3] = std::numeric_limits<float>::infinity();
        x[5] = -0.0f;
      }
      b[0] = -1e30f;
      dout[0] = std::numeric_limits<float>::quiet_NaN();
      const size_t no = static_cast<size_t>(N) * O, ni = static_cast<size_t>(N) * I,
                   io = static_cast<size_t>(I) * O;
      // The reference: the plain kernels and the activation's own, on one thread.
      Vec pre(no), want(no), dmask(no), wdx(ni), wdW(io), wdb(O);
      {
        ref::Threads t(1);
        blasnet::AffineForward(x.data(), W.data(), b.data(), pre.data(), N, I, O, Act::kNone);
        forward(pre.data(), want.data(), static_cast<int64_t>(no));
        if (act == Act::kRelu) {
          blasnet::ReluBackward(pre.data(), dout.data(), dmask.data(), static_cast<int64_t>(no));
        } else {
          blasnet::SigmoidBackward(want.data(), dout.data(), dmask.data(),
                                   static_cast<int64_t>(no));
        }
        blasnet::AffineBackward(dmask.data(), x.data(), W.data(), nullptr, wdx.data(), wdW.data(),
                                wdb.data(), N, I, O, Act::kNone);
      }
      for (int threads = 1; threads <= 4; ++threads) {
        ref::Threads t(threads);
        Vec out(no, 7.0f), dx(ni, 7.0f), dW(io, 7.0f), db(O, 7.0f);
        blasnet::AffineForward(x.data(), W.data(), b.data(), out.data(), N, I, O, act);
        CHECK_SAME_BITS(std::string(name) + " out", out.data(), want.data(), no);
        blasnet::AffineBackward(dout.data(), x.data(), W.data(), out.data(), dx.data(), dW.data(),
                                db.data(), N, I, O, act);
        CHECK_SAME_BITS(std::string(name) + " dx", dx.data(), wdx.data(), ni);
        CHECK_SAME_BITS(std::string(name) + " dW", dW.data(), wdW.data(), io);
        CHECK_SAME_BITS(std::string(name) + " db", db.data(), wdb.data(), static_cast<size_t>(O));
        // Without dx: the same dW and db.
        Vec dW2(io), db2(O);
        blasnet::AffineBackward(dout.data(), x.data(), W.data(), out.data(), nullptr, dW2.data(),
                                db2.data(), N, I, O, act);
        CHECK_SAME_BITS(std::string(name) + " dW without dx", dW2.data(), wdW.data(), io);
        CHECK_SAME_BITS(std::string(name) + " db without dx", db2.data(), wdb.data(),
                        static_cast<size_t>(O));
        // The plain kernels at this thread count: the same bits as on one thread.
        Vec pre2(no), dx3(ni), dW3(io), db3(O);
        blasnet::AffineForward(x.data(), W.data(), b.data(), pre2.data(), N, I, O, Act::kNone);
        CHECK_SAME_BITS("affine out at any thread count", pre2.data(), pre.data(), no);
        blasnet::AffineBackward(dmask.data(), x.data(), W.data(), nullptr, dx3.data(), dW3.data(),
                                db3.data(), N, I, O, Act::kNone);
        CHECK_SAME_BITS("affine dx at any thread count", dx3.data(), wdx.data(), ni);
        CHECK_SAME_BITS("affine dW at any thread count", dW3.data(), wdW.data(), io);
      }
    }
  }
}

TEST_CASE(gemm, row_vector_and_column_sums) {
  const int64_t rows = 37, cols = 19;
  ref::Rng rng(3);
  const Vec Y0 = rng.Fill(rows * cols), b = rng.Fill(cols);
  Vec Y = Y0;
  blasnet::AddRowVector(Y.data(), b.data(), rows, cols);
  DVec want(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) want[r * cols + c] = Y0[r * cols + c] + b[c];
  // One float addition: the correctly rounded sum.
  CHECK_NEAR_ABS("addRowVector", Y.data(), want.data(), Y.size(), FLT_EPSILON / 2, 0);

  Vec out(cols, 5.0f);
  blasnet::ColumnSums(Y0.data(), rows, cols, out.data(), false);
  DVec sums(cols), scale(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      sums[c] += Y0[r * cols + c];
      scale[c] += std::fabs(Y0[r * cols + c]);
    }
  }
  CHECK_NEAR_ARR("columnSums", out.data(), sums.data(), scale.data(), cols, GemmTol(rows), 0);
  blasnet::ColumnSums(Y0.data(), rows, cols, out.data(), true);
  for (auto& s : sums) s *= 2;
  for (auto& s : scale) s *= 2;
  CHECK_NEAR_ARR("columnSums accumulated", out.data(), sums.data(), scale.data(), cols,
                 GemmTol(2 * rows), 0);
}

TEST_CASE(gemm, binding_reads_its_struct) {
  // Run(SgemmArgs): what the addon calls once the arguments are read.
  ref::Rng rng(11);
  Vec A = rng.Fill(3 * 5), B = rng.Fill(4 * 5), C(3 * 4, 0.0f);
  blasnet::SgemmArgs a{};
  a.transA = false, a.transB = true, a.M = 3, a.N = 4, a.K = 5, a.alpha = 1.0, a.beta = 0.0;
  a.A = ref::Arg(A), a.B = ref::Arg(B), a.C = ref::Arg(C);
  blasnet::Run(a);
  DVec want, scale;
  ref::Gemm(false, true, 3, 4, 5, 1.0, A, B, 0.0, C, &want, &scale);
  CHECK_NEAR_ARR("Run(SgemmArgs)", C.data(), want.data(), scale.data(), C.size(), GemmTol(5), 0);
}

TEST_CASE(gemm, openblas_is_held_at_one_thread) {
  // SetUpBlas (called when the addon loads, and by this program's main) holds OpenBLAS at one
  // thread whatever it started with; calling it again changes nothing.
  openblas_set_num_threads(2);
  blasnet::SetUpBlas();
  CHECK_EQ(openblas_get_num_threads(), 1);
  blasnet::SetUpBlas();
  CHECK_EQ(openblas_get_num_threads(), 1);
  const blasnet::BlasConfig config = blasnet::Run(blasnet::OpenblasConfigArgs{});
  CHECK_EQ(config.openblasThreads, 1);
  CHECK(config.config.find("OpenBLAS") != std::string::npos);
}
