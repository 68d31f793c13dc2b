// The vector vocabulary of the kernel families: simd::Vec<T> names each operation once for T = float and double,
// so a kernel is written once for both dtypes and every ISA build. The AVX2 build's Vec<T> is a 256-bit vector
// (Vec256, simd_avx2.hpp), the AVX-512 build's a 512-bit one (Vec512, simd_avx512.hpp); the generic build's is
// simd::Scalar<T>, one lane held in a T, whose loops the compiler vectorises with the baseline ISA. Scalar<T> also
// serves the vector builds' scalar tails. Narrow<T> is a vector of at most 8 lanes (Vec256 in both x86 builds):
// for rows too short for 16 lanes (softmax over 10 classes) and 8 x 8 transposes. PYBP_ISA_HAS_VEC: this build
// has vector types (AVX2 or AVX-512), for code with no scalar form. VecOf<U> finds the operations for a register
// type U (T itself, or __m256 / __m512 ...), for elementwise functors called with both.
#pragma once

#include <cstddef>
#include <utility>

namespace pybp {
namespace simd {

template <class T> struct Scalar {
    using V = T;
    static constexpr int L = 1;
    static V zero() { return T(0); }
    static V load(const T* p) { return *p; }
    static V set1(T v) { return v; }
    static void store(T* p, V v) { *p = v; }
    static V add(V a, V b) { return a + b; }
    static V sub(V a, V b) { return a - b; }
    static V mul(V a, V b) { return a * b; }
    static V div(V a, V b) { return a / b; }
    static V neg(V a) { return -a; }
    // Rounded product, then rounded sum: the generic build has no FMA (and -ffp-contract=off keeps it so).
    static V fma(V a, V b, V c) { return a * b + c; }
};

}  // namespace simd
}  // namespace pybp

#if defined(PYBP_ISA_IS_avx2) || defined(PYBP_ISA_IS_avx512)
#define PYBP_ISA_HAS_VEC 1
#include "simd_avx2.hpp"
#endif
#ifdef PYBP_ISA_IS_avx512
#include "simd_avx512.hpp"
#endif

namespace pybp {
namespace simd {
#if defined(PYBP_ISA_IS_avx512)
template <class T> using Vec = Vec512<T>;
template <class T> using Narrow = Vec256<T>;
#elif defined(PYBP_ISA_HAS_VEC)
template <class T> using Vec = Vec256<T>;
template <class T> using Narrow = Vec256<T>;
#else
template <class T> using Vec = Scalar<T>;
template <class T> using Narrow = Scalar<T>;
#endif
}  // namespace simd
}  // namespace pybp

namespace pybp {
namespace simd {
// VecOf<U>: the operations for register type U (declarations only, for decltype; simd_avx2.hpp and
// simd_avx512.hpp add their registers, as overloads: the vector types' attributes would be dropped as template
// arguments).
template <class T> Scalar<T> ops_for(T);
template <class U> using VecOf = decltype(ops_for(std::declval<U>()));

// Elementwise functors for code that runs on vectors and on the scalar tail alike.
struct Neg {
    template <class U> U operator()(U v) const { return VecOf<U>::neg(v); }
};
struct Identity {
    template <class U> U operator()(U v) const { return v; }
};
struct Sub {
    template <class U> U operator()(U a, U b) const { return VecOf<U>::sub(a, b); }
};
struct Div {
    template <class U> U operator()(U a, U b) const { return VecOf<U>::div(a, b); }
};
}  // namespace simd
}  // namespace pybp
