// exp for float and double written as branch-free arithmetic so that loops calling it vectorise under the ISA
// build's flags (GCC calls scalar libm exp otherwise: no vector exp without -ffast-math).
//
// exp(x) = 2^n * e^r with n = round(x / ln 2), r = x - n ln 2 (Cody-Waite split, |r| <= ln2/2), e^r by its Taylor
// polynomial (degree 7 for float, 13 for double: truncation below half an ulp), 2^n applied as two exact powers
// of two so that subnormal results come out right. Out of range: -> 0 below, -> inf above; NaN -> NaN.
// Error: within 2 ulp of the correctly rounded result (tests/test_softmax_xent.py checks against numpy.exp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pybp {
namespace vexp_detail {

template <class To, class From>
inline To bits(From v) {
    static_assert(sizeof(To) == sizeof(From), "bit cast between equal sizes");
    To t;
    std::memcpy(&t, &v, sizeof t);
    return t;
}

// a * b + c in one rounding where the build has FMA (the AVX2 and AVX-512 paths, whose vector exp is fused the same
// way: an element's result must not depend on whether it falls in a vector or in the scalar tail), else a rounded
// product and sum (-ffp-contract=off keeps the generic build from fusing them). The two agree within 1 ulp.
template <class T>
inline T fmadd(T a, T b, T c) {
#if defined(__FMA__) || (defined(_MSC_VER) && defined(__AVX2__))  // MSVC: /arch:AVX2 and AVX512 include FMA
    return std::fma(a, b, c);
#else
    return a * b + c;
#endif
}

// The constants of both dtypes' exp, shared with the AVX2 version (vexp_simd.hpp). Arguments are clamped to
// [lo, hi] (beyond them the result is 0 or inf anyway); magic = 1.5 * 2^(mantissa bits): adding it rounds to an
// integer held in the low mantissa bits; ln 2 split high/low (the high part has few bits, so nf * hi is exact;
// fdlibm's split for double); poly: e^r's Taylor coefficients from the highest degree down, for Horner's rule.
template <class T> struct ExpConst;
// fast: the largest |x| for which the AVX2 exp may skip the clamp and the two-step scaling (vexp_simd::all_fast).
template <> struct ExpConst<float> {
    static constexpr float lo = -110.0f, hi = 89.0f, magic = 12582912.0f, log2e = 1.44269504088896341f;
    static constexpr float fast = 87.0f;
    static constexpr float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    static constexpr float poly[] = {1.0f / 5040.0f, 1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f,
                                     0.5f, 1.0f, 1.0f};
};
template <> struct ExpConst<double> {
    static constexpr double lo = -760.0, hi = 710.0, magic = 6755399441055744.0, log2e = 1.4426950408889634074;
    static constexpr double fast = 700.0;
    static constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    static constexpr double poly[] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                                      1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,      1.0 / 720.0,
                                      1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,         0.5,
                                      1.0,                1.0};
};

// p(r) by Horner's rule over ExpConst<T>::poly.
template <class T>
inline T exp_horner(T r) {
    constexpr const auto& c = ExpConst<T>::poly;
    T p = c[0];
    for (std::size_t i = 1; i < sizeof c / sizeof c[0]; ++i) p = fmadd(p, r, c[i]);
    return p;
}

}  // namespace vexp_detail

inline float exp_poly(float x) {
    using vexp_detail::bits;
    using vexp_detail::fmadd;
    using E = vexp_detail::ExpConst<float>;
    // NaN -> 0 here (restored at the end) so the integer exponent below stays in range: no shift overflow.
    const float xc = x == x ? std::min(std::max(x, E::lo), E::hi) : 0.0f;
    const float t = fmadd(xc, E::log2e, E::magic);
    const float nf = t - E::magic;
    const std::int32_t n = bits<std::int32_t>(t) - bits<std::int32_t>(E::magic);
    float r = fmadd(-nf, E::ln2_hi, xc);
    r = fmadd(-nf, E::ln2_lo, r);
    const float p = vexp_detail::exp_horner(r);
    const std::int32_t n1 = n >> 1, n2 = n - n1;
    const float s1 = bits<float>((n1 + 127) << 23), s2 = bits<float>((n2 + 127) << 23);
    const float res = p * s1 * s2;
    return x != x ? x : res;
}

inline double exp_poly(double x) {
    using vexp_detail::bits;
    using vexp_detail::fmadd;
    using E = vexp_detail::ExpConst<double>;
    const double xc = x == x ? std::min(std::max(x, E::lo), E::hi) : 0.0;
    const double t = fmadd(xc, E::log2e, E::magic);
    const double nf = t - E::magic;
    double r = fmadd(-nf, E::ln2_hi, xc);
    r = fmadd(-nf, E::ln2_lo, r);
    const double p = vexp_detail::exp_horner(r);
    // n = round(x / ln 2) is halved in floating point: AVX2 has no 64-bit arithmetic right shift, and one scalar
    // operation would keep the whole loop from vectorising. The magic-number trick turns each half back into an
    // integer.
    const double n1f = std::floor(nf * 0.5), n2f = nf - n1f;
    const std::int64_t n1 = bits<std::int64_t>(n1f + E::magic) - bits<std::int64_t>(E::magic);
    const std::int64_t n2 = bits<std::int64_t>(n2f + E::magic) - bits<std::int64_t>(E::magic);
    const double s1 = bits<double>((n1 + 1023) << 52), s2 = bits<double>((n2 + 1023) << 52);
    const double res = p * s1 * s2;
    return x != x ? x : res;
}

// out[i] = f(exp_poly(g(x[i]))) for i < n (g, f elementwise; out may alias x): the generic build's exp_map (loops
// the compiler vectorises) and the vector builds' exp_map's scalar tail.
template <class T, class Pre, class Post>
inline void exp_map_scalar(T* out, const T* x, std::size_t n, Pre g, Post f) {
    for (std::size_t i = 0; i < n; ++i) out[i] = f(exp_poly(g(x[i])));
}

}  // namespace pybp

#include "simd.hpp"  // PYBP_ISA_HAS_VEC
#ifdef PYBP_ISA_HAS_VEC
#include "vexp_simd.hpp"
#endif

namespace pybp {
// out[i] = f(exp_poly(g(x[i]))) for i < n (g, f elementwise functors for T and, in the vector builds, its vectors;
// out may alias x): the interleaved vector loop (vexp_simd.hpp) in the AVX2 and AVX-512 builds, exp_map_scalar in
// the generic one.
template <class T, class Pre, class Post>
inline void exp_map(T* out, const T* x, std::size_t n, Pre g, Post f) {
#ifdef PYBP_ISA_HAS_VEC
    vexp_simd::exp_map(out, x, n, g, f);
#else
    exp_map_scalar(out, x, n, g, f);
#endif
}
}  // namespace pybp
