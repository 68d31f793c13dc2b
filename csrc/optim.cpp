// Optimizer updates, in place, one parameter array per call. Each loop repeats the NumPy reference's operation
// order and rounding exactly (pybp/_ref.py; scalars arrive already rounded to T by the binding, as NumPy rounds a
// Python float meeting a float32 array), so every backend is bit-for-bit the book's update. No FMA contraction
// (-ffp-contract=off) for the same reason.
#include <cmath>

#include "kernel_family.hpp"

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

#include "kernel_instances.inc"
