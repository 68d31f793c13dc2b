#include "cpu.hpp"

#include <atomic>
#include <cstring>

#if PYBP_HAVE_OPENMP
#include <omp.h>
#endif

namespace pybp {

namespace {
std::atomic<int> g_isa{-1};
}

Isa detect_isa() noexcept {
#if PYBP_BUILD_AVX2 && defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    // libgcc checks XCR0 too, so "avx2" is only reported when the OS saves YMM state.
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
#endif
    return Isa::generic;
}

Isa active_isa() noexcept {
    int v = g_isa.load(std::memory_order_relaxed);
    if (v < 0) {
        v = static_cast<int>(detect_isa());
        g_isa.store(v, std::memory_order_relaxed);
    }
    return static_cast<Isa>(v);
}

bool set_isa(Isa isa) noexcept {
    if (static_cast<int>(isa) > static_cast<int>(detect_isa())) return false;
    g_isa.store(static_cast<int>(isa), std::memory_order_relaxed);
    return true;
}

const char* isa_name(Isa isa) noexcept {
    switch (isa) {
        case Isa::avx2: return "avx2";
        default: return "generic";
    }
}

bool parse_isa(const char* name, Isa* out) noexcept {
    if (std::strcmp(name, "generic") == 0) { *out = Isa::generic; return true; }
    if (std::strcmp(name, "avx2") == 0) { *out = Isa::avx2; return true; }
    return false;
}

bool cpu_has(const char* feature) noexcept {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    // __builtin_cpu_supports needs a literal, hence the table.
#define PYBP_FEATURE(f) if (std::strcmp(feature, f) == 0) return __builtin_cpu_supports(f);
    PYBP_FEATURE("sse4.2") PYBP_FEATURE("avx") PYBP_FEATURE("avx2") PYBP_FEATURE("fma")
    PYBP_FEATURE("avx512f") PYBP_FEATURE("avx512dq") PYBP_FEATURE("avx512bw") PYBP_FEATURE("avx512vl")
#undef PYBP_FEATURE
#endif
    (void)feature;
    return false;
}

int get_num_threads() noexcept {
#if PYBP_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void set_num_threads(int n) noexcept {
#if PYBP_HAVE_OPENMP
    omp_set_num_threads(n < 1 ? 1 : n);
#else
    (void)n;
#endif
}

bool have_openmp() noexcept { return PYBP_HAVE_OPENMP != 0; }

}  // namespace pybp
