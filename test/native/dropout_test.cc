// SPDX-License-Identifier: MIT
// native/dropout.cc: dropout's masks come from splitmix64 seeded by the caller (the same seed,
// the same mask, on any machine and at any thread count), keep about 1 - ratio of the values;
// multiply and scale.
#include <cmath>
#include <cstdint>
#include <string>

#include "check.h"
#include "dropout.h"
#include "reference.h"

namespace {

using ref::Vec;

// splitmix64 (Steele, Lea and Flood), the published algorithm, and a uniform double in [0, 1)
// from its top 53 bits.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : s_(seed) {}
  double Uniform() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) / 9007199254740992.0;
  }

 private:
  uint64_t s_;
};

}  // namespace

TEST_CASE(dropout, masks_follow_the_seeded_generator) {
  const int64_t n = 10007;
  ref::Rng rng(1);
  const Vec x = rng.Fill(n);
  for (const double ratio : {0.0, 0.15, 0.5, 0.9}) {
    for (const uint64_t seed : {0ULL, 1ULL, 0x123456789abcdefULL}) {
      const float keep = static_cast<float>(1.0 / (1.0 - ratio));
      Vec out(n, 7.0f), mask(n, 7.0f);
      blasnet::DropoutForward(x.data(), out.data(), mask.data(), n, ratio, keep, seed);
      SplitMix64 gen(seed);
      Vec want_mask(n), want_out(n);
      for (int64_t i = 0; i < n; ++i) {
        want_mask[i] = gen.Uniform() > ratio ? keep : 0.0f;
        want_out[i] = x[i] * want_mask[i];
      }
      const std::string what = "ratio " + std::to_string(ratio) + " seed " + std::to_string(seed);
      CHECK_SAME_BITS("mask " + what, mask.data(), want_mask.data(), n);
      CHECK_SAME_BITS("out " + what, out.data(), want_out.data(), n);
    }
  }
}

TEST_CASE(dropout, the_same_seed_gives_the_same_mask_and_others_differ) {
  const int64_t n = 100000;
  ref::Rng rng(2);
  const Vec x = rng.Fill(n);
  Vec out1(n), mask1(n), out2(n), mask2(n), out3(n), mask3(n);
  blasnet::DropoutForward(x.data(), out1.data(), mask1.data(), n, 0.3, 1.0f, 77);
  blasnet::DropoutForward(x.data(), out2.data(), mask2.data(), n, 0.3, 1.0f, 77);
  blasnet::DropoutForward(x.data(), out3.data(), mask3.data(), n, 0.3, 1.0f, 78);
  CHECK_SAME_BITS("mask, same seed", mask1.data(), mask2.data(), n);
  CHECK_SAME_BITS("out, same seed", out1.data(), out2.data(), n);
  int64_t differ = 0, kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    differ += mask1[i] != mask3[i];
    kept += mask1[i] != 0.0f;
    CHECK(mask1[i] == 0.0f || mask1[i] == 1.0f);
  }
  // Two independent masks with p = 0.7 differ at 2 p (1 - p) = 42% of the places; the kept
  // fraction is 0.7 within five standard deviations (sqrt(p (1 - p) / n) = 0.00145).
  CHECK_MSG(differ > n * 0.40 && differ < n * 0.44, differ << " of " << n << " differ");
  CHECK_MSG(std::fabs(static_cast<double>(kept) / n - 0.7) < 5 * 0.00145,
            kept << " of " << n << " kept");
}

