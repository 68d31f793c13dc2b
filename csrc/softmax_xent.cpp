// Softmax over rows and the fused softmax-cross-entropy (the book's SoftmaxWithLoss forward + backward in one
// pass over the logits). Compiled once per ISA; exp_poly (vexp.hpp) lets the row loops vectorise.
#include <cmath>
#include <cstdint>

#include "dispatch.hpp"
#include "vexp.hpp"

namespace pybp {
namespace PYBP_ISA_NS {
namespace {

// Row max; a NaN anywhere makes the row NaN later through x - max, so it needs no special case here.
template <class T>
T row_max(const T* x, std::size_t c) {
    T m = x[0];
    for (std::size_t j = 1; j < c; ++j) m = x[j] > m ? x[j] : m;
    return m;
}

// y = softmax(x) for one row (y may alias x); returns the row's log-sum-exp in double.
template <class T>
double softmax_row(T* y, const T* x, std::size_t c) {
    const T m = row_max(x, c);
    T s = T(0);
    for (std::size_t j = 0; j < c; ++j) {
        const T e = exp_poly(x[j] - m);
        y[j] = e;
        s += e;
    }
    for (std::size_t j = 0; j < c; ++j) y[j] = y[j] / s;
    return static_cast<double>(m) + std::log(static_cast<double>(s));
}

}  // namespace

template <class T>
void softmax(T* out, const T* x, std::size_t rows, std::size_t c) {
    if (c == 0) return;
    for (std::size_t i = 0; i < rows; ++i) softmax_row(out + i * c, x + i * c, c);
}

template <class T>
double softmax_xent_index(T* y, T* dx, const T* x, const std::int64_t* t, std::size_t n, std::size_t c) {
    double loss = 0.0;
    const double inv_n = 1.0 / static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i) {
        const T* xi = x + i * c;
        T* yi = y + i * c;
        T* di = dx + i * c;
        const double lse = softmax_row(yi, xi, c);
        const auto ti = static_cast<std::size_t>(t[i]);
        loss += lse - static_cast<double>(xi[ti]);
        for (std::size_t j = 0; j < c; ++j) di[j] = static_cast<T>(static_cast<double>(yi[j]) * inv_n);
        di[ti] = static_cast<T>((static_cast<double>(yi[ti]) - 1.0) * inv_n);
    }
    return loss * inv_n;
}

template <class T>
double softmax_xent_onehot(T* y, T* dx, const T* x, const T* t, std::size_t n, std::size_t c) {
    double loss = 0.0;
    const double inv_n = 1.0 / static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i) {
        const T* xi = x + i * c;
        const T* ti = t + i * c;
        T* yi = y + i * c;
        T* di = dx + i * c;
        const double lse = softmax_row(yi, xi, c);
        for (std::size_t j = 0; j < c; ++j) {
            const double tj = static_cast<double>(ti[j]);
            if (tj != 0.0) loss += tj * (lse - static_cast<double>(xi[j]));  // skip t = 0: -inf logits stay harmless
            di[j] = static_cast<T>((static_cast<double>(yi[j]) - tj) * inv_n);
        }
    }
    return loss * inv_n;
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
