// Compiler portability: the attributes and pragmas the kernels use, spelled for GCC and Clang (including
// AppleClang and clang-cl) and for MSVC. Everything else in csrc is standard C++17 or AVX2 / AVX-512 intrinsics.
#pragma once

// PYBP_DO_PRAGMA(x): emit `#pragma x` from inside a macro.
#if defined(_MSC_VER) && !defined(__clang__)
#define PYBP_DO_PRAGMA(x) __pragma(x)
#else
#define PYBP_DO_PRAGMA(x) _Pragma(#x)
#endif

// PYBP_ALWAYS_INLINE: inline even where the compiler's cost model would not (small per-row helpers whose call
// would cost more than their body).
#if defined(__GNUC__) || defined(__clang__)
#define PYBP_ALWAYS_INLINE inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define PYBP_ALWAYS_INLINE __forceinline
#else
#define PYBP_ALWAYS_INLINE inline
#endif

// PYBP_UNROLL(n): unroll the next loop n times. MSVC has no such pragma (and would warn about an unknown one).
#if defined(__clang__)
#define PYBP_UNROLL(n) PYBP_DO_PRAGMA(unroll n)
#elif defined(__GNUC__)
#define PYBP_UNROLL(n) PYBP_DO_PRAGMA(GCC unroll n)
#else
#define PYBP_UNROLL(n)
#endif

// PYBP_KEEP_IN_VREG(v): make the vector v opaque to the optimiser at this point, held in an SSE/AVX register, so
// GCC loads it once instead of folding the load into every use. An empty inline asm: GCC and Clang on x86 only;
// other compilers get nothing (the same results, perhaps more loads).
// PYBP_OPAQUE_PTR(p): the same for a pointer (in a general register): what it points to is not known here.
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define PYBP_KEEP_IN_VREG(v) asm("" : "+x"(v))
#define PYBP_OPAQUE_PTR(p) asm("" : "+r"(p))
#else
#define PYBP_KEEP_IN_VREG(v) ((void)0)
#define PYBP_OPAQUE_PTR(p) ((void)0)
#endif
