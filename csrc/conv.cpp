// Convolution family (NCHW): forward, input gradient, weight + bias gradient. Compiled once per ISA.
//
// Algorithm, per image: im2col into a K x P column block (K = C*FH*FW filter taps, P = OH*OW output positions;
// ~100 KiB for the book's layers, so it stays in L2), then the tuned GEMM of this ISA build:
//   forward          out_n (FN x P)  = W (FN x K) @ col_n + b          (lands in NCHW order, no transpose)
//   weight gradient  dW    (FN x K) += dout_n (FN x P) @ col_n^T       (col read transposed through strides)
//   input gradient   dcol  (K x P)   = W^T @ dout_n, then col2im adds it onto dx_n
// A 1x1 filter with stride 1 and no padding uses the image itself as its column block.
// Threads: none of its own; the GEMM splits products large enough to pay for it (see gemm.cpp).
#include <algorithm>
#include <cstring>
#include <vector>

#include "dispatch.hpp"

namespace pybp {
namespace PYBP_ISA_NS {
namespace {

using idx = std::ptrdiff_t;

struct Geom {
    idx c, h, w, fh, fw, stride, pad, oh, ow;
    idx taps() const { return c * fh * fw; }
    idx positions() const { return oh * ow; }
    bool identity() const { return fh == 1 && fw == 1 && stride == 1 && pad == 0; }
    // Output columns [lo, hi) whose input column ow*stride + j - pad lies inside the image.
    void valid_cols(idx j, idx* lo, idx* hi) const {
        *lo = j >= pad ? 0 : std::min(ow, (pad - j + stride - 1) / stride);
        const idx last = w - 1 + pad - j;  // largest ow*stride that stays inside
        *hi = last < 0 ? 0 : std::min(ow, last / stride + 1);
        *hi = std::max(*hi, *lo);
    }
};

Geom make_geom(std::size_t c, std::size_t h, std::size_t w, std::size_t fh, std::size_t fw, std::size_t stride,
               std::size_t pad) {
    Geom g{idx(c), idx(h), idx(w), idx(fh), idx(fw), idx(stride), idx(pad), 0, 0};
    g.oh = (g.h + 2 * g.pad - g.fh) / g.stride + 1;
    g.ow = (g.w + 2 * g.pad - g.fw) / g.stride + 1;
    return g;
}

// Walks the im2col layout of one image: for each filter tap k = (ch, i, j) and output row oh, calls
// f(k, oh, src, lo, hi) with src the input element under output column 0 (so output column o reads
// src[o * stride]; only columns [lo, hi) lie inside the image), or src = nullptr when the input row is padding.
template <class T, class F>
void for_each_tap_row(T* x, const Geom& g, F&& f) {
    for (idx ch = 0; ch < g.c; ++ch)
        for (idx i = 0; i < g.fh; ++i)
            for (idx j = 0; j < g.fw; ++j) {
                const idx k = (ch * g.fh + i) * g.fw + j;
                idx lo, hi;
                g.valid_cols(j, &lo, &hi);
                for (idx oh = 0; oh < g.oh; ++oh) {
                    const idx r = oh * g.stride + i - g.pad;
                    T* src = r < 0 || r >= g.h ? nullptr : x + (ch * g.h + r) * g.w + j - g.pad;
                    f(k, oh, src, lo, hi);
                }
            }
}

// col (K x P) = the windows of one image x (C x H x W); padding reads as zero.
template <class T>
void im2col(T* col, const T* x, const Geom& g) {
    const idx P = g.positions(), s = g.stride;
    for_each_tap_row(x, g, [&](idx k, idx oh, const T* src, idx lo, idx hi) {
        T* dst = col + k * P + oh * g.ow;
        if (!src) lo = hi = 0;
        std::fill(dst, dst + lo, T(0));
        if (s == 1)
            for (idx o = lo; o < hi; ++o) dst[o] = src[o];
        else
            for (idx o = lo; o < hi; ++o) dst[o] = src[o * s];
        std::fill(dst + hi, dst + g.ow, T(0));
    });
}

// dx (C x H x W) += the adjoint of im2col applied to dcol (K x P); padding positions are dropped.
template <class T>
void col2im_add(T* dx, const T* dcol, const Geom& g) {
    const idx P = g.positions(), s = g.stride;
    for_each_tap_row(dx, g, [&](idx k, idx oh, T* dst, idx lo, idx hi) {
        if (!dst) return;
        const T* src = dcol + k * P + oh * g.ow;
        if (s == 1)
            for (idx o = lo; o < hi; ++o) dst[o] += src[o];
        else
            for (idx o = lo; o < hi; ++o) dst[o * s] += src[o];
    });
}

}  // namespace

template <class T>
void conv_forward(T* out, const T* x, const T* w, const T* b, std::size_t n, std::size_t c, std::size_t h,
                  std::size_t wd, std::size_t fn, std::size_t fh, std::size_t fw, std::size_t stride,
                  std::size_t pad) {
    const Geom g = make_geom(c, h, wd, fh, fw, stride, pad);
    const idx K = g.taps(), P = g.positions(), F = idx(fn);
    std::vector<T> col(g.identity() ? 0 : std::size_t(K * P));
    for (idx im = 0; im < idx(n); ++im) {
        const T* xi = x + im * g.c * g.h * g.w;
        T* oi = out + im * F * P;
        if (!g.identity()) im2col(col.data(), xi, g);
        const T* ci = g.identity() ? xi : col.data();
        for (idx f = 0; f < F; ++f) std::fill(oi + f * P, oi + (f + 1) * P, b[f]);
        gemm<T>(oi, P, w, K, 1, ci, P, 1, std::size_t(F), std::size_t(P), std::size_t(K), T(1), T(1));
    }
}

template <class T>
void conv_backward_data(T* dx, const T* dout, const T* w, std::size_t n, std::size_t c, std::size_t h,
                        std::size_t wd, std::size_t fn, std::size_t fh, std::size_t fw, std::size_t stride,
                        std::size_t pad) {
    const Geom g = make_geom(c, h, wd, fh, fw, stride, pad);
    const idx K = g.taps(), P = g.positions(), F = idx(fn), img = g.c * g.h * g.w;
    std::vector<T> dcol(g.identity() ? 0 : std::size_t(K * P));
    for (idx im = 0; im < idx(n); ++im) {
        T* dxi = dx + im * img;
        const T* di = dout + im * F * P;
        if (g.identity()) {  // dx_n is dcol itself
            gemm<T>(dxi, P, w, 1, K, di, P, 1, std::size_t(K), std::size_t(P), std::size_t(F), T(1), T(0));
            continue;
        }
        gemm<T>(dcol.data(), P, w, 1, K, di, P, 1, std::size_t(K), std::size_t(P), std::size_t(F), T(1), T(0));
        std::fill(dxi, dxi + img, T(0));
        col2im_add(dxi, dcol.data(), g);
    }
}

template <class T>
void conv_backward_weights(T* dw, T* db, const T* dout, const T* x, std::size_t n, std::size_t c, std::size_t h,
                           std::size_t wd, std::size_t fn, std::size_t fh, std::size_t fw, std::size_t stride,
                           std::size_t pad) {
    const Geom g = make_geom(c, h, wd, fh, fw, stride, pad);
    const idx K = g.taps(), P = g.positions(), F = idx(fn);
    std::vector<T> col(g.identity() ? 0 : std::size_t(K * P));
    std::fill(dw, dw + F * K, T(0));
    std::fill(db, db + F, T(0));
    for (idx im = 0; im < idx(n); ++im) {
        const T* xi = x + im * g.c * g.h * g.w;
        const T* di = dout + im * F * P;
        if (!g.identity()) im2col(col.data(), xi, g);
        const T* ci = g.identity() ? xi : col.data();
        gemm<T>(dw, K, di, P, 1, ci, 1, P, std::size_t(F), std::size_t(K), std::size_t(P), T(1), T(1));
        for (idx f = 0; f < F; ++f) {
            T s = T(0);
            for (idx p = 0; p < P; ++p) s += di[f * P + p];
            db[f] += s;
        }
    }
}

}  // namespace PYBP_ISA_NS
}  // namespace pybp

