// SPDX-License-Identifier: MIT
#include "args.h"

#include <cmath>

#include "common.h"

namespace blasnet {
namespace {

std::string Describe(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_number: return "the number " + v.ToString().Utf8Value();
    case napi_string: return "a string";
    case napi_symbol: return "a symbol";
    case napi_function: return "a function";
    case napi_bigint: return "a bigint";
    default: break;
  }
  if (v.IsTypedArray()) {
    static const char* names[] = {"Int8Array",    "Uint8Array",   "Uint8ClampedArray",
                                  "Int16Array",   "Uint16Array",  "Int32Array",
                                  "Uint32Array",  "Float32Array", "Float64Array",
                                  "BigInt64Array", "BigUint64Array"};
    auto t = static_cast<int>(v.As<Napi::TypedArray>().TypedArrayType());
    return std::string("a ") + (t >= 0 && t < 11 ? names[t] : "typed array");
  }
  if (v.IsArray()) return "an Array";
  return "an object";
}

}  // namespace

Args::Args(const Napi::CallbackInfo& info, const char* fn, size_t count) : info_(info), fn_(fn) {
  if (info.Length() != count) {
    Type(std::string("expected ") + std::to_string(count) + " arguments, got " +
         std::to_string(info.Length()));
  }
}

Args::Args(const Napi::CallbackInfo& info, const char* fn, size_t min_count, size_t max_count)
    : info_(info), fn_(fn) {
  if (info.Length() < min_count || info.Length() > max_count) {
    Type(std::string("expected ") + std::to_string(min_count) + " to " + std::to_string(max_count) +
         " arguments, got " + std::to_string(info.Length()));
  }
}

std::string Args::Where(size_t i, const char* name) const {
  return std::string(fn_) + ": argument " + std::to_string(i) + " '" + name + "'";
}

void Args::Range(const std::string& msg) const {
  throw Napi::RangeError::New(info_.Env(), std::string(fn_) + ": " + msg);
}

void Args::Type(const std::string& msg) const {
  throw Napi::TypeError::New(info_.Env(), std::string(fn_) + ": " + msg);
}

F32 Args::Floats(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  // As<Float32Array>() does not check the element type: check it first.
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(info_.Env(),
                               Where(i, name) + " must be a Float32Array, got " + Describe(v));
  }
  auto arr = v.As<Napi::Float32Array>();
  F32 out;
  out.data = arr.Data();  // already includes byteOffset
  out.length = arr.ElementLength();
  out.given = true;
  return out;
}

F32 Args::OptionalFloats(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (v.IsNull() || v.IsUndefined()) return F32();
  return Floats(i, name);
}

I32 Args::Ints(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(info_.Env(),
                               Where(i, name) + " must be an Int32Array, got " + Describe(v));
  }
  auto arr = v.As<Napi::Int32Array>();
  I32 out;
  out.data = arr.Data();
  out.length = arr.ElementLength();
  return out;
}

int64_t Args::Int(size_t i, const char* name, int64_t min) const {
  Napi::Value v = info_[i];
  if (!v.IsNumber()) {
    throw Napi::TypeError::New(info_.Env(),
                               Where(i, name) + " must be a number, got " + Describe(v));
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(min)) || d > 2147483647.0 || std::floor(d) != d) {
    throw Napi::RangeError::New(info_.Env(), Where(i, name) + " must be an integer in [" +
                                                 std::to_string(min) + ", 2147483647], got " +
                                                 Describe(v));
  }
  return static_cast<int64_t>(d);
}

float Args::Float(size_t i, const char* name) const {
  return static_cast<float>(Double(i, name));
}

double Args::Double(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (!v.IsNumber()) {
    throw Napi::TypeError::New(info_.Env(),
                               Where(i, name) + " must be a number, got " + Describe(v));
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) {
    throw Napi::RangeError::New(info_.Env(), Where(i, name) + " must be finite, got " + Describe(v));
  }
  return d;
}

bool Args::Bool(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (!v.IsBoolean()) {
    throw Napi::TypeError::New(info_.Env(),
                               Where(i, name) + " must be a boolean, got " + Describe(v));
  }
  return v.As<Napi::Boolean>().Value();
}

void Args::ExpectLength(const char* name, size_t length,
                        std::initializer_list<int64_t> dims) const {
  size_t want = 1;
  std::string shape;
  bool overflow = false;
  for (int64_t d : dims) {
    if (!shape.empty()) shape += "x";
    shape += std::to_string(d);
    if (d < 0 || !MulOk(want, static_cast<size_t>(d), &want)) overflow = true;
  }
  // Float32Array lengths stay far below 2^62; treat anything larger as overflow.
  if (overflow || want > (size_t{1} << 53)) {
    Range(std::string("'") + name + "' of shape " + shape +
          " has more elements than fit in memory");
  }
  if (want != length) {
    Range(std::string("'") + name + "' must have " + std::to_string(want) + " elements (" +
          shape + "), got " + std::to_string(length));
  }
}

void Args::ExpectDisjoint(const char* a, const void* pa, size_t na, const char* b,
                          const void* pb, size_t nb) const {
  if (na == 0 || nb == 0 || pa == nullptr || pb == nullptr) return;
  auto x = reinterpret_cast<uintptr_t>(pa), y = reinterpret_cast<uintptr_t>(pb);
  if (x < y + nb * 4 && y < x + na * 4) {
    Range(std::string("'") + a + "' and '" + b + "' must not share memory");
  }
}

}  // namespace blasnet
