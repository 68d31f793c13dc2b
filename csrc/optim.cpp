// Optimizer updates, in place, one parameter array per call. Each loop repeats the NumPy reference's operation
// order and rounding exactly (pybp/_ref.py; scalars arrive already rounded to T by the binding, as NumPy rounds a
// Python float meeting a float32 array), so every backend is bit-for-bit the book's update. No FMA contraction
// (-ffp-contract=off) for the same reason.
#include <cmath>

#include "kernel_family.hpp"
#include "line_peel.hpp"

namespace pybp {
namespace PYBP_ISA_NS {

template <class T>
void sgd_range(T* p, const T* g, std::size_t n, T lr) {
    for (std::size_t i = 0; i < n; ++i) p[i] = p[i] - lr * g[i];
}

template <class T>
void momentum_range(T* p, T* v, const T* g, std::size_t n, T lr, T mom) {
    for (std::size_t i = 0; i < n; ++i) {
        const T vi = mom * v[i] - lr * g[i];
        v[i] = vi;
        p[i] = p[i] + vi;
    }
}

template <class T>
void nesterov_range(T* p, T* v, const T* g, std::size_t n, T lr, T mom, T mom2, T lr_next) {
    for (std::size_t i = 0; i < n; ++i) {
        const T vi = v[i];  // the step uses the old velocity (the book's 2021 fix)
        const T pi = p[i] + mom2 * vi;
        p[i] = pi - lr_next * g[i];
        v[i] = vi * mom - lr * g[i];
    }
}

template <class T>
void adagrad_range(T* p, T* h, const T* g, std::size_t n, T lr, T eps) {
    for (std::size_t i = 0; i < n; ++i) {
        const T hi = h[i] + g[i] * g[i];
        h[i] = hi;
        p[i] = p[i] - (lr * g[i]) / (std::sqrt(hi) + eps);
    }
}

template <class T>
void rmsprop_range(T* p, T* h, const T* g, std::size_t n, T lr, T decay, T one_minus_decay, T eps) {
    for (std::size_t i = 0; i < n; ++i) {
        T hi = h[i] * decay;
        hi = hi + (one_minus_decay * g[i]) * g[i];
        h[i] = hi;
        p[i] = p[i] - (lr * g[i]) / (std::sqrt(hi) + eps);
    }
}

template <class T>
void adam_range(T* p, T* m, T* v, const T* g, std::size_t n, T lr_t, T one_minus_b1, T one_minus_b2, T eps) {
    for (std::size_t i = 0; i < n; ++i) {
        const T gi = g[i];
        const T mi = m[i] + one_minus_b1 * (gi - m[i]);
        const T vi = v[i] + one_minus_b2 * (gi * gi - v[i]);
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] - (lr_t * mi) / (std::sqrt(vi) + eps);
    }
}

// The updates peel to p's next cache line (from_line, line_peel.hpp): with NumPy's arrays 16 bytes past a line, Adam
// over 1M float32 parameters took 1.93x the time of line-aligned arrays (265 against 138 us), 1.45x in float64,
// 1.32x over 50K float32 (one thread). Elementwise: the same bits either way.
template <class T>
void sgd_update(T* p, const T* g, std::size_t n, T lr) {
    from_line(p, n, [=](std::size_t i0, std::size_t i1) { sgd_range(p + i0, g + i0, i1 - i0, lr); });
}

template <class T>
void momentum_update(T* p, T* v, const T* g, std::size_t n, T lr, T mom) {
    from_line(p, n, [=](std::size_t i0, std::size_t i1) { momentum_range(p + i0, v + i0, g + i0, i1 - i0, lr, mom); });
}

template <class T>
void nesterov_update(T* p, T* v, const T* g, std::size_t n, T lr, T mom, T mom2, T lr_next) {
    from_line(p, n, [=](std::size_t i0, std::size_t i1) {
        nesterov_range(p + i0, v + i0, g + i0, i1 - i0, lr, mom, mom2, lr_next);
    });
}

template <class T>
void adagrad_update(T* p, T* h, const T* g, std::size_t n, T lr, T eps) {
    from_line(p, n, [=](std::size_t i0, std::size_t i1) { adagrad_range(p + i0, h + i0, g + i0, i1 - i0, lr, eps); });
}

template <class T>
void rmsprop_update(T* p, T* h, const T* g, std::size_t n, T lr, T decay, T one_minus_decay, T eps) {
    from_line(p, n, [=](std::size_t i0, std::size_t i1) {
        rmsprop_range(p + i0, h + i0, g + i0, i1 - i0, lr, decay, one_minus_decay, eps);
    });
}

template <class T>
void adam_update(T* p, T* m, T* v, const T* g, std::size_t n, T lr_t, T one_minus_b1, T one_minus_b2, T eps) {
    from_line(p, n, [=](std::size_t i0, std::size_t i1) {
        adam_range(p + i0, m + i0, v + i0, g + i0, i1 - i0, lr_t, one_minus_b1, one_minus_b2, eps);
    });
}

}  // namespace PYBP_ISA_NS
}  // namespace pybp

#include "kernel_instances.inc"
