// Elementwise activation kernels (ReLU, sigmoid). Compiled once per ISA; plain loops the compiler vectorises.
#include <algorithm>
#include <cmath>

#include "kernel_family.hpp"
#include "line_peel.hpp"
#include "simd.hpp"
#include "threads.hpp"
#include "vexp.hpp"

namespace pybp {
namespace PYBP_ISA_NS {

// ReLU runs in blocks of kReluBlock elements (whole cache lines) on the pool's threads, 2^17 elements per thread
// at least (a CNN layer's batch: its passes were a third of DeepConvNet's serial time at 2 threads; an MLP's 256K
// hidden units take ~15 us, not worth a wake). Elementwise: the same bits for any thread count. The loops are
// functions of their own: written inside the lambdas, they did not vectorise (6-50x slower).
constexpr std::size_t kReluBlock = 4096;

template <class F>
void relu_blocks(std::size_t n, F&& f) {
    const std::ptrdiff_t blocks = std::ptrdiff_t((n + kReluBlock - 1) / kReluBlock);
    for_ranges(blocks, std::ptrdiff_t(n), [&](std::ptrdiff_t b0, std::ptrdiff_t b1) {
        f(std::size_t(b0) * kReluBlock, std::min(n, std::size_t(b1) * kReluBlock));
    });
}

// The backward kernels peel to the output's next cache line (from_line, line_peel.hpp): unaligned, ReLU backward took
// 1.22x (f32) and 1.23x (f64) the time of line-aligned arrays, sigmoid backward 1.17x and 1.37x (1.25M elements,
// one thread). ReLU forward measured the same either way (its stores are bytes and vectors), so it does not peel.

template <class T>
void relu_forward_range(T* out, unsigned char* mask, const T* x, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const T v = x[i];
        const bool m = v <= T(0);
        mask[i] = m;
        out[i] = m ? T(0) : v;
    }
}

template <class T>
void relu_backward_range(T* dx, const T* dout, const unsigned char* mask, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) dx[i] = mask[i] ? T(0) : dout[i];
}

template <class T>
void relu_forward(T* out, unsigned char* mask, const T* x, std::size_t n) {
    relu_blocks(n, [=](std::size_t i0, std::size_t i1) {
        relu_forward_range(out + i0, mask + i0, x + i0, i1 - i0);
    });
}

template <class T>
void relu_backward(T* dx, const T* dout, const unsigned char* mask, std::size_t n) {
    relu_blocks(n, [=](std::size_t i0, std::size_t i1) {
        from_line(dx + i0, i1 - i0, [=](std::size_t j0, std::size_t j1) {
            relu_backward_range(dx + i0 + j0, dout + i0 + j0, mask + i0 + j0, j1 - j0);
        });
    });
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
void sigmoid_backward_range(T* dx, const T* dout, const T* y, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) dx[i] = dout[i] * (T(1) - y[i]) * y[i];
}

template <class T>
void sigmoid_backward(T* dx, const T* dout, const T* y, std::size_t n) {
    from_line(dx, n, [=](std::size_t i0, std::size_t i1) {
        sigmoid_backward_range(dx + i0, dout + i0, y + i0, i1 - i0);
    });
}

}  // namespace PYBP_ISA_NS
}  // namespace pybp

#include "kernel_instances.inc"
