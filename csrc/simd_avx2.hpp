// Vec256<T>, the AVX2 build's simd::Vec<T> and the x86 builds' simd::Narrow<T> (see simd.hpp, which includes
// this file in the AVX2 and AVX-512 builds): one name per operation for float (8 lanes) and double (4 lanes), so a
// kernel is written once for both dtypes. Masks (M) are vectors of all-ones or all-zero lanes (compare results);
// I is the integer vector of the same lanes (32- or 64-bit). simd_avx512.hpp has the same names on 512 bits.
// Include only from code compiled with -mavx2 -mfma or the AVX-512 flags (PYBP_ISA_HAS_VEC).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <limits>

namespace pybp {
namespace simd {

template <class T> struct Vec256;

template <class T> struct Reg;  // the 256-bit register of T (a trait: __m256 as a template argument warns)
template <> struct Reg<float> { using V = __m256; };
template <> struct Reg<double> { using V = __m256d; };

// The integer lanes of Vec256<T> (T's bits in same-width lanes: 32-bit for float, 64-bit for double), shared by both
// specialisations. pow2(n) = 2^n for n in T's normal exponent range, built directly in the exponent field:
// (n + bias) << mantissa bits (IEEE 754: 127 and 23 for float, 1023 and 52 for double).
template <class T> struct IntLanes {
    using V = typename Reg<T>::V;
    using I = __m256i;
    static constexpr bool f32 = sizeof(T) == 4;
    static I bits(V v) {
        if constexpr (f32) return _mm256_castps_si256(v);
        else return _mm256_castpd_si256(v);
    }
    static V from_bits(I i) {
        if constexpr (f32) return _mm256_castsi256_ps(i);
        else return _mm256_castsi256_pd(i);
    }
    static I isub(I a, I b) {
        if constexpr (f32) return _mm256_sub_epi32(a, b);
        else return _mm256_sub_epi64(a, b);
    }
    // floor(n / 2) per 32-bit lane (AVX2 has no 64-bit arithmetic shift: float only).
    static I ihalf(I n) {
        static_assert(f32, "32-bit lanes only");
        return _mm256_srai_epi32(n, 1);
    }
    static V pow2(I n) {
        constexpr int bias = std::numeric_limits<T>::max_exponent - 1, mant = std::numeric_limits<T>::digits - 1;
        if constexpr (f32) return from_bits(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(bias)), mant));
        else return from_bits(_mm256_slli_epi64(_mm256_add_epi64(n, _mm256_set1_epi64x(bias)), mant));
    }
};

// Lane shuffles and int32 conversions of Vec256<T> (max pooling's 2x2 windows), shared by both specialisations.
template <class T> struct PairLanes {
    using V = typename Reg<T>::V;
    static constexpr bool is_f32 = sizeof(T) == 4;
    // 64-bit quarters 0, 2, 1, 3 (vpermpd).
    static V quarters_0213(V v) {
        if constexpr (is_f32) return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8));
        else return _mm256_permute4x64_pd(v, 0xD8);
    }
    // The even and the odd elements of the 2L at a then b, in order (in-lane shuffles, then the quarters).
    static V evens(V a, V b) {
        if constexpr (is_f32) return quarters_0213(_mm256_shuffle_ps(a, b, 0x88));
        else return quarters_0213(_mm256_unpacklo_pd(a, b));
    }
    static V odds(V a, V b) {
        if constexpr (is_f32) return quarters_0213(_mm256_shuffle_ps(a, b, 0xDD));
        else return quarters_0213(_mm256_unpackhi_pd(a, b));
    }
    // a0 b0 a1 b1 ... : the first (lo) and the second (hi) L of the 2L interleaved elements.
    static V zip_lo(V a, V b) { return zip<0x20>(a, b); }
    static V zip_hi(V a, V b) { return zip<0x31>(a, b); }
    template <int halves> static V zip(V a, V b) {
        if constexpr (is_f32) return _mm256_permute2f128_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b), halves);
        else return _mm256_permute2f128_pd(_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b), halves);
    }
    // T(p[i] - sub) (int32 arithmetic, then rounded to T).
    static V load_int(const std::int32_t* p, std::int32_t sub) {
        if constexpr (is_f32)
            return _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)),
                                                       _mm256_set1_epi32(sub)));
        else
            return _mm256_cvtepi32_pd(_mm_sub_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)),
                                                    _mm_set1_epi32(sub)));
    }
    // p[i] = int(v[i]) + add for lanes holding small whole numbers.
    static void store_int(std::int32_t* p, V v, std::int32_t add) {
        if constexpr (is_f32)
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                                _mm256_add_epi32(_mm256_cvttps_epi32(v), _mm256_set1_epi32(add)));
        else
            _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm_add_epi32(_mm256_cvttpd_epi32(v), _mm_set1_epi32(add)));
    }
};