TEST_CASE(dropout, binding_seeds_from_two_integers) {
  const int64_t n = 1000;
  ref::Rng rng(3);
  Vec x = rng.Fill(n), out(n), mask(n), out2(n), mask2(n);
  blasnet::DropoutForwardArgs a{};
  a.x = ref::Arg(x), a.out = ref::Arg(out), a.mask = ref::Arg(mask), a.ratio = 0.5, a.keep = 2.0;
  a.seedHigh = 3, a.seedLow = 5;
  blasnet::Run(a);
  // The two integers (each below 2^31) make one 62-bit seed: high << 31 ^ low.
  SplitMix64 gen((3ULL << 31) ^ 5ULL);
  Vec want(n);
  for (int64_t i = 0; i < n; ++i) want[i] = gen.Uniform() > 0.5 ? 2.0f : 0.0f;
  CHECK_SAME_BITS("Run(DropoutForwardArgs) mask", mask.data(), want.data(), n);
  // Swapped halves are another seed.
  a.seedHigh = 5, a.seedLow = 3, a.out = ref::Arg(out2), a.mask = ref::Arg(mask2);
  blasnet::Run(a);
  int differ = 0;
  for (int64_t i = 0; i < n; ++i) differ += mask[i] != mask2[i];
  CHECK_MSG(differ > 400, differ);
}

TEST_CASE(dropout, multiply_and_scale_in_place_or_not) {
  const int64_t n = 4099;
  ref::Rng rng(4);
  Vec a = rng.Fill(n), b = rng.Fill(n), out(n, 7.0f), want(n);
  // One float multiplication: the correctly rounded product (what double then float gives).
  for (int64_t i = 0; i < n; ++i) want[i] = static_cast<float>(static_cast<double>(a[i]) * b[i]);
  blasnet::Multiply(a.data(), b.data(), out.data(), n);
  CHECK_SAME_BITS("multiply", out.data(), want.data(), n);
  Vec a2 = a;
  blasnet::MultiplyArgs m{};
  m.a = ref::Arg(a2), m.b = ref::Arg(b), m.out = ref::Arg(a2);
  blasnet::Run(m);
  CHECK_SAME_BITS("multiply in place", a2.data(), want.data(), n);

  // scale: s rounded to float first.
  const double s = 0.1;
  for (int64_t i = 0; i < n; ++i)
    want[i] = static_cast<float>(static_cast<double>(a[i]) * static_cast<float>(s));
  Vec x = a;
  blasnet::ScaleArgs sc{};
  sc.x = ref::Arg(x), sc.out = ref::Arg(x), sc.s = s;
  blasnet::Run(sc);
  CHECK_SAME_BITS("scale in place", x.data(), want.data(), n);
}

TEST_CASE(dropout, the_same_mask_at_every_thread_count) {
  // Large enough to be split over the threads: draw i must not depend on which thread made it.
  const int64_t n = (int64_t{1} << 18) + 3;
  ref::Rng rng(5);
  const Vec x = rng.Fill(n);
  const double ratio = 0.4;
  const float keep = static_cast<float>(1.0 / (1.0 - ratio));
  const uint64_t seed = 0xfeedbeefULL;
  SplitMix64 gen(seed);
  Vec want_mask(n);
  for (int64_t i = 0; i < n; ++i) want_mask[i] = gen.Uniform() > ratio ? keep : 0.0f;
  for (int threads = 1; threads <= 8; ++threads) {
    ref::Threads t(threads);
    Vec out(n, 7.0f), mask(n, 7.0f);
    blasnet::DropoutForward(x.data(), out.data(), mask.data(), n, ratio, keep, seed);
    const std::string at = " at " + std::to_string(threads) + " threads";
    CHECK_SAME_BITS("mask" + at, mask.data(), want_mask.data(), n);
    Vec prod(n, 7.0f), scaled(n, 7.0f);
    blasnet::Multiply(x.data(), mask.data(), prod.data(), n);
    CHECK_SAME_BITS("multiply" + at, prod.data(), out.data(), n);
    blasnet::Scale(x.data(), scaled.data(), n, keep);
    for (int64_t i = 0; i < n; ++i) {
      if (mask[i] != 0.0f && scaled[i] != out[i]) {
        CHECK_MSG(false, "scale" << at << " differs at [" << i << "]");
        break;
      }
    }
  }
}
