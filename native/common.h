// SPDX-License-Identifier: MIT
// Small helpers every kernel uses: overflow-safe size arithmetic, the sliding-window extent,
// and the exception a kernel throws to refuse a call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace blasnet {

// a * b, or false when the product does not fit in size_t.
inline bool MulOk(size_t a, size_t b, size_t* out) { return !__builtin_mul_overflow(a, b, out); }

// Output extent of a sliding window: (in + 2*pad - k) / stride + 1, or -1 when
// the window does not fit.
inline int64_t OutExtent(int64_t in, int64_t k, int64_t stride, int64_t pad) {
  int64_t span = in + 2 * pad - k;
  if (span < 0 || stride < 1) return -1;
  return span / stride + 1;
}

// A call a kernel refuses (a scratch above the cap, say): the binding turns it into a JavaScript
// RangeError whose message is the call's name, ": " and what().
class Refusal : public std::runtime_error {
 public:
  explicit Refusal(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace blasnet
