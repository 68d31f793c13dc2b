// Softmax over rows and the fused softmax-cross-entropy (the book's SoftmaxWithLoss forward + backward in one
// pass over the logits). Compiled once per ISA; exp_poly (vexp.hpp) lets the row loops vectorise.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "dispatch.hpp"
#include "vexp.hpp"

namespace pybp {
namespace PYBP_ISA_NS {
namespace {

// Row max and row sum with 8 independent lanes: a single running max/sum is a serial dependency chain (3-4 cycles
// per element); 8 lanes vectorise. A NaN makes the row NaN later through x - max, so max needs no special case.
template <class T>
T row_max(const T* x, std::size_t c) {
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
T row_sum(const T* x, std::size_t c) {
    T lane[8] = {};
    std::size_t j = 0;
    for (; j + 8 <= c; j += 8)
        for (int k = 0; k < 8; ++k) lane[k] += x[j + k];
    T s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    for (; j < c; ++j) s += x[j];
    return s;
}

constexpr std::size_t kChunk = 128;  // rows per block: a block of logits stays in L1 across the passes

// y = softmax(x) for rows [0, r), r <= kChunk (y may alias x); lse[i] = log-sum-exp of row i in double.
// Four flat passes instead of one loop per row: with the book's 10 classes a per-row exp loop would be mostly
// scalar tail, while one exp pass over the whole block vectorises fully.
template <class T>
void softmax_block(T* y, const T* x, std::size_t r, std::size_t c, double* lse) {
    T mx[kChunk];
    for (std::size_t i = 0; i < r; ++i) {
        const T m = row_max(x + i * c, c);
        mx[i] = m;
        for (std::size_t j = 0; j < c; ++j) y[i * c + j] = x[i * c + j] - m;
    }
    const std::size_t len = r * c;
    for (std::size_t k = 0; k < len; ++k) y[k] = exp_poly(y[k]);
    for (std::size_t i = 0; i < r; ++i) {
        T* yi = y + i * c;
        const T s = row_sum(yi, c);
        for (std::size_t j = 0; j < c; ++j) yi[j] = yi[j] / s;
        if (lse) lse[i] = static_cast<double>(mx[i]) + std::log(static_cast<double>(s));
    }
}

}  // namespace

template <class T>
void softmax(T* out, const T* x, std::size_t rows, std::size_t c) {
    if (c == 0) return;
    for (std::size_t i = 0; i < rows; i += kChunk)
        softmax_block(out + i * c, x + i * c, std::min(kChunk, rows - i), c, nullptr);
}

template <class T>
double softmax_xent_index(T* y, T* dx, const T* x, const std::int64_t* t, std::size_t n, std::size_t c) {
    double loss = 0.0, lse[kChunk];
    const double dn = static_cast<double>(n), inv_n = 1.0 / dn;
    for (std::size_t i0 = 0; i0 < n; i0 += kChunk) {
        const std::size_t r = std::min(kChunk, n - i0);
        softmax_block(y + i0 * c, x + i0 * c, r, c, lse);
        for (std::size_t i = i0; i < i0 + r; ++i) {
            const auto ti = static_cast<std::size_t>(t[i]);
            loss += lse[i - i0] - static_cast<double>(x[i * c + ti]);
        }
        // dx = y / n, then the label column gets (y - 1) / n (both rounded once from double, as the reference)
        const std::size_t len = r * c;
        T* d0 = dx + i0 * c;
        const T* y0 = y + i0 * c;
        for (std::size_t k = 0; k < len; ++k) d0[k] = static_cast<T>(static_cast<double>(y0[k]) * inv_n);
        for (std::size_t i = i0; i < i0 + r; ++i) {
            const auto ti = static_cast<std::size_t>(t[i]);
            dx[i * c + ti] = static_cast<T>((static_cast<double>(y[i * c + ti]) - 1.0) / dn);
        }
    }
    return loss / dn;
}

template <class T>
double softmax_xent_onehot(T* y, T* dx, const T* x, const T* t, std::size_t n, std::size_t c) {
    double loss = 0.0, lse[kChunk];
    const double dn = static_cast<double>(n), inv_n = 1.0 / dn;
    for (std::size_t i0 = 0; i0 < n; i0 += kChunk) {
        const std::size_t r = std::min(kChunk, n - i0);
        softmax_block(y + i0 * c, x + i0 * c, r, c, lse);
        for (std::size_t i = i0; i < i0 + r; ++i) {
            const T* xi = x + i * c;
            const T* ti = t + i * c;
            for (std::size_t j = 0; j < c; ++j) {
                const double tj = static_cast<double>(ti[j]);
                if (tj != 0.0) loss += tj * (lse[i - i0] - static_cast<double>(xi[j]));  // t = 0 skipped: -inf safe
            }
        }
        const std::size_t len = r * c;
        for (std::size_t k = i0 * c; k < i0 * c + len; ++k)
            dx[k] = static_cast<T>((static_cast<double>(y[k]) - static_cast<double>(t[k])) / dn);
    }
    return loss / dn;
}

}  // namespace PYBP_ISA_NS
}  // namespace pybp

#define PYBP_INSTANTIATE(T)                                                                                    \
    template void softmax(T*, const T*, std::size_t, std::size_t);                                             \
    template double softmax_xent_index(T*, T*, const T*, const std::int64_t*, std::size_t, std::size_t);       \
    template double softmax_xent_onehot(T*, T*, const T*, const T*, std::size_t, std::size_t);

namespace pybp {
namespace PYBP_ISA_NS {
PYBP_INSTANTIATE(float)
PYBP_INSTANTIATE(double)
}  // namespace PYBP_ISA_NS

#ifdef PYBP_ISA_IS_generic
template <class T>
void softmax(T* out, const T* x, std::size_t rows, std::size_t c) {
    PYBP_DISPATCH(softmax(out, x, rows, c));
}
template <class T>
double softmax_xent_index(T* y, T* dx, const T* x, const std::int64_t* t, std::size_t n, std::size_t c) {
    PYBP_DISPATCH(softmax_xent_index(y, dx, x, t, n, c));
}
template <class T>
double softmax_xent_onehot(T* y, T* dx, const T* x, const T* t, std::size_t n, std::size_t c) {
    PYBP_DISPATCH(softmax_xent_onehot(y, dx, x, t, n, c));
}
PYBP_INSTANTIATE(float)
PYBP_INSTANTIATE(double)
#endif
}  // namespace pybp
