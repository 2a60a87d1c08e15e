// SPDX-License-Identifier: MIT
// A small test harness for the C++ kernel tests (no dependency to install): TEST_CASE registers
// a case under its suite (the file's name: gemm_test.cc holds suite `gemm`), CHECK* record a
// failure with file and line and let the case go on, and main() (check.cc) runs the suites named
// on its command line. CMake registers one ctest test per suite.
#pragma once

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace check {

struct Case {
  const char* suite;
  const char* name;
  void (*fn)();
};

std::vector<Case>& Registry();

struct Registrar {
  Registrar(const char* suite, const char* name, void (*fn)()) {
    Registry().push_back({suite, name, fn});
  }
};

// Records a failure of the running case (printed at once; the first 20 per case).
void Fail(const char* file, int line, const std::string& what);
// Failures recorded so far in the running case.
int Failures();

// Compares got[i] with the reference ref[i]: a failure when |got - ref| > atol + rtol * scale[i]
// (scale: a bound on the rounding of the computation, e.g. the sum of the absolute values of
// the terms a reference sum adds), or when one is NaN and the other not. Reports the first few
// indices that fail and their count; returns true when all agree.
bool Near(const char* file, int line, const std::string& what, const float* got, const double* ref,
          const double* scale, size_t n, double rtol, double atol);
bool Near(const char* file, int line, const std::string& what, const float* got, const double* ref,
          size_t n, double rtol, double atol);
// Bit-for-bit equality of two float arrays (NaN payloads included).
bool SameBits(const char* file, int line, const std::string& what, const float* a, const float* b,
              size_t n);
bool SameInts(const char* file, int line, const std::string& what, const int32_t* a,
              const int32_t* b, size_t n);

}  // namespace check

#define CHECK_CAT2(a, b) a##b
#define CHECK_CAT(a, b) CHECK_CAT2(a, b)

#define TEST_CASE(suite, name)                                                            \
  static void suite##__##name();                                                          \
  static const ::check::Registrar CHECK_CAT(check_registrar_, __LINE__)(#suite, #name,    \
                                                                        suite##__##name); \
  static void suite##__##name()

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) ::check::Fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

// CHECK with a message built from stream insertions: CHECK_MSG(x > 0, "x = " << x).
#define CHECK_MSG(cond, stream)                          \
  do {                                                   \
    if (!(cond)) {                                       \
      std::ostringstream check_os;                       \
      check_os << "CHECK(" #cond "): " << stream;        \
      ::check::Fail(__FILE__, __LINE__, check_os.str()); \
    }                                                    \
  } while (0)

#define CHECK_EQ(a, b) CHECK_MSG((a) == (b), #a " = " << (a) << ", " #b " = " << (b))

// expr must throw Type whose what() contains `part`.
#define CHECK_THROWS(expr, Type, part)                                                   \
  do {                                                                                   \
    bool check_thrown = false;                                                           \
    try {                                                                                \
      expr;                                                                              \
    } catch (const Type& check_e) {                                                      \
      check_thrown = true;                                                               \
      CHECK_MSG(std::string(check_e.what()).find(part) != std::string::npos,             \
                "message '" << check_e.what() << "' lacks '" << (part) << "'");          \
    } catch (...) {                                                                      \
      check_thrown = true;                                                               \
      ::check::Fail(__FILE__, __LINE__, #expr " threw something other than " #Type);     \
    }                                                                                    \
    if (!check_thrown) ::check::Fail(__FILE__, __LINE__, #expr " did not throw " #Type); \
  } while (0)

#define CHECK_NEAR_ARR(what, got, ref, scale, n, rtol, atol) \
  ::check::Near(__FILE__, __LINE__, what, got, ref, scale, n, rtol, atol)
#define CHECK_NEAR_ABS(what, got, ref, n, rtol, atol) \
  ::check::Near(__FILE__, __LINE__, what, got, ref, n, rtol, atol)
#define CHECK_SAME_BITS(what, a, b, n) ::check::SameBits(__FILE__, __LINE__, what, a, b, n)
#define CHECK_SAME_INTS(what, a, b, n) ::check::SameInts(__FILE__, __LINE__, what, a, b, n)
