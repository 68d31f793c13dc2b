// Softmax over rows and the fused softmax-cross-entropy (the book's SoftmaxWithLoss forward + backward in one
// pass over the logits). Compiled once per ISA; exp_poly (vexp.hpp) lets the row loops vectorise.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernel_family.hpp"
#include "vexp.hpp"
#ifdef PYBP_ISA_IS_avx2
#include "vexp_avx2.hpp"
#endif

namespace pybp {
namespace PYBP_ISA_NS {
namespace {

// Row max and row sum with 8 independent lanes: a single running max/sum is a serial dependency chain (3-4 cycles
// per element); 8 lanes vectorise. A NaN makes the row NaN later through x - max, so max needs no special case.
template <class T>
inline __attribute__((always_inline)) T row_max(const T* x, std::size_t c) {
    T lane[8];
    for (int k = 0; k < 8; ++k) lane[k] = x[0];
    std::size_t j = 0;
    for (; j + 8 <= c; j += 8)
        for (int k = 0; k < 8; ++k) lane[k] = x[j + k] > lane[k] ? x[j + k] : lane[k];
    T m = lane[0];
    for (int k = 1; k < 8; ++k) m = lane[k] > m ? lane[k] : m;
    for (; j < c; ++j) m = x[j] > m ? x[j] : m;
    return m;
}

template <class T>
inline __attribute__((always_inline)) T row_sum(const T* x, std::size_t c) {
    T lane[8] = {};
    std::size_t j = 0;
    for (; j + 8 <= c; j += 8)
        for (int k = 0; k < 8; ++k) lane[k] += x[j + k];
    T s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    for (; j < c; ++j) s += x[j];
    return s;
}

// Elementwise a - b and a / b for RowOps::map: scalars, and vectors in the AVX2 build.
struct Sub {
    template <class U> U operator()(U a, U b) const { return a - b; }
#ifdef PYBP_ISA_IS_avx2
    __m256 operator()(__m256 a, __m256 b) const { return _mm256_sub_ps(a, b); }
    __m256d operator()(__m256d a, __m256d b) const { return _mm256_sub_pd(a, b); }
#endif
};
struct Div {
    template <class U> U operator()(U a, U b) const { return a / b; }
#ifdef PYBP_ISA_IS_avx2
    __m256 operator()(__m256 a, __m256 b) const { return _mm256_div_ps(a, b); }
    __m256d operator()(__m256d a, __m256d b) const { return _mm256_div_pd(a, b); }
#endif
};

// The row operations softmax_block runs on: max, y = op(x, s) and sum over a row of c, exp over a block.
#ifdef PYBP_ISA_IS_avx2
// Explicit AVX2, bit for bit equal to the generic ones below (only the exp differs, by its FMA:
// tests/test_backend.py): max is exact in any order, so the last partial vector may overlap the previous one; the
// sum keeps row_sum's 8 lanes, its pairing tree and its sequential tail; x - m and e / s are elementwise. With the
// book's 10 classes the compiler left the generic loops mostly scalar (2.7 us for 100 rows; these take ~1 us).
template <class T>
struct RowOps {
    using W = simd::Vec<T>;
    using V = typename W::V;
    static constexpr std::size_t L = W::L;

