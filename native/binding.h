// SPDX-License-Identifier: MIT
// The one wrapper every entry point goes through (addon.cc registers each with it): it makes
// the caller environment's thread count current, reads and checks the arguments (the readers
// generated from lib/core/contract.ts), calls the entry's Run(...) (beside its kernel, in the
// native file the contract names) and turns whatever C++ throws into a JavaScript error whose
// message starts with the call's name.
#pragma once

#include "napi_version.h"

#include <exception>
#include <new>
#include <string>
#include <system_error>
#include <type_traits>

#include "common.h"
#include "generated/readers.h"
#include "scratch.h"
#include "threads.h"

namespace blasnet {

// What Run returns, as a JavaScript value.
inline Napi::Value ToJs(Napi::Env env, int64_t v) {
  return Napi::Number::New(env, static_cast<double>(v));
}

template <class Args>
Napi::Value Bind(const Napi::CallbackInfo& info) {
  const char* name = static_cast<const char*>(info.Data());
  Napi::Env env = info.Env();
  CallScope scope(env.GetInstanceData<EnvThreads>());
  // Whatever happens, a huge call's scratch is not kept for the rest of the process.
  struct Trim {
    ~Trim() { ReleaseLargeScratch(); }
  } trim;
  try {
    Reader reader(info, name);
    Args args;
    Read(reader, &args);
    if constexpr (std::is_void_v<decltype(Run(args))>) {
      Run(args);
      return env.Undefined();
    } else {
      return ToJs(env, Run(args));
    }
  } catch (const Napi::Error&) {
    throw;  // already a JavaScript error with the call's name (the argument checks)
  } catch (const Refusal& e) {
    throw Napi::RangeError::New(env, std::string(name) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(env, std::string(name) + ": out of memory (std::bad_alloc)");
  } catch (const std::system_error& e) {
    throw Napi::Error::New(env, std::string(name) + ": system error: " + e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string(name) + ": " + e.what());
  } catch (...) {
    throw Napi::Error::New(env, std::string(name) + ": unknown C++ exception");
  }
}

}  // namespace blasnet
