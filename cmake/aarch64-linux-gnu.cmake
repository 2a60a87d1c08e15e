# SPDX-License-Identifier: MIT
# Cross-compiling for 64-bit ARM Linux (Graviton, Raspberry Pi 4/5, Ampere) on an x86-64 Debian
# or Ubuntu machine, as CI does (`node scripts/native-check.js aarch64`):
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install -y g++-aarch64-linux-gnu libopenblas-dev:arm64 libstdc++6:arm64 qemu-user
#   cmake -S . -B build-native/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DBLASNET_TESTS=ON
# The test program then runs under qemu-user (ctest uses CMAKE_CROSSCOMPILING_EMULATOR).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# The arm64 packages of the multiarch tree (/usr/lib/aarch64-linux-gnu), not the build machine's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
# The test program runs under qemu-user in the arm64 userland that libopenblas-dev:arm64 and
# libstdc++6:arm64 install (/lib/ld-linux-aarch64.so.1, /usr/lib/aarch64-linux-gnu), not with
# `-L /usr/aarch64-linux-gnu`: that prefix holds the cross toolchain's own glibc, whose loader
# then picks up the multiarch libc.so.6 of another build, and the first pthread_create (OpenBLAS
# starting its threads as it loads) never returns.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
