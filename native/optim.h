// SPDX-License-Identifier: MIT
// One optimizer step on one parameter array, in place, with the course's formulas
// (common/optimizer.py), in float arithmetic; the hyper-parameters are
// given in double and rounded to float once per call (products of them, such as Nesterov's
// (1 + momentum)·lr, computed in double first).
#pragma once

#include <cstdint>

namespace blasnet {

struct SgdHyper {
  double lr;
};
struct MomentumHyper {
  double lr, momentum;
};
struct AdaGradHyper {
  double lr, eps;
};
struct RmspropHyper {
  double lr, decay_rate, eps;
};
struct AdamHyper {
  double lr_t, beta1, beta2, eps;  // lr_t: the learning rate with the bias correction folded in
};

// p -= lr g
void SgdStep(float* p, const float* g, int64_t n, SgdHyper h);
// v = momentum v - lr g; p += v
void MomentumStep(float* p, const float* g, float* v, int64_t n, MomentumHyper h);
// The course's current form: p += momentum² v - (1 + momentum) lr g with v from before the
// step, then v = momentum v - lr g.
void NesterovStep(float* p, const float* g, float* v, int64_t n, MomentumHyper h);
// h += g²; p -= lr g / (sqrt(h) + eps)
void AdaGradStep(float* p, const float* g, float* h, int64_t n, AdaGradHyper hp);
// h = decay h + (1 - decay) g²; p -= lr g / (sqrt(h) + eps)
void RmspropStep(float* p, const float* g, float* h, int64_t n, RmspropHyper hp);
// m += (1 - beta1)(g - m); v += (1 - beta2)(g² - v); p -= lr_t m / (sqrt(v) + eps)
void AdamStep(float* p, const float* g, float* m, float* v, int64_t n, AdamHyper h);
// avg += (1 - decay)·(p - avg): the exponential moving average of a parameter (weight averaging).
void AverageStep(float* avg, const float* p, int64_t n, double decay);

}  // namespace blasnet
