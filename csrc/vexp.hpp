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

// a * b + c in one rounding where the build has FMA (the AVX2 path, whose vector exp is fused the same way: an
// element's result must not depend on whether it falls in a vector or in the scalar tail), else a rounded product
// and sum (-ffp-contract=off keeps the generic build from fusing them). The two paths agree within 1 ulp.
template <class T>
inline T fmadd(T a, T b, T c) {
#ifdef __FMA__
    return std::fma(a, b, c);
#else
    return a * b + c;
#endif
}

}  // namespace vexp_detail

inline float exp_poly(float x) {
    using vexp_detail::bits;
    using vexp_detail::fmadd;
    // NaN -> 0 here (restored at the end) so the integer exponent below stays in range: no shift overflow.
    const float xc = x == x ? std::min(std::max(x, -110.0f), 89.0f) : 0.0f;
    const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits
    const float t = fmadd(xc, 1.44269504088896341f, magic);
    const float nf = t - magic;
    const std::int32_t n = bits<std::int32_t>(t) - bits<std::int32_t>(magic);
    float r = fmadd(-nf, 0.693359375f, xc);  // ln2 high part: few bits, so nf * hi is exact
    r = fmadd(-nf, -2.12194440e-4f, r);
    float p = 1.0f / 5040.0f;
    p = fmadd(p, r, 1.0f / 720.0f);
    p = fmadd(p, r, 1.0f / 120.0f);
    p = fmadd(p, r, 1.0f / 24.0f);
    p = fmadd(p, r, 1.0f / 6.0f);
    p = fmadd(p, r, 0.5f);
    p = fmadd(p, r, 1.0f);
    p = fmadd(p, r, 1.0f);
    const std::int32_t n1 = n >> 1, n2 = n - n1;
    const float s1 = bits<float>((n1 + 127) << 23), s2 = bits<float>((n2 + 127) << 23);
    const float res = p * s1 * s2;
    return x != x ? x : res;
}

inline double exp_poly(double x) {
    using vexp_detail::bits;
    using vexp_detail::fmadd;
    const double xc = x == x ? std::min(std::max(x, -760.0), 710.0) : 0.0;
    const double magic = 6755399441055744.0;  // 1.5 * 2^52
    const double t = fmadd(xc, 1.4426950408889634074, magic);
    const double nf = t - magic;
    const std::int64_t n = bits<std::int64_t>(t) - bits<std::int64_t>(magic);
    double r = fmadd(-nf, 6.93147180369123816490e-01, xc);  // fdlibm's ln2 split
    r = fmadd(-nf, 1.90821492927058770002e-10, r);
    double p = 1.0 / 6227020800.0;  // 1/13!
    p = fmadd(p, r, 1.0 / 479001600.0);
    p = fmadd(p, r, 1.0 / 39916800.0);
    p = fmadd(p, r, 1.0 / 3628800.0);
    p = fmadd(p, r, 1.0 / 362880.0);
    p = fmadd(p, r, 1.0 / 40320.0);
    p = fmadd(p, r, 1.0 / 5040.0);
    p = fmadd(p, r, 1.0 / 720.0);
    p = fmadd(p, r, 1.0 / 120.0);
    p = fmadd(p, r, 1.0 / 24.0);
    p = fmadd(p, r, 1.0 / 6.0);
    p = fmadd(p, r, 0.5);
    p = fmadd(p, r, 1.0);
    p = fmadd(p, r, 1.0);
    // Halve the exponent in floating point: AVX2 has no 64-bit arithmetic right shift, and one scalar operation
    // would keep the whole loop from vectorising. The magic-number trick turns each half back into an integer.
    (void)n;
    const double n1f = std::floor(nf * 0.5), n2f = nf - n1f;
    const std::int64_t n1 = bits<std::int64_t>(n1f + magic) - bits<std::int64_t>(magic);
    const std::int64_t n2 = bits<std::int64_t>(n2f + magic) - bits<std::int64_t>(magic);
    const double s1 = bits<double>((n1 + 1023) << 52), s2 = bits<double>((n2 + 1023) << 52);
    const double res = p * s1 * s2;
    return x != x ? x : res;
}

}  // namespace pybp