    static T max(const T* x, std::size_t c) {
        if (c < L) return row_max(x, c);
        V v = W::load(x);
        std::size_t j = L;
        for (; j + L <= c; j += L) v = W::max(v, W::load(x + j));
        if (j < c) v = W::max(v, W::load(x + c - L));
        return W::hmax(v);
    }
    // y[j] = op(x[j], s) for j < c; y may alias x (the overlapping last vector is loaded before any store).
    template <class Op>
    static void map(T* y, const T* x, std::size_t c, T s, Op op) {
        if (c < L) {
            for (std::size_t j = 0; j < c; ++j) y[j] = op(x[j], s);
            return;
        }
        const V vs = W::set1(s), last = W::load(x + c - L);
        for (std::size_t j = 0; j + L <= c; j += L) W::store(y + j, op(W::load(x + j), vs));
        W::store(y + c - L, op(last, vs));
    }
    // row_sum's arithmetic: lanes l[k] = sum of x[8q + k] over full groups of 8, the pairing tree
    // ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)), then the tail added in order. The tree runs in registers
    // (the compiler spilled the lanes and added them one scalar at a time).
    static T sum(const T* x, std::size_t c) {
        if (c < 8) return row_sum(x, c);
        T s;
        if constexpr (L == 8) {
            V a = W::zero();
            for (std::size_t j = 0; j + 8 <= c; j += 8) a = W::add(a, W::load(x + j));
            a = _mm256_add_ps(a, _mm256_permute_ps(a, 0xB1));  // lane 0: l0 + l1, lane 4: l4 + l5
            a = _mm256_add_ps(a, _mm256_permute_ps(a, 0x4E));  // lane 0: (l0 + l1) + (l2 + l3), lane 4 likewise
            s = _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1)));
        } else {
            V a = W::zero(), b = W::zero();
            for (std::size_t j = 0; j + 8 <= c; j += 8) a = W::add(a, W::load(x + j)), b = W::add(b, W::load(x + j + 4));
            const __m256d h = _mm256_hadd_pd(a, b);  // l0 + l1, l4 + l5, l2 + l3, l6 + l7
            const __m128d q = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
            s = _mm_cvtsd_f64(_mm_add_sd(q, _mm_unpackhi_pd(q, q)));
        }
        for (std::size_t j = c / 8 * 8; j < c; ++j) s += x[j];
        return s;
    }
    static void exp(T* y, std::size_t n) {
        const auto id = [](auto v) { return v; };
        vexp_avx2::exp_map(y, y, n, id, id);
    }
};
#else
template <class T>
struct RowOps {
    static T max(const T* x, std::size_t c) { return row_max(x, c); }
    template <class Op>
    static void map(T* y, const T* x, std::size_t c, T s, Op op) {
        for (std::size_t j = 0; j < c; ++j) y[j] = op(x[j], s);
    }
    static T sum(const T* x, std::size_t c) { return row_sum(x, c); }
    static void exp(T* y, std::size_t n) {
        for (std::size_t k = 0; k < n; ++k) y[k] = exp_poly(y[k]);
    }
};
#endif

constexpr std::size_t kChunk = 128;  // rows per block: a block of logits stays in L1 across the passes

// y = softmax(x) for rows [0, r), r <= kChunk (y may alias x); the row maxima go to mx and the sums of
// exp(x - max) to sm (log-sum-exp = max + log(sum), taken later in bulk: see LogProduct).
// Flat passes rather than one loop per row: with the book's 10 classes a per-row exp loop would be mostly scalar
// tail, while one exp pass over the whole block vectorises fully.
template <class T>
void softmax_block(T* y, const T* x, std::size_t r, std::size_t c, T* mx, T* sm) {
    using R = RowOps<T>;
    for (std::size_t i = 0; i < r; ++i) {
        const T m = R::max(x + i * c, c);  // locals, not mx[i] / sm[i]: y may alias them for all the compiler knows
        mx[i] = m;
        R::map(y + i * c, x + i * c, c, m, Sub());
    }
    R::exp(y, r * c);
    for (std::size_t i = 0; i < r; ++i) {
        T* yi = y + i * c;
        const T s = R::sum(yi, c);
        sm[i] = s;
        R::map(yi, yi, c, s, Div());
    }
}

// sum_i log(s_i) for s_i >= 1 (row sums of exp(x - max): the max term is 1) as the log of a running product:
// one log per ~100 rows instead of one per row (a scalar log costs as much as a row of the book's 10 classes).
// NaN/inf sums propagate into the result.
struct LogProduct {
    double prod = 1.0, logs = 0.0;
    void add(double s) {
        prod *= s;
        if (!(prod < 1e280)) {  // also taken for NaN and inf: they end up in logs
            logs += std::log(prod);
            prod = 1.0;
        }
    }
    double total() const { return logs + std::log(prod); }
};

}  // namespace

template <class T>
void softmax(T* out, const T* x, std::size_t rows, std::size_t c) {
    if (c == 0) return;
    T mx[kChunk], sm[kChunk];
    for (std::size_t i = 0; i < rows; i += kChunk)
        softmax_block(out + i * c, x + i * c, std::min(kChunk, rows - i), c, mx, sm);
}

