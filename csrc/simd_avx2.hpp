// Thin AVX2 vector wrappers shared by the kernel families' AVX2 builds (GEMM, softmax): Vec<T> gives one name per
// operation for float (8 lanes) and double (4 lanes), so a kernel is written once for both dtypes.
// Include only from code compiled with -mavx2 -mfma (PYBP_ISA_IS_avx2).
#pragma once

#include <immintrin.h>

namespace pybp {
namespace simd {

template <class T> struct Vec;

template <> struct Vec<float> {
    using V = __m256;
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
    static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
    // Lanes [0, n) set, for maskload (reads only those lanes: no access past the end of an operand).
    static __m256i first_lanes(int n) {
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    static V maskload(const float* p, __m256i mask) { return _mm256_maskload_ps(p, mask); }
    static float hmax(V v) {
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
    }
};

template <> struct Vec<double> {
    using V = __m256d;
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
    static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
    static __m256i first_lanes(int n) {
        return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
    }
    static V maskload(const double* p, __m256i mask) { return _mm256_maskload_pd(p, mask); }
    static double hmax(V v) {
        __m128d m = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
        return _mm_cvtsd_f64(_mm_max_sd(m, _mm_unpackhi_pd(m, m)));
    }
};

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
