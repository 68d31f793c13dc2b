// Vec512<T>, the AVX-512 build's simd::Vec<T> (simd.hpp includes this file in that build): the operations of
// Vec256<T> (simd_avx2.hpp) under the same names on 512-bit registers, float (16 lanes) and double (8 lanes) in one
// template. Masks (M) are AVX-512 mask registers (__mmask16 / __mmask8), not vectors; I is the integer vector of
// T's lanes. Include only from code compiled with the AVX-512 flags (PYBP_ISA_IS_avx512).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <limits>

namespace pybp {
namespace simd {

template <class T> struct Reg512;  // a trait: __m512 as a template argument would drop its attributes (warning)
template <> struct Reg512<float> { using V = __m512; using M = __mmask16; };
template <> struct Reg512<double> { using V = __m512d; using M = __mmask8; };

// In Vec512<T>'s members: PYBP_SEL(f, d) returns f for float, d for double; PYBP_PSPD(op, args...) returns
// _mm512_<op>_ps(args) or _mm512_<op>_pd(args), PYBP_PSPD_MASK the same for the compares (names end in _mask).
#define PYBP_SEL(f, d)          \
    if constexpr (f32) return f; \
    else return d
#define PYBP_PSPD(op, ...) PYBP_SEL(_mm512_##op##_ps(__VA_ARGS__), _mm512_##op##_pd(__VA_ARGS__))
#define PYBP_PSPD_MASK(op, ...) PYBP_SEL(_mm512_##op##_ps_mask(__VA_ARGS__), _mm512_##op##_pd_mask(__VA_ARGS__))

template <class T> struct Vec512 {
    static constexpr bool f32 = sizeof(T) == 4;
    using V = typename Reg512<T>::V;
    using M = typename Reg512<T>::M;
    using I = __m512i;
    static constexpr int L = 64 / sizeof(T);

    static V zero() { PYBP_SEL(_mm512_setzero_ps(), _mm512_setzero_pd()); }
    static V load(const T* p) { PYBP_PSPD(loadu, p); }
    static V set1(T v) { PYBP_PSPD(set1, v); }
    static V bcast(const T* p) { return set1(*p); }  // a broadcast load (vbroadcastss/sd)
    static void store(T* p, V v) { PYBP_PSPD(storeu, p, v); }
    static V fma(V a, V b, V c) { PYBP_PSPD(fmadd, a, b, c); }
    static V fnma(V a, V b, V c) { PYBP_PSPD(fnmadd, a, b, c); }  // c - a * b, one rounding
    static V mul(V a, V b) { PYBP_PSPD(mul, a, b); }
    static V add(V a, V b) { PYBP_PSPD(add, a, b); }
    static V sub(V a, V b) { PYBP_PSPD(sub, a, b); }
    static V div(V a, V b) { PYBP_PSPD(div, a, b); }
    static V max(V a, V b) { PYBP_PSPD(max, a, b); }  // the second operand where either is NaN, as vmaxps
    static V min(V a, V b) { PYBP_PSPD(min, a, b); }
    static V neg(V a) { return from_bits(_mm512_xor_si512(bits(a), bits(set1(T(-0.0))))); }  // sign flip, as Vec256
    static V abs(V a) { PYBP_PSPD(abs, a); }
    static V floor(V a) { PYBP_PSPD(roundscale, a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
    static V zero_unless(M m, V a) { PYBP_PSPD(maskz_mov, m, a); }  // m ? a : 0 per lane
    static V select(M m, V a, V b) { PYBP_PSPD(mask_blend, m, b, a); }  // m ? a : b per lane
    static M ordered(V a) { PYBP_PSPD_MASK(cmp, a, a, _CMP_ORD_Q); }  // mask: a is not NaN
    static M not_le(V a, V b) { PYBP_PSPD_MASK(cmp, a, b, _CMP_NLE_UQ); }  // mask: !(a <= b), NaN included
    static M mask_or(M a, M b) { return static_cast<M>(a | b); }
    static bool none(M m) { return m == 0; }
    static T hsum(V v) { PYBP_PSPD(reduce_add, v); }
    static T hmax(V v) { PYBP_PSPD(reduce_max, v); }
    // Lanes [0, n) set, n <= L, for maskload (reads only those lanes: no access past the end of an operand) and
    // maskstore (writes only those); lanes(s, e): lanes [s, e), s <= e <= L.
    static M first_lanes(int n) { return static_cast<M>((1u << n) - 1u); }
    static M lanes(int s, int e) { return static_cast<M>(first_lanes(e) & ~first_lanes(s)); }
    static V maskload(const T* p, M m) { PYBP_PSPD(maskz_loadu, m, p); }
    static void maskstore(T* p, M m, V v) { PYBP_PSPD(mask_storeu, p, m, v); }
    // Lanes [N, L) of lo, then lanes [0, N) of hi: the vector N elements further on, from two consecutive ones
    // (valignd/q; AVX-512 only: AVX2 has no lane shift across its two halves).
    template <int N> static V shift_in(V lo, V hi) {
        if constexpr (f32) return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), N));
        else return _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(hi), _mm512_castpd_si512(lo), N));
    }

    // T's bits in same-width integer lanes; pow2(n) = 2^n for n in T's normal exponent range, built in the exponent
    // field as in Vec256.
    static I bits(V v) { PYBP_SEL(_mm512_castps_si512(v), _mm512_castpd_si512(v)); }
    static V from_bits(I i) { PYBP_SEL(_mm512_castsi512_ps(i), _mm512_castsi512_pd(i)); }
    static I isub(I a, I b) { PYBP_SEL(_mm512_sub_epi32(a, b), _mm512_sub_epi64(a, b)); }
    static I ihalf(I n) { PYBP_SEL(_mm512_srai_epi32(n, 1), _mm512_srai_epi64(n, 1)); }  // floor(n / 2) per lane
    static V pow2(I n) {
        constexpr int bias = std::numeric_limits<T>::max_exponent - 1, mant = std::numeric_limits<T>::digits - 1;
        if constexpr (f32) return from_bits(_mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(bias)), mant));
        else return from_bits(_mm512_slli_epi64(_mm512_add_epi64(n, _mm512_set1_epi64(bias)), mant));
    }
};

#undef PYBP_SEL
#undef PYBP_PSPD
#undef PYBP_PSPD_MASK

Vec512<float> ops_for(__m512);
Vec512<double> ops_for(__m512d);

}  // namespace simd
}  // namespace pybp