template <class T>
double softmax_xent_index(T* y, T* dx, const T* x, const std::int64_t* t, std::size_t n, std::size_t c) {
    // loss * n = sum_i (max_i + log s_i - x_i[t_i])
    double lin = 0.0;
    LogProduct logs;
    T mx[kChunk], sm[kChunk];
    const double dn = static_cast<double>(n), inv_n = 1.0 / dn;
    for (std::size_t i0 = 0; i0 < n; i0 += kChunk) {
        const std::size_t r = std::min(kChunk, n - i0);
        softmax_block(y + i0 * c, x + i0 * c, r, c, mx, sm);
        // dx = y / n, then the label column gets (y - 1) / n, in double and rounded once to T as the reference.
        // For float, y / float(n) is exactly the reference's value (n < 2^24 is exact in float, and rounding a
        // quotient of floats to double, then to float, equals rounding it to float once: 53 >= 2 * 24 + 2), at a
        // third of the work of widening. For double, y * (1 / n) (a division per element would cost more).
        const std::size_t len = r * c;
        T* d0 = dx + i0 * c;
        const T* y0 = y + i0 * c;
        if (sizeof(T) == 4 && n < (std::size_t{1} << 24)) {
            const T nf = static_cast<T>(n);
            for (std::size_t k = 0; k < len; ++k) d0[k] = y0[k] / nf;
        } else {
            for (std::size_t k = 0; k < len; ++k) d0[k] = static_cast<T>(static_cast<double>(y0[k]) * inv_n);
        }
        // The loss terms share the label loop: its scalar divisions and the loss's additions use different units
        // and overlap (a loop of each: ~0.07 us more at 100x10).
        for (std::size_t i = i0; i < i0 + r; ++i) {
            const auto ti = static_cast<std::size_t>(t[i]);
            dx[i * c + ti] = static_cast<T>((static_cast<double>(y[i * c + ti]) - 1.0) / dn);
            lin += static_cast<double>(mx[i - i0]) - static_cast<double>(x[i * c + ti]);
            logs.add(static_cast<double>(sm[i - i0]));
        }
    }
    return (lin + logs.total()) / dn;
}

template <class T>
double softmax_xent_onehot(T* y, T* dx, const T* x, const T* t, std::size_t n, std::size_t c) {
    // loss * n = sum_i sum_{j: t_ij != 0} t_ij (max_i + log s_i - x_ij); rows whose labels sum to exactly 1 (one-hot)
    // share one running log-product, other rows take their own log.
    double lin = 0.0;
    LogProduct logs;
    T mx[kChunk], sm[kChunk];
    const double dn = static_cast<double>(n);
    for (std::size_t i0 = 0; i0 < n; i0 += kChunk) {
        const std::size_t r = std::min(kChunk, n - i0);
        softmax_block(y + i0 * c, x + i0 * c, r, c, mx, sm);
        for (std::size_t i = i0; i < i0 + r; ++i) {
            const T* xi = x + i * c;
            const T* ti = t + i * c;
            double tsum = 0.0, tx = 0.0;
            for (std::size_t j = 0; j < c; ++j) {
                const double tj = static_cast<double>(ti[j]);
                if (tj != 0.0) {  // t = 0 skipped: a -inf logit elsewhere stays harmless
                    tsum += tj;
                    tx += tj * static_cast<double>(xi[j]);
                }
            }
            if (tsum == 0.0) continue;
            lin += tsum * static_cast<double>(mx[i - i0]) - tx;
            if (tsum == 1.0)
                logs.add(static_cast<double>(sm[i - i0]));
            else
                lin += tsum * std::log(static_cast<double>(sm[i - i0]));
        }
        const std::size_t len = r * c;
        for (std::size_t k = i0 * c; k < i0 * c + len; ++k)
            dx[k] = static_cast<T>((static_cast<double>(y[k]) - static_cast<double>(t[k])) / dn);
    }
    return (lin + logs.total()) / dn;
}

}  // namespace PYBP_ISA_NS
}  // namespace pybp

#include "kernel_instances.inc"
