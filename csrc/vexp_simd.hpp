// exp_poly (vexp.hpp) on simd::Vec<T> (AVX2 or AVX-512), operation for operation with the vector builds' scalar
// exp_poly (all fuse their multiply-adds), so an element's result depends neither on where it falls nor on the
// vector width (the AVX-512 build's exp is bit-identical to the AVX2 build's); within 1 ulp of the generic build,
// which has no FMA. Plus an array loop that keeps three vectors in flight. Why: the compiler's vectorised exp_poly
// loop runs one vector at a time along a ~60-cycle dependency chain (Cody-Waite, Horner, scaling): 0.89 ns per
// float exp here (AVX2), 0.66 ns interleaved; with FMA and the fast path below 0.32 ns (1000 floats).
#pragma once

#include <cstddef>

#include "simd.hpp"
#include "vexp.hpp"

namespace pybp {
namespace vexp_simd {

// K vectors at once, each step applied to all K before the next, so K independent chains are interleaved in the
// instruction stream (written one vector at a time, the compiler emits the chains back to back and the core,
// whose scheduler holds less than two of them, runs mostly one at a time).
//
// reduce_poly, the core shared by both paths below: for arguments x (already in range, no NaN) t = x / ln 2 +
// magic, rounded, so its low bits hold n = round(x / ln 2), and p = e^r for r = x - n ln 2 (Cody-Waite, Horner).
template <class T, int K>
inline void reduce_poly(const typename simd::Vec<T>::V (&x)[K], typename simd::Vec<T>::V (&p)[K],
                        typename simd::Vec<T>::V (&t)[K]) {
    using W = simd::Vec<T>;
    using E = vexp_detail::ExpConst<T>;
    const typename W::V magic = W::set1(E::magic);
    typename W::V r[K];
    for (int k = 0; k < K; ++k) {
        t[k] = W::fma(x[k], W::set1(E::log2e), magic);
        const typename W::V nf = W::sub(t[k], magic);
        r[k] = W::fnma(nf, W::set1(E::ln2_hi), x[k]);
        r[k] = W::fnma(nf, W::set1(E::ln2_lo), r[k]);
    }
    constexpr const auto& c = E::poly;
    for (int k = 0; k < K; ++k) p[k] = W::set1(c[0]);
    for (std::size_t i = 1; i < sizeof c / sizeof c[0]; ++i)
        for (int k = 0; k < K; ++k) p[k] = W::fma(p[k], r[k], W::set1(c[i]));
}

// Any argument: clamped (NaN -> 0, restored at the end), 2^n applied as two exact powers of two so that
// subnormal results come out right.
template <class T, int K>
inline void exp_k(typename simd::Vec<T>::V (&v)[K]) {
    using W = simd::Vec<T>;
    using V = typename W::V;
    using E = vexp_detail::ExpConst<T>;
    const V magic = W::set1(E::magic);
    typename W::M ord[K];
    V x[K], p[K], t[K];
    for (int k = 0; k < K; ++k) ord[k] = W::ordered(v[k]);
    for (int k = 0; k < K; ++k) x[k] = W::zero_unless(ord[k], W::min(W::max(v[k], W::set1(E::lo)), W::set1(E::hi)));
    reduce_poly<T>(x, p, t);
    for (int k = 0; k < K; ++k) {
        typename W::I n1, n2;
        if constexpr (sizeof(T) == 4) {  // n = round(x / ln 2) sits in t's low bits; n1 = floor(n / 2)
            const typename W::I n = W::isub(W::bits(t[k]), W::bits(magic));
            n1 = W::ihalf(n);
            n2 = W::isub(n, n1);
        } else {  // no 64-bit arithmetic shift in AVX2: halve in floating point, as exp_poly does (AVX-512 too)
            const V nf = W::sub(t[k], magic);
            const V n1f = W::floor(W::mul(nf, W::set1(0.5)));
            n1 = W::isub(W::bits(W::add(n1f, magic)), W::bits(magic));
            n2 = W::isub(W::bits(W::add(W::sub(nf, n1f), magic)), W::bits(magic));
        }
        const V r = W::mul(W::mul(p[k], W::pow2(n1)), W::pow2(n2));
        v[k] = W::select(ord[k], r, v[k]);  // NaN stays the input
    }
}

// Fast path for K vectors whose lanes all satisfy |x| <= ExpConst::fast (87 for float, 700 for double), no NaN:
// no clamping is needed, 2^n is a normal number and no lane needs the NaN fix, so exp_k's clamp, ordered mask,
// two-step scaling and blend drop out (8 of ~33 operations per vector). Results are bit-identical to exp_k: the
// clamp is the identity here, and p * 2^n rounds once like (p * 2^n1) * 2^n2 (the first product is exact).
template <class T, int K>
inline bool all_fast(const typename simd::Vec<T>::V (&v)[K]) {
    using W = simd::Vec<T>;
    const typename W::V lim = W::set1(vexp_detail::ExpConst<T>::fast);
    typename W::M bad = W::not_le(W::abs(v[0]), lim);  // unordered (NaN) counts as bad
    for (int i = 1; i < K; ++i) bad = W::mask_or(bad, W::not_le(W::abs(v[i]), lim));
    return W::none(bad);
}

template <class T, int K>
inline void exp_k_fast(typename simd::Vec<T>::V (&v)[K]) {
    using W = simd::Vec<T>;
    const typename W::I magic = W::bits(W::set1(vexp_detail::ExpConst<T>::magic));
    typename W::V p[K], t[K];
    reduce_poly<T>(v, p, t);
    for (int k = 0; k < K; ++k) v[k] = W::mul(p[k], W::pow2(W::isub(W::bits(t[k]), magic)));
}

// exp_k or, when every lane allows it, exp_k_fast.
template <class T, int K>
inline void exp_k_any(typename simd::Vec<T>::V (&v)[K]) {
    if (all_fast<T>(v))
        exp_k_fast<T>(v);
    else
        exp_k<T>(v);
}

// out[i] = f(exp_poly(g(x[i]))) for i < n, where g and f are elementwise (vector and scalar overloads); K vectors
// per step, then single vectors, then scalar exp_poly for the last n % L. out may alias x.
template <class T, class Pre, class Post>
inline void exp_map(T* out, const T* x, std::size_t n, Pre g, Post f) {
    using W = simd::Vec<T>;
    using V = typename W::V;
    constexpr std::size_t L = W::L;
    constexpr int K = 3;
    std::size_t i = 0;
    for (; i + K * L <= n; i += K * L) {
        V v[K];
        for (int k = 0; k < K; ++k) v[k] = g(W::load(x + i + k * L));
        exp_k_any<T>(v);
        for (int k = 0; k < K; ++k) W::store(out + i + k * L, f(v[k]));
    }
    for (; i + L <= n; i += L) {
        V v[1] = {g(W::load(x + i))};
        exp_k_any<T>(v);
        W::store(out + i, f(v[0]));
    }
    exp_map_scalar(out + i, x + i, n - i, g, f);
}

}  // namespace vexp_simd
}  // namespace pybp
