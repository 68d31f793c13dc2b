// Elementwise activation kernels (ReLU, sigmoid). Compiled once per ISA; plain loops the compiler vectorises.
#include <cmath>

#include "kernel_family.hpp"
#include "vexp.hpp"
#ifdef PYBP_ISA_IS_avx2
#include "vexp_avx2.hpp"
#endif

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

#ifdef PYBP_ISA_IS_avx2
// -x and 1 / (1 + e) for vexp_avx2::exp_map, scalar and vector: the same operations as the generic loop below
// (its exp without FMA: within 1 ulp).
struct Neg {
    template <class U> U operator()(U v) const { return -v; }
    __m256 operator()(__m256 v) const { return _mm256_xor_ps(v, _mm256_set1_ps(-0.0f)); }
    __m256d operator()(__m256d v) const { return _mm256_xor_pd(v, _mm256_set1_pd(-0.0)); }
};
struct Logistic {
    template <class U> U operator()(U e) const { return U(1) / (U(1) + e); }
    __m256 operator()(__m256 e) const { return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e)); }
    __m256d operator()(__m256d e) const { return _mm256_div_pd(_mm256_set1_pd(1.0), _mm256_add_pd(_mm256_set1_pd(1.0), e)); }
};
#endif

template <class T>
void sigmoid_forward(T* out, const T* x, std::size_t n) {
#ifdef PYBP_ISA_IS_avx2
    vexp_avx2::exp_map(out, x, n, Neg(), Logistic());  // exp chains interleaved: ~1.5x the compiler's loop
#else
    for (std::size_t i = 0; i < n; ++i) out[i] = T(1) / (T(1) + exp_poly(-x[i]));  // vectorises; <= 1 ulp exp
#endif
}

template <class T>
void sigmoid_backward(T* dx, const T* dout, const T* y, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) dx[i] = dout[i] * (T(1) - y[i]) * y[i];
}

}  // namespace PYBP_ISA_NS
}  // namespace pybp

#include "kernel_instances.inc"
