// Peak floating-point throughput probe for benchmark reports ("% of peak"). Compiled once per ISA: the AVX2
// build measures 256-bit FMA throughput, the generic build what baseline SSE2 code can reach.
#include <chrono>

#include "kernel_family.hpp"

#if defined(PYBP_ISA_IS_avx2)
#include <immintrin.h>
#endif

namespace pybp {
namespace PYBP_ISA_NS {

namespace {
// 12 independent accumulator chains hide the FMA latency (4-5 cycles) on 2 pipes; returns flops done.
template <class T>
double fma_burst(long iters, T* sink) {
#if defined(PYBP_ISA_IS_avx2)
    if constexpr (sizeof(T) == 4) {
        __m256 a[12], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
        for (int j = 0; j < 12; ++j) a[j] = _mm256_set1_ps(float(j));
        for (long i = 0; i < iters; ++i)
            for (int j = 0; j < 12; ++j) a[j] = _mm256_fmadd_ps(a[j], m, c);
        __m256 s = a[0];
        for (int j = 1; j < 12; ++j) s = _mm256_add_ps(s, a[j]);
        *sink += T(_mm256_cvtss_f32(s));
        return double(iters) * 12 * 8 * 2;
    } else {
        __m256d a[12], m = _mm256_set1_pd(0.999999), c = _mm256_set1_pd(1e-7);
        for (int j = 0; j < 12; ++j) a[j] = _mm256_set1_pd(double(j));
        for (long i = 0; i < iters; ++i)
            for (int j = 0; j < 12; ++j) a[j] = _mm256_fmadd_pd(a[j], m, c);
        __m256d s = a[0];
        for (int j = 1; j < 12; ++j) s = _mm256_add_pd(s, a[j]);
        *sink += T(_mm256_cvtsd_f64(s));
        return double(iters) * 12 * 4 * 2;
    }
#else
    // Baseline x86-64: 128-bit SSE2 vectors, separate multiply and add (GCC vector extension).
    constexpr int L = 16 / sizeof(T);
    typedef T vec __attribute__((vector_size(16)));
    vec a[12], m, c;
    for (int k = 0; k < L; ++k) { m[k] = T(0.999999); c[k] = T(1e-7); }
    for (int j = 0; j < 12; ++j)
        for (int k = 0; k < L; ++k) a[j][k] = T(j);
    for (long i = 0; i < iters; ++i)
        for (int j = 0; j < 12; ++j) a[j] = a[j] * m + c;
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
