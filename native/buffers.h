// SPDX-License-Identifier: MIT
// A typed-array argument as the kernels see it: the caller's own memory (byteOffset included,
// nothing copied) and its element count. No Node types, so kernels and their tests need none.
#pragma once

#include <cstddef>
#include <cstdint>

namespace blasnet {

struct F32 {
  float* data = nullptr;
  size_t length = 0;
  // Set for any Float32Array, even an empty one (whose data may be null); unset for null.
  bool given = false;
  bool present() const { return given; }
};

struct I32 {
  int32_t* data = nullptr;
  size_t length = 0;
  bool given = false;
  bool present() const { return given; }
};

}  // namespace blasnet
