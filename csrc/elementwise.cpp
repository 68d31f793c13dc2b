// Elementwise activation kernels (ReLU, sigmoid). Compiled once per ISA; plain loops the compiler vectorises.
#include <cmath>

#include "dispatch.hpp"
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

template <class T>
void sigmoid_forward(T* out, const T* x, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[i] = T(1) / (T(1) + exp_poly(-x[i]));  // vectorises; <= 1 ulp exp
}

template <class T>
void sigmoid_backward(T* dx, const T* dout, const T* y, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) dx[i] = dout[i] * (T(1) - y[i]) * y[i];
}

}  // namespace PYBP_ISA_NS
}  // namespace pybp

#define PYBP_INSTANTIATE(T)                                                                    \
    template void relu_forward(T*, unsigned char*, const T*, std::size_t);                     \
    template void relu_backward(T*, const T*, const unsigned char*, std::size_t);              \
    template void sigmoid_forward(T*, const T*, std::size_t);                                  \
    template void sigmoid_backward(T*, const T*, const T*, std::size_t);

namespace pybp {
namespace PYBP_ISA_NS {
PYBP_INSTANTIATE(float)
PYBP_INSTANTIATE(double)
}  // namespace PYBP_ISA_NS

#ifdef PYBP_ISA_IS_generic
template <class T>
void relu_forward(T* out, unsigned char* mask, const T* x, std::size_t n) {
    PYBP_DISPATCH(relu_forward(out, mask, x, n));
}
template <class T>
void relu_backward(T* dx, const T* dout, const unsigned char* mask, std::size_t n) {
    PYBP_DISPATCH(relu_backward(dx, dout, mask, n));
}
template <class T>
void sigmoid_forward(T* out, const T* x, std::size_t n) {
    PYBP_DISPATCH(sigmoid_forward(out, x, n));
}
template <class T>
void sigmoid_backward(T* dx, const T* dout, const T* y, std::size_t n) {
    PYBP_DISPATCH(sigmoid_backward(dx, dout, y, n));
}
PYBP_INSTANTIATE(float)
PYBP_INSTANTIATE(double)
#endif
}  // namespace pybp
