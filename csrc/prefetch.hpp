// One software-prefetch cursor for the direct convolution kernels: up to two byte ranges, fetched a few cache lines
// per step of the current work, so that the next piece's memory traffic overlaps this piece's FMAs. What each
// kernel fetches, and what it measured, is said where it is used (conv_direct_fwd.inc, conv_direct_dw.inc).
#pragma once

#include <algorithm>
#include <cstddef>

// The direct kernels run only in the x86 vector builds; the others (generic, aarch64) compile this header with
// conv.cpp and get the compiler's portable hint, or none.
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#include <immintrin.h>
#define PYBP_PREFETCH_T0(p) _mm_prefetch((p), _MM_HINT_T0)
#elif defined(__GNUC__)
#define PYBP_PREFETCH_T0(p) __builtin_prefetch((p), 0, 3)
#else
#define PYBP_PREFETCH_T0(p) ((void)(p))
#endif

namespace pybp {

struct PrefetchAhead {
    using idx = std::ptrdiff_t;
    const char *p[2] = {nullptr, nullptr}, *e[2] = {nullptr, nullptr};
    idx per_step = 0;  // bytes, whole lines

    // The ranges [a, a + an) and [b, b + bn), in bytes (bn = 0: one range).
    void set(const void* a, idx an, const void* b = nullptr, idx bn = 0) {
        p[0] = static_cast<const char*>(a), e[0] = p[0] + an;
        p[1] = static_cast<const char*>(b), e[1] = p[1] + bn;
    }
    // Over about `steps` steps: an even share rounded up to whole lines, plus a line, so that the ranges are done
    // before the last step even when the step count was an estimate.
    void spread(idx steps) {
        const idx left = (e[0] - p[0]) + (e[1] - p[1]);
        per_step = (left / std::max<idx>(1, steps) + 127) / 64 * 64;
    }
    // One step's bytes [*at, *at + n), without fetching them (n = 0 once done): for loops that fetch line by line.
    idx take(const char** at) {
        const int r = p[0] < e[0] ? 0 : 1;
        const idx n = std::min<idx>(per_step, std::max<idx>(0, e[r] - p[r]));
        *at = p[r], p[r] += n;
        return n;
    }
    static void fetch(const char* at) { PYBP_PREFETCH_T0(at); }
    // One step, fetched at once.
    void step() {
        const char* at;
        const idx n = take(&at);
        for (idx o = 0; o < n; o += 64) fetch(at + o);
    }
};

}  // namespace pybp
