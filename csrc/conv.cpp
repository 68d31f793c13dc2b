// Convolution family (NCHW): forward, input gradient, weight + bias gradient. Compiled once per ISA.
//
// Algorithm: per image, and per chunk of output rows whose column block stays in L2, im2col (from a zero-padded
// copy of the image, so that every window row is a plain run) into a K x Pc block
// (K = C*FH*FW filter taps, Pc = the chunk's output positions), then this ISA build's tuned GEMM. Which operand
// order is fastest was measured per DeepConvNet/SimpleConvNet layer shape (bench/bench_conv.py):
//   forward, few filters   out^T (Pc x FN) = col^T @ W^T, transposed into out_n with the bias: the GEMM reads
//                          the column block in place (no packing); 1.2-1.4x the other order for FN <= 32, K >= 64
//   forward, K <= 32       out_n (FN x Pc) = b + W @ col as register tiles reading col in place (vector builds;
//                          0.56-0.78x the GEMM's time for DeepConvNet's K = 9 and SimpleConvNet's 25)
//   forward, otherwise     out_n (FN x Pc) = [W | b] @ [col; ones], straight into NCHW
//   weight gradient        stride 1, FW 3 or 5: no im2col, register tiles on padded images (conv_direct_dw.inc);
//                          otherwise [dW^T; db^T] ((K+1) x FN) += [col; ones] @ dout_n^T over all images and chunks
//                          (col read in place), transposed into dW and db once at the end; 1.1-1.5x dout @ col^T
//   input gradient         dcol (K x Pc) = W^T @ dout_n, then col2im adds it onto a padded dx_n, copied out
// A 1x1 filter with stride 1 and no padding uses the image itself as its column block.
// Threads: over images (pybp's pool). Each task claims images, or fixed chunks of images for the weight gradient,
// from a shared counter and works with its own scratch; the GEMM it calls runs on the task's thread (the pool
// runs nested jobs inline). Splitting the small per-image products instead cost a fork/join each: DeepConvNet's
// conv2 forward took 3.31 ms on 1 thread and 4.05 on 2. Forward and input gradient are per image, so any thread
// count gives the same bits; the weight gradient sums per-chunk partials in chunk order, and the chunks depend on
// the shapes only, so it too is the same for every thread count.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernel_family.hpp"
#include "prefetch.hpp"
#include "simd.hpp"
#include "threads.hpp"