template <> struct Vec256<float> : IntLanes<float>, PairLanes<float> {
    using V = __m256;
    using M = V;
    static constexpr int L = 8;
    static V zero() { return _mm256_setzero_ps(); }
    static V load(const float* p) { return _mm256_loadu_ps(p); }
    static V bcast(const float* p) { return _mm256_broadcast_ss(p); }
    static V set1(float v) { return _mm256_set1_ps(v); }
    static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V fnma(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a * b, one rounding
    static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
    static V div(V a, V b) { return _mm256_div_ps(a, b); }
    static V max(V a, V b) { return _mm256_max_ps(a, b); }
    static V min(V a, V b) { return _mm256_min_ps(a, b); }
    static V neg(V a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.0f)); }
    static V abs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
    static V zero_unless(M m, V a) { return _mm256_and_ps(m, a); }            // m ? a : 0 per lane
    static M mask_or(M a, M b) { return _mm256_or_ps(a, b); }
    static M mask_and(M a, M b) { return _mm256_and_ps(a, b); }
    static M eq(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
    static M ordered(V a) { return _mm256_cmp_ps(a, a, _CMP_ORD_Q); }              // mask: a is not NaN
    static M not_le(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_NLE_UQ); }       // mask: !(a <= b), NaN included
    static V select(M mask, V a, V b) { return _mm256_blendv_ps(b, a, mask); }   // mask ? a : b per lane
    static bool none(M mask) { return _mm256_testz_ps(mask, mask); }
    static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
    static float hsum(V v) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
    }
    // ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) of the 8 lanes (softmax's row_sum order), in registers.
    static float tree8(const V (&a)[1]) {
        V t = _mm256_add_ps(a[0], _mm256_permute_ps(a[0], 0xB1));  // lane 0: l0 + l1, lane 4: l4 + l5
        t = _mm256_add_ps(t, _mm256_permute_ps(t, 0x4E));          // lane 0: (l0 + l1) + (l2 + l3), lane 4 alike
        return _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
    }
    // Lanes [0, n) set, for maskload (reads only those lanes: no access past the end of an operand) and maskstore
    // (writes only those); lanes(s, e): lanes [s, e), s <= e <= L.
    static __m256i first_lanes(int n) {
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    static __m256i lanes(int s, int e) { return _mm256_andnot_si256(first_lanes(s), first_lanes(e)); }
    static V maskload(const float* p, __m256i mask) { return _mm256_maskload_ps(p, mask); }
    static void maskstore(float* p, __m256i mask, V v) { _mm256_maskstore_ps(p, mask, v); }
    static float hmax(V v) {
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
    }
};

template <> struct Vec256<double> : IntLanes<double>, PairLanes<double> {
    using V = __m256d;
    using M = V;
    static constexpr int L = 4;
    static V zero() { return _mm256_setzero_pd(); }
    static V load(const double* p) { return _mm256_loadu_pd(p); }
    static V bcast(const double* p) { return _mm256_broadcast_sd(p); }
    static V set1(double v) { return _mm256_set1_pd(v); }
    static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
    static V fnma(V a, V b, V c) { return _mm256_fnmadd_pd(a, b, c); }  // c - a * b, one rounding
    static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
    static V add(V a, V b) { return _mm256_add_pd(a, b); }
    static V sub(V a, V b) { return _mm256_sub_pd(a, b); }
    static V div(V a, V b) { return _mm256_div_pd(a, b); }
    static V max(V a, V b) { return _mm256_max_pd(a, b); }
    static V min(V a, V b) { return _mm256_min_pd(a, b); }
    static V neg(V a) { return _mm256_xor_pd(a, _mm256_set1_pd(-0.0)); }
    static V abs(V a) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), a); }
    static V zero_unless(M m, V a) { return _mm256_and_pd(m, a); }
    static M mask_or(M a, M b) { return _mm256_or_pd(a, b); }
    static M mask_and(M a, M b) { return _mm256_and_pd(a, b); }
    static M eq(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_EQ_OQ); }
    static M ordered(V a) { return _mm256_cmp_pd(a, a, _CMP_ORD_Q); }
    static M not_le(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_NLE_UQ); }
    static V select(M mask, V a, V b) { return _mm256_blendv_pd(b, a, mask); }
    static bool none(M mask) { return _mm256_testz_pd(mask, mask); }
    static V floor(V a) { return _mm256_floor_pd(a); }
    static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
    static double hsum(V v) {
        __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
        return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
    }
    // The same over 8 lanes held in two vectors: a[0] = l0..l3, a[1] = l4..l7.
    static double tree8(const V (&a)[2]) {
        const __m256d h = _mm256_hadd_pd(a[0], a[1]);  // l0 + l1, l4 + l5, l2 + l3, l6 + l7
        const __m128d q = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
        return _mm_cvtsd_f64(_mm_add_sd(q, _mm_unpackhi_pd(q, q)));
    }
    static __m256i first_lanes(int n) {
        return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
    }
    static __m256i lanes(int s, int e) { return _mm256_andnot_si256(first_lanes(s), first_lanes(e)); }
    static V maskload(const double* p, __m256i mask) { return _mm256_maskload_pd(p, mask); }
    static void maskstore(double* p, __m256i mask, V v) { _mm256_maskstore_pd(p, mask, v); }
    static double hmax(V v) {
        __m128d m = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
        return _mm_cvtsd_f64(_mm_max_sd(m, _mm_unpackhi_pd(m, m)));
    }
};

Vec256<float> ops_for(__m256);
Vec256<double> ops_for(__m256d);

// In-register L x L transposes: r[i] holds row i of the block on entry and column i on return.
inline void transpose(__m256 (&r)[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int s = 0; s < 4; ++s) {
        r[s] = _mm256_permute2f128_ps(u[s], u[s + 4], 0x20);
        r[s + 4] = _mm256_permute2f128_ps(u[s], u[s + 4], 0x31);
    }
}
inline void transpose(__m256d (&r)[4]) {
    const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

}  // namespace simd
}  // namespace pybp
