// SPDX-License-Identifier: MIT
// Reading and checking N-API arguments, for the readers that scripts/gen-native.js writes into
// native/generated/readers.h from the contract (lib/core/contract.ts). Every refusal is a
// TypeError (wrong kind of value) or RangeError (wrong size, range or overlap) whose message
// starts with the function's name and names the argument.
#pragma once

#include "napi_version.h"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "buffers.h"

namespace blasnet {

// A named integer in a message: a geometry field (shown as "g.FH") or a derived extent ("OH").
struct Named {
  const char* name;
  int64_t value;
  bool field;
};

// A dim of a buffer's length: its name and value.
struct Dim {
  const char* name;
  int64_t value;
};

class Reader {
 public:
  Reader(const Napi::CallbackInfo& info, const char* fn) : info_(info), fn_(fn) {}

  // Exactly `count` arguments, named `names` in the message.
  void Count(size_t count, const char* names) const;

  bool Bool(size_t i, const char* name) const;
  // An integer number in [min, max].
  int64_t Int(size_t i, const char* name, int64_t min, int64_t max) const;
  // Any number, as a double.
  double Number(size_t i, const char* name) const;
  // A Float32Array / Int32Array (its own view: byteOffset included, nothing copied); with
  // nullable, null or undefined give an absent buffer.
  F32 Floats(size_t i, const char* name, bool nullable) const;
  I32 Ints(size_t i, const char* name, bool nullable) const;

  // A plain object (a geometry), described as `fields` in the message.
  Napi::Object Object(size_t i, const char* name, const char* fields) const;
  // An integer field of it in [min, max].
  int64_t Field(const Napi::Object& o, const char* arg, const char* field, int64_t min,
                int64_t max) const;
  // (size + 2 pad - k) / stride + 1, or a RangeError when the window does not fit.
  int64_t Window(const char* arg, const char* extent, Named size, Named k, Named stride,
                 Named pad) const;
  // A RangeError unless the product of the values is below 2^31.
  void Int32Product(const char* arg, std::initializer_list<Named> dims) const;

  // A RangeError unless the buffer holds exactly the product of dims (overflow-checked).
  void Length(const char* name, const F32& buf, std::initializer_list<Dim> dims) const;
  void Length(const char* name, const I32& buf, std::initializer_list<Dim> dims) const;
  // A RangeError when the two buffers share memory.
  template <class A, class B>
  void Disjoint(const char* a_name, const A& a, const char* b_name, const B& b) const {
    CheckDisjoint(a_name, a.data, a.length * sizeof(*a.data), b_name, b.data,
                  b.length * sizeof(*b.data));
  }
  // A RangeError when they share memory without being exactly the same view.
  void SameOrDisjoint(const char* a_name, const F32& a, const char* b_name, const F32& b) const;

  [[noreturn]] void Range(const std::string& msg) const;
  [[noreturn]] void Type(const std::string& msg) const;

 private:
  void CheckDisjoint(const char* a_name, const void* a, size_t a_bytes, const char* b_name,
                     const void* b, size_t b_bytes) const;
  void CheckLength(const char* name, size_t length, std::initializer_list<Dim> dims) const;
  std::string Where(size_t i, const char* name) const;
  std::string Show(const char* arg, const Named& n) const;

  const Napi::CallbackInfo& info_;
  const char* fn_;
};

}  // namespace blasnet
