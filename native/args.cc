// SPDX-License-Identifier: MIT
#include "args.h"

#include <cmath>
#include <cstdint>

#include "common.h"

namespace blasnet {
namespace {

constexpr int64_t kInt32Limit = int64_t{1} << 31;

std::string Describe(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined:
      return "undefined";
    case napi_null:
      return "null";
    case napi_boolean:
      return "a boolean";
    case napi_number:
      return "the number " + v.ToString().Utf8Value();
    case napi_string:
      return "a string";
    case napi_symbol:
      return "a symbol";
    case napi_function:
      return "a function";
    case napi_bigint:
      return "a bigint";
    default:
      break;
  }
  if (v.IsTypedArray()) {
    static const char* names[] = {"Int8Array",     "Uint8Array",    "Uint8ClampedArray",
                                  "Int16Array",    "Uint16Array",   "Int32Array",
                                  "Uint32Array",   "Float32Array",  "Float64Array",
                                  "BigInt64Array", "BigUint64Array"};
    auto t = static_cast<int>(v.As<Napi::TypedArray>().TypedArrayType());
    return std::string("a ") + (t >= 0 && t < 11 ? names[t] : "typed array");
  }
  if (v.IsArray()) return "an Array";
  return "an object";
}

std::string Product(std::initializer_list<Dim> dims, bool values) {
  std::string s;
  for (const Dim& d : dims) {
    if (!s.empty()) s += "x";
    s += values ? std::to_string(d.value) : d.name;
  }
  return s;
}

}  // namespace

std::string Reader::Where(size_t i, const char* name) const {
  return std::string(fn_) + ": argument " + std::to_string(i) + " '" + name + "'";
}

std::string Reader::Show(const char* arg, const Named& n) const {
  return (n.field ? std::string(arg) + "." + n.name : std::string(n.name)) + " = " +
         std::to_string(n.value);
}

void Reader::Range(const std::string& msg) const {
  throw Napi::RangeError::New(info_.Env(), std::string(fn_) + ": " + msg);
}

void Reader::Type(const std::string& msg) const {
  throw Napi::TypeError::New(info_.Env(), std::string(fn_) + ": " + msg);
}

void Reader::Count(size_t count, const char* names) const {
  if (info_.Length() != count) {
    Type("expected " + std::to_string(count) + " arguments (" + names + "), got " +
         std::to_string(info_.Length()));
  }
}

bool Reader::Bool(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (!v.IsBoolean()) {
    throw Napi::TypeError::New(info_.Env(),
                               Where(i, name) + " must be a boolean, got " + Describe(v));
  }
  return v.As<Napi::Boolean>().Value();
}

int64_t Reader::Int(size_t i, const char* name, int64_t min, int64_t max) const {
  Napi::Value v = info_[i];
  if (!v.IsNumber()) {
    throw Napi::TypeError::New(info_.Env(),
                               Where(i, name) + " must be a number, got " + Describe(v));
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(min)) || !(d <= static_cast<double>(max)) || std::floor(d) != d) {
    throw Napi::RangeError::New(info_.Env(), Where(i, name) + " must be an integer in [" +
                                                 std::to_string(min) + ", " + std::to_string(max) +
                                                 "], got " + Describe(v));
  }
  return static_cast<int64_t>(d);
}

double Reader::Number(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (!v.IsNumber()) {
    throw Napi::TypeError::New(info_.Env(),
                               Where(i, name) + " must be a number, got " + Describe(v));
  }
  return v.As<Napi::Number>().DoubleValue();
}

F32 Reader::Floats(size_t i, const char* name, bool nullable) const {
  Napi::Value v = info_[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) return F32();
  // As<Float32Array>() does not check the element type: check it first.
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(info_.Env(), Where(i, name) + " must be a Float32Array" +
                                                (nullable ? " or null" : "") + ", got " +
                                                Describe(v));
  }
  auto arr = v.As<Napi::Float32Array>();
  F32 out;
  out.data = arr.Data();  // already includes byteOffset
  out.length = arr.ElementLength();
  out.given = true;
  return out;
}

I32 Reader::Ints(size_t i, const char* name, bool nullable) const {
  Napi::Value v = info_[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) return I32();
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(info_.Env(), Where(i, name) + " must be an Int32Array" +
                                                (nullable ? " or null" : "") + ", got " +
                                                Describe(v));
  }
  auto arr = v.As<Napi::Int32Array>();
  I32 out;
  out.data = arr.Data();
  out.length = arr.ElementLength();
  out.given = true;
  return out;
}

