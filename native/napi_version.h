// SPDX-License-Identifier: MIT
// The one place the Node-API version is written: every file that uses N-API includes napi.h
// through this header. (package.json's "binary.napi_versions" only switches cmake-js into
// Node-API mode; test/build-files.test.ts checks that it names the same version.)
#pragma once

#if defined(NAPI_VERSION) && NAPI_VERSION != 8
#error "NAPI_VERSION is set in native/napi_version.h only"
#endif
#undef NAPI_VERSION
#define NAPI_VERSION 8
#include <napi.h>
