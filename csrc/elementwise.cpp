// Elementwise activation kernels (ReLU, sigmoid). Compiled once per ISA; plain loops the compiler vectorises.
#include <cmath>

#include "kernel_family.hpp"
#include "simd.hpp"
#include "vexp.hpp"

namespace pybp {
namespace PYBP_ISA_NS {

template <class T>
void relu_forward(T* out, unsigned char* mask, const T* x, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const T v = x[i];
        const bool m = v <= T(0);
        mask[i] = m;
        out[i] = m ? T(0) : v;
    }
}

template <class T>
void relu_backward(T* dx, const T* dout, const unsigned char* mask, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) dx[i] = mask[i] ? T(0) : dout[i];
}

// 1 / (1 + e), for T and its vectors.
struct Logistic {
    template <class U> U operator()(U e) const {
        using W = simd::VecOf<U>;
        return W::div(W::set1(1), W::add(W::set1(1), e));
    }
};

// AVX2 / AVX-512: exp chains interleaved, ~1.5x the compiler's loop; generic: a loop the compiler vectorises.
// <= 1 ulp exp.
template <class T>
void sigmoid_forward(T* out, const T* x, std::size_t n) {
    exp_map(out, x, n, simd::Neg(), Logistic());
}

template <class T>
void sigmoid_backward(T* dx, const T* dout, const T* y, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) dx[i] = dout[i] * (T(1) - y[i]) * y[i];
}

}  // namespace PYBP_ISA_NS
}  // namespace pybp

#include "kernel_instances.inc"