Napi::Object Reader::Object(size_t i, const char* name, const char* fields) const {
  Napi::Value v = info_[i];
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray() || v.IsFunction() || v.IsArrayBuffer()) {
    throw Napi::TypeError::New(
        info_.Env(), Where(i, name) + " must be an object " + fields + ", got " + Describe(v));
  }
  return v.As<Napi::Object>();
}

int64_t Reader::Field(const Napi::Object& o, const char* arg, const char* field, int64_t min,
                      int64_t max) const {
  Napi::Value v = o.Get(field);
  const std::string where = std::string(fn_) + ": " + arg + "." + field;
  if (!v.IsNumber())
    throw Napi::TypeError::New(info_.Env(), where + " must be a number, got " + Describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(min)) || !(d <= static_cast<double>(max)) || std::floor(d) != d) {
    throw Napi::RangeError::New(info_.Env(), where + " must be an integer in [" +
                                                 std::to_string(min) + ", " + std::to_string(max) +
                                                 "], got " + Describe(v));
  }
  return static_cast<int64_t>(d);
}

int64_t Reader::Window(const char* arg, const char* extent, Named size, Named k, Named stride,
                       Named pad) const {
  const int64_t out = OutExtent(size.value, k.value, stride.value, pad.value);
  if (out < 1) {
    Range("the window " + Show(arg, k) + " does not fit " + Show(arg, size) + " with " +
          Show(arg, pad) + " (" + extent + " would be < 1)");
  }
  return out;
}

void Reader::Int32Product(const char* arg, std::initializer_list<Named> dims) const {
  size_t p = 1;
  bool over = false;
  std::string names, values;
  for (const Named& d : dims) {
    if (!names.empty()) {
      names += "x";
      values += "x";
    }
    names += d.field ? std::string(arg) + "." + d.name : std::string(d.name);
    values += std::to_string(d.value);
    if (d.value < 0 || !MulOk(p, static_cast<size_t>(d.value), &p)) over = true;
  }
  if (over || p >= static_cast<size_t>(kInt32Limit)) {
    Range(names + " = " + values + " must be below 2^31 (32-bit BLAS sizes and plane indices)");
  }
}

void Reader::CheckLength(const char* name, size_t length, std::initializer_list<Dim> dims) const {
  size_t want = 1;
  bool overflow = false;
  for (const Dim& d : dims) {
    if (d.value < 0 || !MulOk(want, static_cast<size_t>(d.value), &want)) overflow = true;
  }
  // Typed-array lengths stay far below 2^53; anything larger cannot be a real buffer.
  if (overflow || want > (size_t{1} << 53)) {
    Range(std::string("'") + name + "' of shape " + Product(dims, false) + " = " +
          Product(dims, true) + " has more elements than fit in memory");
  }
  if (want != length) {
    Range(std::string("'") + name + "' must have " + std::to_string(want) + " elements (" +
          Product(dims, false) + " = " + Product(dims, true) + "), got " + std::to_string(length));
  }
}

void Reader::Length(const char* name, const F32& buf, std::initializer_list<Dim> dims) const {
  CheckLength(name, buf.length, dims);
}

void Reader::Length(const char* name, const I32& buf, std::initializer_list<Dim> dims) const {
  CheckLength(name, buf.length, dims);
}

void Reader::CheckDisjoint(const char* a_name, const void* a, size_t a_bytes, const char* b_name,
                           const void* b, size_t b_bytes) const {
  if (a_bytes == 0 || b_bytes == 0 || a == nullptr || b == nullptr) return;
  auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  if (x < y + b_bytes && y < x + a_bytes) {
    Range(std::string("'") + a_name + "' and '" + b_name + "' must not share memory");
  }
}

void Reader::SameOrDisjoint(const char* a_name, const F32& a, const char* b_name,
                            const F32& b) const {
  // An element-wise output may be its input exactly (out[i] reads only in[i]); shifted against
  // it, the loop would read elements it has already written.
  if (a.data == b.data && a.length == b.length) return;
  auto x = reinterpret_cast<uintptr_t>(a.data), y = reinterpret_cast<uintptr_t>(b.data);
  if (a.length > 0 && b.length > 0 && x < y + b.length * 4 && y < x + a.length * 4) {
    Range(
        std::string("'") + a_name + "' overlaps '" + b_name +
        "' without being the same view: pass the same array to work in place, or separate memory");
  }
}

}  // namespace blasnet
