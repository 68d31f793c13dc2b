#!/usr/bin/env bash
# Cross-build pybp._core for aarch64 Linux (generic ISA path only) and check the result links cleanly.
#   usage: .ci/cross-aarch64.sh [host python with pybind11]       (.ci/run calls it; needs g++-aarch64-linux-gnu)
# The module is compiled against the host's Python and pybind11 headers (the same declarations on every 64-bit
# Linux); it cannot be imported here, so instead of importing it we require that every symbol it leaves to the
# loader is either versioned (glibc, libstdc++, libgcc, libgomp) or Python's own: a kernel that only the x86
# build defines would show up as an unversioned undefined symbol.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
py=${1:-python3}
build="$repo/build/aarch64"
mkdir -p "$repo/build"
soabi=$("$py" -c "import sys; print(f'cpython-{sys.version_info[0]}{sys.version_info[1]}-aarch64-linux-gnu')")
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$repo/.ci/aarch64-toolchain.cmake" \
      -DPYBP_WERROR=ON -DPython_EXECUTABLE="$(command -v "$py")" -DPython_SOABI="$soabi" \
      -DPython_INCLUDE_DIR="$("$py" -c "import sysconfig; print(sysconfig.get_paths()['include'])")" \
      -Dpybind11_DIR="$("$py" -m pybind11 --cmakedir)" > "$build.log" 2>&1 || { cat "$build.log"; exit 1; }
grep 'pybp: ISA paths' "$build.log"
cmake --build "$build" >> "$build.log" 2>&1 || { cat "$build.log"; exit 1; }
so=$(ls "$build"/_core*.so)
file "$so"
file "$so" | grep -q 'ARM aarch64' || { echo "not an aarch64 object: $so"; exit 1; }
unresolved=$(aarch64-linux-gnu-nm -D --undefined-only "$so" | awk '$1 == "U" {print $2}' | grep -v '@' | grep -Ev '^_?Py' || true)
if [ -n "$unresolved" ]; then
  echo "symbols the aarch64 _core needs but nothing provides:"; echo "$unresolved" | aarch64-linux-gnu-c++filt
  exit 1
fi
echo "aarch64 _core: $(basename "$so"), $(stat -c %s "$so") bytes, only Python and versioned system symbols undefined"
