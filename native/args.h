// SPDX-License-Identifier: MIT
// Reading and checking N-API arguments. The TypeScript layer validates first;
// these checks are the second line, so that even a direct call with bad
// arguments throws a JS error and never touches memory out of bounds.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace blasnet {

struct F32 {
  float* data = nullptr;
  size_t length = 0;
  // Set for any Float32Array, even an empty one (whose data may be null).
  bool given = false;
  bool present() const { return given; }
};

struct I32 {
  int32_t* data = nullptr;
  size_t length = 0;
};

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn, size_t count);
  // Between min_count and max_count arguments: the last ones are optional.
  Args(const Napi::CallbackInfo& info, const char* fn, size_t min_count, size_t max_count);
  size_t Length() const { return info_.Length(); }

  // A Float32Array argument (its own view: byteOffset included, no copy).
  F32 Floats(size_t i, const char* name) const;
  // Float32Array or null/undefined (returns an empty F32).
  F32 OptionalFloats(size_t i, const char* name) const;
  I32 Ints(size_t i, const char* name) const;
  // An integer in [min, 2^31 - 1].
  int64_t Int(size_t i, const char* name, int64_t min) const;
  float Float(size_t i, const char* name) const;
  // A finite number, kept in double precision.
  double Double(size_t i, const char* name) const;
  bool Bool(size_t i, const char* name) const;

  // Throws a RangeError unless `length` equals the product of dims (checked for overflow).
  void ExpectLength(const char* name, size_t length, std::initializer_list<int64_t> dims) const;
  // Throws a RangeError when the two buffers share memory.
  void ExpectDisjoint(const char* a, const void* pa, size_t na, const char* b, const void* pb,
                      size_t nb) const;
  [[noreturn]] void Range(const std::string& msg) const;
  [[noreturn]] void Type(const std::string& msg) const;

  Napi::Env env() const { return info_.Env(); }

 private:
  std::string Where(size_t i, const char* name) const;
  const Napi::CallbackInfo& info_;
  const char* fn_;
};

}  // namespace blasnet
