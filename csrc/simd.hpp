// The vector vocabulary of the kernel families: simd::Vec<T> names each operation once for T = float and double,
// so a kernel is written once for both dtypes and both ISA builds. The AVX2 build's Vec<T> is a 256-bit vector
// (simd_avx2.hpp); the generic build's is simd::Scalar<T>, one lane held in a T, whose loops the compiler
// vectorises with the baseline ISA. Scalar<T> also serves the AVX2 build's scalar tails. VecOf<U> finds the
// operations for a register type U (T itself, or __m256 / __m256d), for elementwise functors called with both.
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

#ifdef PYBP_ISA_IS_avx2
#include "simd_avx2.hpp"
#else
namespace pybp {
namespace simd {
template <class T> using Vec = Scalar<T>;
}  // namespace simd
}  // namespace pybp
#endif

namespace pybp {
namespace simd {
// VecOf<U>: the operations for register type U (declarations only, for decltype; simd_avx2.hpp adds __m256 and
// __m256d, as overloads: the vector types' attributes would be dropped as template arguments).
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
