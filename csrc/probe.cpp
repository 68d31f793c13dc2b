// Peak floating-point throughput probe for benchmark reports ("% of peak"). Compiled once per ISA: the AVX2
// build measures 256-bit FMA throughput, the AVX-512 build 512-bit FMA throughput, the generic build what baseline
// SSE2 code can reach.
#include <chrono>

#include "kernel_family.hpp"

#include "simd.hpp"

namespace pybp {
namespace PYBP_ISA_NS {

namespace {
// 12 independent accumulator chains hide the FMA latency (4-5 cycles) on 2 pipes; returns flops done.
template <class T>
double fma_burst(long iters, T* sink) {
#ifdef PYBP_ISA_HAS_VEC
    using W = simd::Vec<T>;  // this build's widest vector: 256-bit FMA in the AVX2 build, 512-bit in AVX-512's
    typename W::V a[12];
    const typename W::V m = W::set1(T(0.999999)), c = W::set1(T(1e-7));
    for (int j = 0; j < 12; ++j) a[j] = W::set1(T(j));
    for (long i = 0; i < iters; ++i)
        for (int j = 0; j < 12; ++j) a[j] = W::fma(a[j], m, c);
    typename W::V s = a[0];
    for (int j = 1; j < 12; ++j) s = W::add(s, a[j]);
    *sink += W::hsum(s);
    return double(iters) * 12 * W::L * 2;
#else
    // Baseline: 12 chains of 16-byte groups (SSE2 on x86-64, NEON elsewhere: plain loops the compiler
    // vectorises), separate multiply and add.
    constexpr int L = 16 / sizeof(T);
    const T m = T(0.999999), c = T(1e-7);
    T a[12][L];
    for (int j = 0; j < 12; ++j)
        for (int k = 0; k < L; ++k) a[j][k] = T(j);
    for (long i = 0; i < iters; ++i)
        for (int j = 0; j < 12; ++j)
            for (int k = 0; k < L; ++k) a[j][k] = a[j][k] * m + c;
    T s = 0;
    for (int j = 0; j < 12; ++j) s += a[j][0];
    *sink += s;
    return double(iters) * 12 * L * 2;
#endif
}
}  // namespace

template <class T>
double peak_gflops(double seconds) {
    using clock = std::chrono::steady_clock;
    T sink = 0;
    double flops = 0;
    const auto t0 = clock::now();
    double elapsed = 0;
    while (elapsed < seconds) {
        flops += fma_burst<T>(200000, &sink);
        elapsed = std::chrono::duration<double>(clock::now() - t0).count();
    }
    volatile T keep = sink;  // the result must be observable or the loop could be removed
    (void)keep;
    return flops / elapsed * 1e-9;
}

}  // namespace PYBP_ISA_NS
}  // namespace pybp

#include "kernel_instances.inc"
