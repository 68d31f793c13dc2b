// Softmax over rows and the fused softmax-cross-entropy (the book's SoftmaxWithLoss forward + backward in one
// pass over the logits). Compiled once per ISA; exp_poly (vexp.hpp) lets the row loops vectorise.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "compiler.hpp"
#include "kernel_family.hpp"
#include "simd.hpp"
#include "vexp.hpp"

namespace pybp {
namespace PYBP_ISA_NS {
namespace {

// Row max and row sum with 8 independent lanes: a single running max/sum is a serial dependency chain (3-4 cycles
// per element); 8 lanes vectorise. A NaN makes the row NaN later through x - max, so max needs no special case.
// The generic build's RowOps (below) are these; the vector builds' compute the same on vectors.
template <class T>
PYBP_ALWAYS_INLINE T row_max(const T* x, std::size_t c) {
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
PYBP_ALWAYS_INLINE T row_sum(const T* x, std::size_t c) {
    T lane[8] = {};
    std::size_t j = 0;
    for (; j + 8 <= c; j += 8)
        for (int k = 0; k < 8; ++k) lane[k] += x[j + k];
    T s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    for (; j < c; ++j) s += x[j];
    return s;
}

// The row operations softmax_block runs on: max, y = op(x, s) and sum over a row of c, exp over a block, written
// once on simd::Narrow<T>: 256-bit vectors in both x86 builds (16 float lanes would leave the book's 10 classes to
// the scalar path), or one lane in the generic build. All builds give the same bits (only the exp differs, by the
// vector builds' FMA: tests/test_backend.py): max is exact in any order, so the last partial
// vector may overlap the previous one; the sum is the same 8-lane sum in both; x - m and e / s are elementwise.
// With the book's 10 classes the compiler left the generic loops mostly scalar (2.7 us for 100 rows; the AVX2
// build takes ~1 us).
template <class T>
struct RowOps {
    using W = simd::Narrow<T>;
    using V = typename W::V;
    static constexpr std::size_t L = W::L;

    static T max(const T* x, std::size_t c) {
        if constexpr (L == 1) {
            return row_max(x, c);  // one lane: row_max's 8 independent lanes, which the compiler vectorises
        } else {
            if (c < L) return row_max(x, c);
            V v = W::load(x);
            std::size_t j = L;
            for (; j + L <= c; j += L) v = W::max(v, W::load(x + j));
            if (j < c) v = W::max(v, W::load(x + c - L));
            return W::hmax(v);
        }
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
    // 8 lanes l[k] = sum of x[8q + k] over full groups of 8 (8 / L vectors), the pairing tree
    // ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) in registers (W::tree8), then the tail added in order.
    // 8 independent lanes rather than one running sum: a serial chain costs 3-4 cycles per element.
    static T sum(const T* x, std::size_t c) {
        if constexpr (L == 1) {
            return row_sum(x, c);  // written on Scalar<T>, GCC vectorised it with other operand orders (NaN signs)
        } else {
            constexpr int NV = 8 / L;
            V a[NV];
            for (int v = 0; v < NV; ++v) a[v] = W::zero();
            std::size_t j = 0;
            for (; j + 8 <= c; j += 8)
                for (int v = 0; v < NV; ++v) a[v] = W::add(a[v], W::load(x + j + v * L));
            T s = W::tree8(a);
            for (; j < c; ++j) s += x[j];
            return s;
        }
    }
    static void exp(T* y, std::size_t n) { exp_map(y, y, n, simd::Identity(), simd::Identity()); }
};

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
        R::map(y + i * c, x + i * c, c, m, simd::Sub());
    }
    R::exp(y, r * c);
    for (std::size_t i = 0; i < r; ++i) {
        T* yi = y + i * c;
        const T s = R::sum(yi, c);
        sm[i] = s;
        R::map(yi, yi, c, s, simd::Div());
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