namespace pybp {
namespace PYBP_ISA_NS {
namespace {

using idx = std::ptrdiff_t;

#ifndef PYBP_CONV_BLOCK_KB
#define PYBP_CONV_BLOCK_KB 512
#endif
// Column blocks of at most this many bytes (whole output rows, at least one, in equal blocks). Measured on
// DeepConvNet's layers (Zen 5, 1 MiB L2): 64 / 128 / 256 / 512 KiB gave conv2 forward 63 / 68 / 70 / 75 GF/s and
// conv6 74 / 84 / 85 / 88: the GEMM gains more from long rows than the block loses by leaving L1. 512 KiB holds
// every book layer's whole image; larger inputs are split.
constexpr idx kColBlockBytes = PYBP_CONV_BLOCK_KB * 1024;

struct Geom {
    idx c, h, w, fh, fw, stride, pad, oh, ow;
    idx taps() const { return c * fh * fw; }
    idx positions() const { return oh * ow; }
    bool identity() const { return fh == 1 && fw == 1 && stride == 1 && pad == 0; }
    // Output rows per column block.
    template <class T> idx chunk_rows() const {
        const idx row_bytes = std::max<idx>(1, taps() * ow) * idx(sizeof(T));
        const idx most = std::max<idx>(1, std::min(oh, kColBlockBytes / row_bytes));
        const idx blocks = (oh + most - 1) / most;
        return (oh + blocks - 1) / blocks;  // equal blocks: 8 rows as 4 + 4, not 7 + 1
    }
    // The image with its zero border: pad rows and columns on each side.
    idx hp() const { return h + 2 * pad; }
    idx wp() const { return w + 2 * pad; }
    idx padded_size() const { return c * hp() * wp(); }
};

Geom make_geom(std::size_t c, std::size_t h, std::size_t w, std::size_t fh, std::size_t fw, std::size_t stride,
               std::size_t pad) {
    Geom g{idx(c), idx(h), idx(w), idx(fh), idx(fw), idx(stride), idx(pad), 0, 0};
    g.oh = (g.h + 2 * g.pad - g.fh) / g.stride + 1;
    g.ow = (g.w + 2 * g.pad - g.fw) / g.stride + 1;
    return g;
}

// to_padded: dst (a padded image's interior) = src (C x H x W); otherwise dst (C x H x W) = src's interior. The
// border is left alone.
template <class T>
void copy_interior(T* dst, const T* src, const Geom& g, bool to_padded) {
    for (idx ch = 0; ch < g.c; ++ch)
        for (idx r = 0; r < g.h; ++r) {
            const idx pi = (ch * g.hp() + r + g.pad) * g.wp() + g.pad, xi = (ch * g.h + r) * g.w;
            const T* from = src + (to_padded ? xi : pi);
            std::copy(from, from + g.w, dst + (to_padded ? pi : xi));
        }
}

// Walks the im2col layout of output rows [oh0, oh1) over a padded image xp (C x hp x wp): for each filter tap
// k = (ch, i, j), calls f(k, src, rows) with src the padded element under output (oh0, 0) (output (oh0 + r, o)
// reads src[r * stride * wp + o * stride]). Every window lies inside the padded image, so the rows need no range
// checks: with the book's 3x3 filters they are only 8-28 elements, and the checks of the unpadded walk cost as
// much as the copy (DeepConvNet's im2col took 12 ms of a 70 ms step).
template <class T, class F>
PYBP_ALWAYS_INLINE void for_each_tap(T* xp, const Geom& g, idx oh0, F&& f) {
    const idx hp = g.hp(), wp = g.wp();
    for (idx ch = 0; ch < g.c; ++ch)
        for (idx i = 0; i < g.fh; ++i)
            for (idx j = 0; j < g.fw; ++j) f((ch * g.fh + i) * g.fw + j, xp + (ch * hp + i + oh0 * g.stride) * wp + j);
}

// dst[0, n) = src[0, n) for short rows, n >= kRun: fixed-size runs (the last one overlapping) that compile to
// vector moves. A plain loop becomes a memmove call per row (GCC's loop distribution): 1.3x the time of these
// on DeepConvNet's 8-16 element rows.
constexpr idx kRun = 8;
template <class T>
PYBP_ALWAYS_INLINE void copy_row(T* __restrict dst, const T* __restrict src, idx n) {
    idx o = 0;
    for (; o + kRun <= n; o += kRun) std::memcpy(dst + o, src + o, kRun * sizeof(T));
    if (o < n) std::memcpy(dst + n - kRun, src + n - kRun, kRun * sizeof(T));
}

// col (K x (oh1 - oh0)*OW, row stride ldc) = the windows of output rows [oh0, oh1) of one padded image xp.
template <class T>
void im2col(T* col, idx ldc, const T* xp, const Geom& g, idx oh0, idx oh1) {
    const idx s = g.stride, ow = g.ow, rows = oh1 - oh0, step = s * g.wp();
    for_each_tap(xp, g, oh0, [&](idx k, const T* src) {
        T* dst = col + k * ldc;
        for (idx r = 0; r < rows; ++r, dst += ow, src += step) {
            if (s == 1 && ow >= kRun && ow < 3 * kRun)
                copy_row(dst, src, ow);
            else if (s == 1)
                std::copy(src, src + ow, dst);  // memmove: faster from 3 runs on (SimpleConvNet's 24, conv2's 28)
            else
                for (idx o = 0; o < ow; ++o) dst[o] = src[o * s];
        }
    });
}

// dxp (a padded image) += the adjoint of im2col applied to dcol (K x rows, row stride ldc) for output rows
// [oh0, oh1).
template <class T>
void col2im_add(T* dxp, const T* dcol, idx ldc, const Geom& g, idx oh0, idx oh1) {
    const idx s = g.stride, ow = g.ow, rows = oh1 - oh0, step = s * g.wp();
    if (s == 1 && g.fw == 3 && ow >= 2) {
        // The three taps (j = 0, 1, 2) of a filter row add into one dx row shifted by j, consecutively in the walk
        // below: added per element in that order (bit-identical), dx is loaded and stored once instead of 3 times
        for_each_tap(dxp, g, oh0, [&](idx k, T* dst) {
            if (k % 3 != 0) return;
            for (idx r = 0; r < rows; ++r, dst += step) {
                const T* __restrict a = dcol + k * ldc + r * ow;
                const T* __restrict b = a + ldc;
                const T* __restrict c = b + ldc;
                T* __restrict d = dst;
                d[0] = d[0] + a[0];
                d[1] = (d[1] + a[1]) + b[0];
                for (idx q = 2; q < ow; ++q) d[q] = ((d[q] + a[q]) + b[q - 1]) + c[q - 2];
                d[ow] = (d[ow] + b[ow - 1]) + c[ow - 2];
                d[ow + 1] = d[ow + 1] + c[ow - 1];
            }
        });
        return;
    }
    for_each_tap(dxp, g, oh0, [&](idx k, T* dst) {
        const T* src = dcol + k * ldc;
        for (idx r = 0; r < rows; ++r, src += ow, dst += step) {
            if (s == 1)
                for (idx o = 0; o < ow; ++o) dst[o] += src[o];
            else
                for (idx o = 0; o < ow; ++o) dst[o * s] += src[o];
        }
    });
}

// Scratch of one task: a column block and a padded image (zeroed at allocation; the im2col users write only its
// interior, the input gradient accumulates over all of it and zeroes it per image). Allocated
// before the tasks start (a task must not throw): the column block for col_rows rows of taps.
template <class T>
struct Scratch {
    std::vector<T> col, padded;
    Scratch(const Geom& g, idx col_rows)
        : col(std::size_t(col_rows * g.chunk_rows<T>() * g.ow)), padded(g.pad ? std::size_t(g.padded_size()) : 0) {}
    // The padded image of x (x itself without padding).
    const T* pad_image(const T* x, const Geom& g) {
        if (g.pad == 0) return x;
        copy_interior(padded.data(), x, g, true);
        return padded.data();
    }
};

// One Scratch per task, each allocated once (not copied from a first one: that would touch the memory twice).
template <class T>
std::vector<Scratch<T>> make_scratch(int tasks, const Geom& g, idx col_rows) {
    std::vector<Scratch<T>> s;
    s.reserve(std::size_t(tasks));
    for (int t = 0; t < tasks; ++t) s.emplace_back(g, col_rows);
    return s;
}

// Calls f(p0, pc, col, ldc) for each column block of image x: output positions [p0, p0 + pc) (whole rows), col
// the block's K x pc columns with row stride ldc (the image itself for an identity filter). ones_row: col gets
// a (K+1)-th row of ones (always a copy), so that a product with it also sums the other operand's rows.
template <class T, class F>
void for_each_col_block(const T* x, const Geom& g, Scratch<T>& sc, F&& f, bool ones_row = false) {
    const idx rows = g.chunk_rows<T>(), P = g.positions(), K = g.taps();
    const T* xp = g.identity() && !ones_row ? x : sc.pad_image(x, g);
    for (idx oh0 = 0; oh0 < g.oh; oh0 += rows) {
        const idx oh1 = std::min(g.oh, oh0 + rows), p0 = oh0 * g.ow, pc = (oh1 - oh0) * g.ow;
        if (g.identity() && !ones_row) {
            f(p0, pc, x + p0, P);
            continue;
        }
        im2col(sc.col.data(), pc, xp, g, oh0, oh1);
        if (ones_row) std::fill(sc.col.data() + K * pc, sc.col.data() + (K + 1) * pc, T(1));
        f(p0, pc, static_cast<const T*>(sc.col.data()), pc);
    }
}

// Threads for `items` independent pieces of `macs` multiply-adds in all: one per 2^23 of them at most (~50 us of
// work), never more than the items. At 2^20 (the GEMM's threshold) DeepConvNet's conv1 (11 M) took 1.4-1.8x its
// 1-thread time on 2 threads in half the runs on a busy machine (a worker preempted while holding an image).
int item_threads(idx items, double macs) {
    const double most = std::max(1.0, macs / double(1 << 23));
    return static_cast<int>(std::min<double>({double(get_num_threads()), double(items), most}));
}

#ifdef PYBP_ISA_HAS_VEC
// Few taps (K <= 32: SimpleConvNet's 25, DeepConvNet's first layer's 9): dwt (K x F) += cb . d over the block's
// positions as register-tiled dot products (KB taps x FB filters, 8 lanes) reading both operands in place. The
// GEMM would pack an image's worth of one operand for each image and use it only K or F times (30 GF/s on the
// SimpleConvNet layer).
constexpr idx kSmallTaps = 32;

template <int KB, int FB, class T>
void dw_tile(T* dwt, idx F, const T* cb, idx ldc, const T* d, idx P, idx pc) {
    using V = simd::Vec<T>;
    typename V::V acc[KB][FB];
    for (int i = 0; i < KB; ++i)
        for (int j = 0; j < FB; ++j) acc[i][j] = V::zero();
    idx p = 0;
    for (; p + V::L <= pc; p += V::L) {
        typename V::V a[KB], b[FB];
        for (int i = 0; i < KB; ++i) a[i] = V::load(cb + i * ldc + p);
        for (int j = 0; j < FB; ++j) b[j] = V::load(d + j * P + p);
        for (int i = 0; i < KB; ++i)
            for (int j = 0; j < FB; ++j) acc[i][j] = V::fma(a[i], b[j], acc[i][j]);
    }
    for (int i = 0; i < KB; ++i)
        for (int j = 0; j < FB; ++j) {
            T s = V::hsum(acc[i][j]);
            for (idx q = p; q < pc; ++q) s += cb[i * ldc + q] * d[j * P + q];
            dwt[i * F + j] += s;
        }
}

template <int KB, class T>
void dw_row(T* dwt, idx F, const T* cb, idx ldc, const T* d, idx P, idx pc) {
    idx f = 0;
    for (; f + 3 <= F; f += 3) dw_tile<KB, 3>(dwt + f, F, cb, ldc, d + f * P, P, pc);
    if (F - f == 2) dw_tile<KB, 2>(dwt + f, F, cb, ldc, d + f * P, P, pc);
    if (F - f == 1) dw_tile<KB, 1>(dwt + f, F, cb, ldc, d + f * P, P, pc);
}

template <class T>
void dw_small(T* dwt, idx F, const T* cb, idx ldc, const T* d, idx P, idx K, idx pc) {
    idx k = 0;
    for (; k + 4 <= K; k += 4) dw_row<4>(dwt + k * F, F, cb + k * ldc, ldc, d, P, pc);
    switch (K - k) {
        case 3: dw_row<3>(dwt + k * F, F, cb + k * ldc, ldc, d, P, pc); break;
        case 2: dw_row<2>(dwt + k * F, F, cb + k * ldc, ldc, d, P, pc); break;
        case 1: dw_row<1>(dwt + k * F, F, cb + k * ldc, ldc, d, P, pc); break;
        default: break;
    }
}

// Forward for few taps (K <= kSmallTaps): out (F x pc, row stride P) = b + W @ cb as register tiles of FB filters x
// PV vectors of positions, reading cb in place and writing out once (the GEMM packs the column block per image and
// fills out with the bias first: 32-62% of peak on these shapes). Positions outermost, so a group's columns stay
// in L1 across the filter tiles. Adds b first, then the taps in order, one FMA each.
template <int FB, int PV, class T>
void fwd_tile(T* o, idx P, const T* w, idx K, const T* b, const T* cb, idx ldc) {
    using V = simd::Vec<T>;
    typename V::V acc[FB][PV];
    // PYBP_UNROLL on each fixed-count loop: without it GCC kept acc on the stack, a store per FMA (1.5x the time)
    PYBP_UNROLL(4)
    for (int i = 0; i < FB; ++i) {
        PYBP_UNROLL(4)
        for (int v = 0; v < PV; ++v) acc[i][v] = V::set1(b[i]);
    }
    for (idx k = 0; k < K; ++k) {
        typename V::V c[PV];
        PYBP_UNROLL(4)
        for (int v = 0; v < PV; ++v) c[v] = V::load(cb + k * ldc + v * V::L);
        PYBP_UNROLL(4)
        for (int i = 0; i < FB; ++i) {
            const typename V::V wv = V::bcast(w + i * K + k);
            PYBP_UNROLL(4)
            for (int v = 0; v < PV; ++v) acc[i][v] = V::fma(wv, c[v], acc[i][v]);
        }
    }
    PYBP_UNROLL(4)
    for (int i = 0; i < FB; ++i) {
        PYBP_UNROLL(4)
        for (int v = 0; v < PV; ++v) V::store(o + i * P + v * V::L, acc[i][v]);
    }
}

template <int PV, class T>
void fwd_group(T* o, idx P, const T* w, idx K, const T* b, idx F, const T* cb, idx ldc) {
    idx f = 0;
    for (; f + 4 <= F; f += 4) fwd_tile<4, PV>(o + f * P, P, w + f * K, K, b + f, cb, ldc);
    switch (F - f) {
        case 3: fwd_tile<3, PV>(o + f * P, P, w + f * K, K, b + f, cb, ldc); break;
        case 2: fwd_tile<2, PV>(o + f * P, P, w + f * K, K, b + f, cb, ldc); break;
        case 1: fwd_tile<1, PV>(o + f * P, P, w + f * K, K, b + f, cb, ldc); break;
        default: break;
    }
}

// out (F x pc at o, row stride P) of one column block with K <= kSmallTaps.
template <class T>
void fwd_small(T* o, idx P, const T* w, idx K, const T* b, idx F, const T* cb, idx ldc, idx pc) {
    using V = simd::Vec<T>;
    idx p = 0;
    for (; p + 3 * V::L <= pc; p += 3 * V::L) fwd_group<3>(o + p, P, w, K, b, F, cb + p, ldc);
    for (; p + V::L <= pc; p += V::L) fwd_group<1>(o + p, P, w, K, b, F, cb + p, ldc);
    for (; p < pc; ++p)
        for (idx f = 0; f < F; ++f) {
            T s = b[f];
            for (idx k = 0; k < K; ++k) s = std::fma(w[f * K + k], cb[k * ldc + p], s);
            o[f * P + p] = s;
        }
}

#include "conv_direct_fwd.inc"
#else
bool direct_wins(const Geom&, idx, idx) { return false; }  // the direct kernels need vector registers
template <class T>
void direct_forward(T*, const T*, const T*, const T*, idx, const Geom&, idx) {}
template <class T>
void direct_backward_data(T*, const T*, const T*, idx, const Geom&, idx) {}
constexpr idx kSmallTaps = -1;  // no register-tile paths in this build: every product goes to the GEMM
template <class T>
void fwd_small(T*, idx, const T*, idx, const T*, idx, const T*, idx, idx) {}
template <class T>
void dw_small(T*, idx, const T*, idx, const T*, idx, idx, idx) {}
#endif

// The kernels on one geometry (the public entry points below make it). Here, not in them, because their lambdas
// capture this file's types, which have internal linkage.
template <class T>
void forward(T* out, const T* x, const T* w, const T* b, std::size_t n, std::size_t fn, const Geom& g) {
    const idx K = g.taps(), P = g.positions(), F = idx(fn), N = idx(n);
    if (direct_wins(g, g.c, F)) return direct_forward(out, x, w, b, F, g, N);
    const bool small = K <= kSmallTaps;  // register tiles reading the column blocks in place (fwd_small)
    const bool transposed = !small && F <= 32 && K >= 64;
    const bool ones_row = !transposed && !small;
    // Otherwise [W | b] (F x (K+1)) against column blocks with a row of ones: the product adds the bias itself, no
    // pass filling out with it first and no read of out in the product (0.86-0.93x the time for K = 25 and 9; the
    // transposed path adds b in its transposition, and its GEMM lost 3-6% with K + 1 = 145 or 289)
    std::vector<T> wb(ones_row ? std::size_t(F * (K + 1)) : 0);
    for (idx f = 0; f < F && ones_row; ++f) {
        std::copy(w + f * K, w + (f + 1) * K, wb.begin() + f * (K + 1));
        wb[std::size_t(f * (K + 1) + K)] = b[f];
    }
    const int threads = item_threads(N, double(N) * double(P) * double(K) * double(F));
    const idx ct_size = transposed ? g.chunk_rows<T>() * g.ow * F : 0;
    auto scratch = make_scratch<T>(threads, g, K + ones_row);
    std::vector<T> cts(std::size_t(threads * ct_size));
    for_items_home(N, threads, [&](idx slot, idx im) {
        T* oi = out + im * F * P;
        T* ct = cts.data() + slot * ct_size;
        for_each_col_block(x + im * g.c * g.h * g.w, g, scratch[std::size_t(slot)], [&](idx p0, idx pc, const T* cb,
                                                                                         idx ldc) {
            if (transposed) {  // ct (pc x F) = cb^T @ w^T, then out[f, p0 + i] = ct[i, f] + b[f]
                gemm<T>(ct, F, cb, 1, ldc, w, 1, K, std::size_t(pc), std::size_t(F), std::size_t(K), T(1), T(0));
                for (idx f = 0; f < F; ++f) {
                    T* o = oi + f * P + p0;
                    for (idx i = 0; i < pc; ++i) o[i] = ct[i * F + f] + b[f];
                }
                return;
            }
            if (small) {
                fwd_small(oi + p0, P, w, K, b, F, cb, ldc, pc);
                return;
            }
            gemm<T>(oi + p0, P, wb.data(), K + 1, 1, cb, ldc, 1, std::size_t(F), std::size_t(pc),
                    std::size_t(K + 1), T(1), T(0));
        }, ones_row);
    });
}

template <class T>
void backward_data(T* dx, const T* dout, const T* w, std::size_t n, std::size_t fn, const Geom& g) {
    const idx K = g.taps(), P = g.positions(), F = idx(fn), img = g.c * g.h * g.w, N = idx(n);
    if (direct_wins(g, F, g.c)) return direct_backward_data(dx, dout, w, F, g, N);
    const idx rows = g.chunk_rows<T>();
    const int threads = item_threads(N, double(N) * double(P) * double(K) * double(F));
    // Per task: a column block (dcol), and a padded image (in cache) that dcol is added onto and whose interior is
    // then copied out: dx is written once, never read or zero-filled (without padding, dx_n itself is the padded
    // image). Same order of additions as onto zeroed dx.
    auto scratch = make_scratch<T>(threads, g, g.identity() ? 0 : K);
    for_items_home(N, threads, [&](idx slot, idx im) {
        T* dxi = dx + im * img;
        const T* di = dout + im * F * P;
        if (g.identity()) {  // dx_n is dcol itself
            gemm<T>(dxi, P, w, 1, K, di, P, 1, std::size_t(K), std::size_t(P), std::size_t(F), T(1), T(0));
            return;
        }
        Scratch<T>& sc = scratch[std::size_t(slot)];
        T* dcol = sc.col.data();
        T* acc = g.pad ? sc.padded.data() : dxi;
        std::fill(acc, acc + (g.pad ? g.padded_size() : img), T(0));
        for (idx oh0 = 0; oh0 < g.oh; oh0 += rows) {
            const idx oh1 = std::min(g.oh, oh0 + rows), pc = (oh1 - oh0) * g.ow;
            gemm<T>(dcol, pc, w, 1, K, di + oh0 * g.ow, P, 1, std::size_t(K), std::size_t(pc), std::size_t(F), T(1),
                    T(0));
            col2im_add(acc, static_cast<const T*>(dcol), pc, g, oh0, oh1);
        }
        if (g.pad) copy_interior(dxi, static_cast<const T*>(acc), g, false);
    });
}

#ifndef PYBP_CONV_DW_CHUNK
#define PYBP_CONV_DW_CHUNK 4
#endif
// The weight gradient's chunks: this many images each (fewer chunks cost fewer partial sums; more balance two
// threads better), and more per chunk when the partials of all chunks would exceed kDwPartialBytes.
constexpr idx kDwChunkImages = PYBP_CONV_DW_CHUNK;
constexpr idx kDwPartialBytes = idx(8) << 20;
constexpr idx kDwDirectBytes = idx(32) << 20;

#include "conv_direct_dw.inc"

template <class T>
void backward_weights(T* dw, T* db, const T* dout, const T* x, std::size_t n, std::size_t fn, const Geom& g,
                      bool allow_direct = true) {
    const idx K = g.taps(), P = g.positions(), F = idx(fn), K1 = K + 1, N = idx(n), KF = K1 * F;
    // [dW^T; db^T] ((K+1) x F): the column blocks carry a row of ones, so the product's last row sums dout (a serial
    // running sum per filter cost a quarter of SimpleConvNet's kernel). Each chunk of images accumulates its own
    // partial; the total adds the partials in chunk order. The chunks depend on the shapes only (not the threads).
    const idx most_chunks = std::max<idx>(1, kDwPartialBytes / (KF * idx(sizeof(T))));
    // The direct path (conv_direct_dw.inc: register tiles, no im2col) copies whole chunks of images: only while a
    // task's copies stay within kDwDirectBytes (large images take the GEMM path's row blocks instead).
    const idx per_parts = (N + most_chunks - 1) / most_chunks, per_gemm = std::max(kDwChunkImages, per_parts);
    // kStream (conv1) keeps a chunk's shifted copies and dout in L1 with chunks of dw_direct_chunk_images (2 images
    // for 28x28): 0.90-0.93x the time of 4-image chunks (80 KB, read from L2 by each tile); 1 or 3 images: 0.94x.
    const DwMode mode = dw_direct_mode<T>(g, F);
    const idx per_direct = std::max(mode == DwMode::kStream ? per_parts : per_gemm, dw_direct_chunk_images<T>(g));
    const bool direct = allow_direct && dw_direct_applies(g) &&
                        per_direct * dw_direct_image_bytes<T>(g, F) <= kDwDirectBytes;
    std::atomic<bool> nonfinite{false};
    // Never more per chunk than the batch: the direct path's scratch is sized (and zero-filled) for `per` images.
    const idx per = std::max<idx>(1, std::min(N, direct ? per_direct : per_gemm));
    const idx chunks = (N + per - 1) / per;
    const int threads = item_threads(chunks, double(N) * double(P) * double(K1) * double(F));
    // One thread adds each partial as soon as it is done (one buffer); several keep every chunk's until the end.
    std::vector<T> total(std::size_t(KF), T(0)), parts(std::size_t((threads > 1 ? chunks : 1) * KF));
    auto scratch = make_scratch<T>(direct ? 0 : threads, g, K1);
    std::vector<DwDirect<T>> dscratch;
    for (int t = 0; t < threads && direct; ++t) dscratch.emplace_back(g, F, per, mode);
    const auto add_part = [&](const T* part) {
        for (idx i = 0; i < KF; ++i) total[std::size_t(i)] += part[i];
    };
    for_items_home(chunks, threads, [&](idx slot, idx ch) {
        T* part = parts.data() + (threads > 1 ? ch * KF : 0);
        const idx im0 = ch * per, im1 = std::min(N, (ch + 1) * per);
        if (direct) {  // writes all of part
            DwDirect<T>& s = dscratch[std::size_t(slot)];
            for (idx im = im0; im < im1; ++im) s.load(im - im0, x + im * g.c * g.h * g.w, dout + im * F * P, g);
            if (!s.finite) nonfinite = true, s.finite = true;
            // The next chunk this task will likely claim (the next of its share); a wrong guess costs only bandwidth.
            const idx nx0 = im1, nx1 = std::min(N, nx0 + per), xi = g.c * g.h * g.w;
            dw_direct_prefetch(s, x + nx0 * xi, (nx1 - nx0) * xi, dout + nx0 * F * P, (nx1 - nx0) * F * P, im1 - im0,
                               g);
            dw_direct_chunk(part, F, s, im1 - im0, g, F);
            if (threads == 1) add_part(part);
            return;
        }
        bool fresh = true;  // the chunk's first product overwrites its partial (no zero pass: 3-8% of conv6's time)
        if (K <= kSmallTaps) std::fill(part, part + KF, T(0));
        for (idx im = im0; im < im1; ++im) {
            const T* di = dout + im * F * P;
            for_each_col_block(x + im * g.c * g.h * g.w, g, scratch[std::size_t(slot)], [&](idx p0, idx pc,
                                                                                              const T* cb, idx ldc) {
                if (K <= kSmallTaps) {
                    dw_small(part, F, cb, ldc, di + p0, P, K1, pc);
                    return;
                }
                gemm<T>(part, F, cb, ldc, 1, di + p0, 1, P, std::size_t(K1), std::size_t(F), std::size_t(pc), T(1),
                        T(fresh ? 0 : 1));
                fresh = false;
            }, /*ones_row=*/true);
        }
        if (threads == 1) add_part(part);
    });
    // An inf or NaN in an image: again on the GEMM path, which gives non-finite values in the same places as the
    // definition (the direct tiles' garbage columns would spread them to more taps).
    if (nonfinite) return backward_weights(dw, db, dout, x, n, fn, g, false);
    for (idx ch = 0; ch < chunks && threads > 1; ++ch) add_part(parts.data() + ch * KF);
    for (idx f = 0; f < F; ++f) {
        for (idx k = 0; k < K; ++k) dw[f * K + k] = total[std::size_t(k * F + f)];
        db[f] = total[std::size_t(K * F + f)];
    }
}

}  // namespace

template <class T>
void conv_forward(T* out, const T* x, const T* w, const T* b, std::size_t n, std::size_t c, std::size_t h,
                  std::size_t wd, std::size_t fn, std::size_t fh, std::size_t fw, std::size_t stride,
                  std::size_t pad) {
    forward(out, x, w, b, n, fn, make_geom(c, h, wd, fh, fw, stride, pad));
}

template <class T>
void conv_backward_data(T* dx, const T* dout, const T* w, std::size_t n, std::size_t c, std::size_t h,
                        std::size_t wd, std::size_t fn, std::size_t fh, std::size_t fw, std::size_t stride,
                        std::size_t pad) {
    backward_data(dx, dout, w, n, fn, make_geom(c, h, wd, fh, fw, stride, pad));
}

template <class T>
void conv_backward_weights(T* dw, T* db, const T* dout, const T* x, std::size_t n, std::size_t c, std::size_t h,
                           std::size_t wd, std::size_t fn, std::size_t fh, std::size_t fw, std::size_t stride,
                           std::size_t pad) {
    backward_weights(dw, db, dout, x, n, fn, make_geom(c, h, wd, fh, fw, stride, pad));
}

}  // namespace PYBP_ISA_NS
}  // namespace pybp

#include "kernel_instances.inc"
