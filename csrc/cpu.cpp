#include "cpu.hpp"

#include <atomic>
#include <cstring>

#if defined(_MSC_VER) && !defined(__GNUC__) && defined(_M_X64)
#define PYBP_MSVC_CPUID 1
#include <intrin.h>
#endif

namespace pybp {

namespace {
std::atomic<int> g_isa{-1};

#ifdef PYBP_MSVC_CPUID
// MSVC has no __builtin_cpu_supports: the same answers from CPUID and, for the vector register state the OS saves,
// XGETBV (YMM: XCR0 bits 1-2; ZMM: bits 5-7 as well).
bool msvc_cpu_has(const char* f) noexcept {
    int r[4];
    __cpuid(r, 0);
    const int max_leaf = r[0];
    __cpuidex(r, 1, 0);
    const int ecx1 = r[2];
    int ebx7 = 0;
    if (max_leaf >= 7) {
        __cpuidex(r, 7, 0);
        ebx7 = r[1];
    }
    const unsigned long long xcr0 = (ecx1 >> 27 & 1) ? _xgetbv(0) : 0;  // OSXSAVE
    const bool ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6;
    struct Bit { const char* name; bool on; };
    const Bit bits[] = {
        {"sse4.2", (ecx1 >> 20 & 1) != 0},          {"avx", ymm && (ecx1 >> 28 & 1)},
        {"avx2", ymm && (ebx7 >> 5 & 1)},           {"fma", ymm && (ecx1 >> 12 & 1)},
        {"avx512f", zmm && (ebx7 >> 16 & 1)},       {"avx512dq", zmm && (ebx7 >> 17 & 1)},
        {"avx512bw", zmm && (ebx7 >> 30 & 1)},      {"avx512vl", zmm && (ebx7 >> 31 & 1)},
    };
    for (const Bit& b : bits)
        if (std::strcmp(f, b.name) == 0) return b.on;
    return false;
}
#endif
}  // namespace

Isa detect_isa() noexcept {
#if PYBP_BUILD_AVX2
    // cpu_has: libgcc / compiler-rt (or CPUID + XGETBV on MSVC) report "avx2" only when the OS saves YMM state
    // and "avx512*" only when it saves ZMM state. The avx512 build is compiled with the AVX2 and FMA flags too.
    const bool avx2 = cpu_has("avx2") && cpu_has("fma");
#if PYBP_BUILD_AVX512
    if (avx2 && cpu_has("avx512f") && cpu_has("avx512dq") && cpu_has("avx512bw") && cpu_has("avx512vl"))
        return Isa::avx512;
#endif
    if (avx2) return Isa::avx2;
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
        case Isa::avx512: return "avx512";
        default: return "generic";
    }
}

bool parse_isa(const char* name, Isa* out) noexcept {
    if (std::strcmp(name, "generic") == 0) { *out = Isa::generic; return true; }
    if (std::strcmp(name, "avx2") == 0) { *out = Isa::avx2; return true; }
    if (std::strcmp(name, "avx512") == 0) { *out = Isa::avx512; return true; }
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
#elif defined(PYBP_MSVC_CPUID)
    return msvc_cpu_has(feature);
#endif
    (void)feature;
    return false;
}

}  // namespace pybp
