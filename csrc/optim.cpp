// Optimizer updates, in place, one parameter array per call. Each loop repeats the NumPy reference's operation
// order and rounding exactly (pybp/_ref.py; scalars arrive already rounded to T by the binding, as NumPy rounds a
// Python float meeting a float32 array), so every backend is bit-for-bit the book's update. No FMA contraction
// (-ffp-contract=off) for the same reason.
#include <cmath>

#include "dispatch.hpp"

namespace pybp {
namespace PYBP_ISA_NS {

template <class T>
void sgd_update(T* p, const T* g, std::size_t n, T lr) {
    for (std::size_t i = 0; i < n; ++i) p[i] = p[i] - lr * g[i];
}

template <class T>
void momentum_update(T* p, T* v, const T* g, std::size_t n, T lr, T mom) {
    for (std::size_t i = 0; i < n; ++i) {
        const T vi = mom * v[i] - lr * g[i];
        v[i] = vi;
        p[i] = p[i] + vi;
    }
}

template <class T>
void nesterov_update(T* p, T* v, const T* g, std::size_t n, T lr, T mom, T mom2, T lr_next) {
    for (std::size_t i = 0; i < n; ++i) {
        const T vi = v[i];  // the step uses the old velocity (the book's 2021 fix)
        const T pi = p[i] + mom2 * vi;
        p[i] = pi - lr_next * g[i];
        v[i] = vi * mom - lr * g[i];
    }
}

template <class T>
void adagrad_update(T* p, T* h, const T* g, std::size_t n, T lr, T eps) {
    for (std::size_t i = 0; i < n; ++i) {
        const T hi = h[i] + g[i] * g[i];
        h[i] = hi;
        p[i] = p[i] - (lr * g[i]) / (std::sqrt(hi) + eps);
    }
}

template <class T>
void rmsprop_update(T* p, T* h, const T* g, std::size_t n, T lr, T decay, T one_minus_decay, T eps) {
    for (std::size_t i = 0; i < n; ++i) {
        T hi = h[i] * decay;
        hi = hi + (one_minus_decay * g[i]) * g[i];
        h[i] = hi;
        p[i] = p[i] - (lr * g[i]) / (std::sqrt(hi) + eps);
    }
}

template <class T>
void adam_update(T* p, T* m, T* v, const T* g, std::size_t n, T lr_t, T one_minus_b1, T one_minus_b2, T eps) {
    for (std::size_t i = 0; i < n; ++i) {
        const T gi = g[i];
        const T mi = m[i] + one_minus_b1 * (gi - m[i]);
        const T vi = v[i] + one_minus_b2 * (gi * gi - v[i]);
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] - (lr_t * mi) / (std::sqrt(vi) + eps);
    }
}

}  // namespace PYBP_ISA_NS
}  // namespace pybp

#define PYBP_INSTANTIATE(T)                                                                      \
    template void sgd_update(T*, const T*, std::size_t, T);                                      \
    template void momentum_update(T*, T*, const T*, std::size_t, T, T);                          \
    template void nesterov_update(T*, T*, const T*, std::size_t, T, T, T, T);                    \
    template void adagrad_update(T*, T*, const T*, std::size_t, T, T);                           \
    template void rmsprop_update(T*, T*, const T*, std::size_t, T, T, T, T);                     \
    template void adam_update(T*, T*, T*, const T*, std::size_t, T, T, T, T);

namespace pybp {
namespace PYBP_ISA_NS {
PYBP_INSTANTIATE(float)
PYBP_INSTANTIATE(double)
}  // namespace PYBP_ISA_NS

#ifdef PYBP_ISA_IS_generic
template <class T>
void sgd_update(T* p, const T* g, std::size_t n, T lr) {
    PYBP_DISPATCH(sgd_update(p, g, n, lr));
}
template <class T>
void momentum_update(T* p, T* v, const T* g, std::size_t n, T lr, T mom) {
    PYBP_DISPATCH(momentum_update(p, v, g, n, lr, mom));
}
template <class T>
void nesterov_update(T* p, T* v, const T* g, std::size_t n, T lr, T mom, T mom2, T lr_next) {
    PYBP_DISPATCH(nesterov_update(p, v, g, n, lr, mom, mom2, lr_next));
}
template <class T>
void adagrad_update(T* p, T* h, const T* g, std::size_t n, T lr, T eps) {
    PYBP_DISPATCH(adagrad_update(p, h, g, n, lr, eps));
}
template <class T>
void rmsprop_update(T* p, T* h, const T* g, std::size_t n, T lr, T decay, T one_minus_decay, T eps) {
    PYBP_DISPATCH(rmsprop_update(p, h, g, n, lr, decay, one_minus_decay, eps));
}
template <class T>
void adam_update(T* p, T* m, T* v, const T* g, std::size_t n, T lr_t, T one_minus_b1, T one_minus_b2, T eps) {
    PYBP_DISPATCH(adam_update(p, m, v, g, n, lr_t, one_minus_b1, one_minus_b2, eps));
}
PYBP_INSTANTIATE(float)
PYBP_INSTANTIATE(double)
#endif
}  // namespace pybp
