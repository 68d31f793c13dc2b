#!/usr/bin/env bash
# Build pybp._core with AddressSanitizer + UndefinedBehaviorSanitizer and run the kernel tests against it
# (cpp backend only). Any ASan/UBSan report aborts the run with a non-zero exit.
#   usage: tests/sanitize.sh [python] [extra pytest args]     (CI: .ci/run calls it with the CI venv's python)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
py=${1:-python3}
shift || true
"$py" -c "import pybind11" 2>/dev/null || "$py" -m pip install -q pybind11
build="$repo/build/asan"
cmake -S "$repo" -B "$build" -G Ninja -DPYBP_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DPython_EXECUTABLE="$(command -v "$py")" -Dpybind11_DIR="$("$py" -m pybind11 --cmakedir)" > "$build.log" 2>&1 \
  || { cat "$build.log"; exit 1; }
cmake --build "$build" >> "$build.log" 2>&1 || { cat "$build.log"; exit 1; }

# Stage the package with the sanitized extension, away from the source tree and any installed copy.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -r "$repo/pybp" "$stage/pybp"
rm -f "$stage"/pybp/_core*.so
cp "$build"/_core*.so "$stage/pybp/"

# The sanitizer runtimes must be loaded before the interpreter's own allocations.
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
# Python itself "leaks" by design at exit; leak checking is the job of tests/test_threads_and_leaks.py.
# allocator_may_return_null: a copy too large to allocate must reach NumPy as NULL (its MemoryError is what
# tests/test_threads.py checks), not abort the process.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:check_initialization_order=1:strict_string_checks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export PYBP_BACKEND=cpp PYBP_REQUIRE_CPP=1
cd "$stage"
tests=()
for f in test_elementwise test_gemm test_softmax_xent test_optim test_bad_input test_threads_and_leaks test_threads \
    test_layers test_nets test_conv test_convnets; do
  [ -f "$repo/tests/$f.py" ] && tests+=("$repo/tests/$f.py")
done
PYTHONPATH="$stage" "$py" -c "import pybp; i = pybp.backend_info(); assert i['backend'] == 'cpp'; print('sanitized build:', pybp._core.build_info['sanitizers'], pybp.__file__)"
# leak/RSS test excluded: ASan's quarantine grows RSS on purpose; numba-only tests excluded: cpp is under test.
PYTHONPATH="$stage" "$py" -m pytest -q -p no:cacheprovider -c "$repo/pyproject.toml" --rootdir "$repo" \
    -k "not no_leaks and not numba" "${tests[@]}" "$@"
