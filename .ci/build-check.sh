#!/usr/bin/env bash
# Builds of _core that the x86-64 GCC wheel does not cover, warnings as errors, each followed by the kernels' C++
# smoke test (tests/kernel_smoke.cpp: every ISA path the CPU runs, against plain double formulas).
#   .ci/build-check.sh aarch64 [python]  cross-build with g++-aarch64-linux-gnu (generic path only); the smoke test
#                                        runs under qemu-aarch64
#   .ci/build-check.sh clang [python]    host build with clang++; the smoke test runs natively
# The python (default python3) provides pybind11 and the headers; .ci/run installs the compilers and QEMU.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
mode=$1
py=${2:-python3}
build="$repo/build/check-$mode"
mkdir -p "$repo/build"
args=(-G Ninja -DPYBP_WERROR=ON -DPYBP_KERNEL_SMOKE=ON -DPython_EXECUTABLE="$(command -v "$py")"
      -Dpybind11_DIR="$("$py" -m pybind11 --cmakedir)")
case $mode in
  aarch64)
    # The host's Python and pybind11 headers declare the same things on every 64-bit Linux; a module links no
    # libpython there, so the host's headers suffice. It cannot be imported here (see the symbol check below).
    args+=(-DCMAKE_TOOLCHAIN_FILE="$repo/.ci/aarch64-toolchain.cmake"
           -DPython_INCLUDE_DIR="$("$py" -c "import sysconfig; print(sysconfig.get_paths()['include'])")")
    run=(qemu-aarch64 -L /usr/aarch64-linux-gnu) ;;
  clang)
    args+=(-DCMAKE_CXX_COMPILER=clang++)
    run=() ;;
  *) echo "usage: $0 aarch64|clang [python]" >&2; exit 2 ;;
esac
rm -rf "$build"
cmake -S "$repo" -B "$build" "${args[@]}" > "$build.log" 2>&1 || { cat "$build.log"; exit 1; }
grep 'pybp: ISA paths' "$build.log"
cmake --build "$build" >> "$build.log" 2>&1 || { cat "$build.log"; exit 1; }
so=$(ls "$build"/_core*.so)
file "$so"

if [ "$mode" = aarch64 ]; then
  [[ $(file "$so") == *"ARM aarch64"* ]] || { echo "not an aarch64 object: $so"; exit 1; }
  # Every symbol left to the loader must be versioned (glibc, libstdc++, libgcc) or Python's own: a kernel
  # that only the x86 build defines would show up here as an unversioned undefined symbol.
  unresolved=$(aarch64-linux-gnu-nm -D --undefined-only "$so" | awk '$1 == "U" {print $2}' | grep -v '@' |
               grep -Ev '^_?Py' || true)
  if [ -n "$unresolved" ]; then
    echo "symbols the aarch64 _core needs but nothing provides:"; echo "$unresolved" | aarch64-linux-gnu-c++filt
    exit 1
  fi
  echo "aarch64 _core: only Python's and versioned system symbols left to the loader"
fi
"${run[@]}" "$build/pybp_kernel_smoke"