#define PYBP_CONV_SIZES std::size_t, std::size_t, std::size_t, std::size_t, std::size_t, std::size_t, std::size_t, \
                        std::size_t, std::size_t
#define PYBP_INSTANTIATE(T)                                                                   \
    template void conv_forward(T*, const T*, const T*, const T*, PYBP_CONV_SIZES);            \
    template void conv_backward_data(T*, const T*, const T*, PYBP_CONV_SIZES);                \
    template void conv_backward_weights(T*, T*, const T*, const T*, PYBP_CONV_SIZES);

namespace pybp {
namespace PYBP_ISA_NS {
PYBP_INSTANTIATE(float)
PYBP_INSTANTIATE(double)
}  // namespace PYBP_ISA_NS

#ifdef PYBP_ISA_IS_generic
template <class T>
void conv_forward(T* out, const T* x, const T* w, const T* b, std::size_t n, std::size_t c, std::size_t h,
                  std::size_t wd, std::size_t fn, std::size_t fh, std::size_t fw, std::size_t stride,
                  std::size_t pad) {
    PYBP_DISPATCH(conv_forward(out, x, w, b, n, c, h, wd, fn, fh, fw, stride, pad));
}
template <class T>
void conv_backward_data(T* dx, const T* dout, const T* w, std::size_t n, std::size_t c, std::size_t h,
                        std::size_t wd, std::size_t fn, std::size_t fh, std::size_t fw, std::size_t stride,
                        std::size_t pad) {
    PYBP_DISPATCH(conv_backward_data(dx, dout, w, n, c, h, wd, fn, fh, fw, stride, pad));
}
template <class T>
void conv_backward_weights(T* dw, T* db, const T* dout, const T* x, std::size_t n, std::size_t c, std::size_t h,
                           std::size_t wd, std::size_t fn, std::size_t fh, std::size_t fw, std::size_t stride,
                           std::size_t pad) {
    PYBP_DISPATCH(conv_backward_weights(dw, db, dout, x, n, c, h, wd, fn, fh, fw, stride, pad));
}
PYBP_INSTANTIATE(float)
PYBP_INSTANTIATE(double)
#endif
}  // namespace pybp
