// Max pooling (NCHW), forward and backward, with the book's rules: zero padding takes part in the max, the first
// maximum in row-major window order wins (a NaN wins, as with np.argmax). Compiled once per ISA.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernel_family.hpp"

namespace pybp {
namespace PYBP_ISA_NS {

namespace {

using idx = std::ptrdiff_t;

// Window element v (at plane index at) replaces the running maximum m unless m >= v; a NaN replaces a non-NaN
// (the first NaN in window order stays): np.argmax's order.
template <class T> inline bool takes(T v, T m) { return v > m || (v != v && m == m); }

// One output row without padding: every window lies inside the image. The window elements are visited in
// row-major order, each for the whole row of outputs, so the inner loop runs over output columns (it vectorises;
// stride 2 becomes even/odd lane shuffles).
template <class T>
void pool_row_inside(T* o, std::int32_t* a, const T* x, idx W, idx r0, idx OW, idx PH, idx PW, idx S) {
    for (idx z = 0; z < OW; ++z) {
        o[z] = x[r0 * W + z * S];
        a[z] = static_cast<std::int32_t>(r0 * W + z * S);
    }
    for (idx i = 0; i < PH; ++i)
        for (idx j = i == 0 ? 1 : 0; j < PW; ++j) {
            const T* src = x + (r0 + i) * W + j;
            const std::int32_t base = static_cast<std::int32_t>((r0 + i) * W + j);
            for (idx z = 0; z < OW; ++z) {
                const T v = src[z * S];
                const bool t = takes(v, o[z]);
                o[z] = t ? v : o[z];
                a[z] = t ? base + static_cast<std::int32_t>(z * S) : a[z];
            }
        }
}

// The book's 2x2 window with stride 2 and no padding, on a plane of even width W (so OW = W / 2 and no pair of
// neighbours straddles two rows). Two passes, each a long loop over contiguous data that vectorises: the winner of
// each horizontal pair of the whole plane (M = rows * W / 2 pairs) into hv/ht (value, 0 = left / 1 = right), then
// the winner of each vertical pair of those. Taking the first maximum of each pair, then the later pair's winner
// only if it takes the earlier one's, picks the same element as the row-major scan (NaN rule included).
template <class T>
void pool2_plane(T* o, std::int32_t* a, const T* x, idx W, idx OH, T* hv, std::int32_t* ht) {
    const idx OW = W / 2, M = 2 * OH * OW;
    for (idx m = 0; m < M; ++m) {
        const T l = x[2 * m], r = x[2 * m + 1];
        const bool t = takes(r, l);
        hv[m] = t ? r : l;
        ht[m] = t ? 1 : 0;
    }
    for (idx oh = 0; oh < OH; ++oh) {
        const T* tv = hv + 2 * oh * OW;
        const std::int32_t* tt = ht + 2 * oh * OW;
        const std::int32_t top = static_cast<std::int32_t>(2 * oh * W), bottom = top + static_cast<std::int32_t>(W);
        for (idx z = 0; z < OW; ++z) {
            const T u = tv[z], d = tv[OW + z];
            const bool t = takes(d, u);
            o[oh * OW + z] = t ? d : u;
            a[oh * OW + z] = static_cast<std::int32_t>(2 * z) + (t ? bottom + tt[OW + z] : top + tt[z]);
        }
    }
}

// The general case, one window at a time; padding reads as 0 at index -1.
template <class T>
void pool_window(T* o, std::int32_t* a, const T* x, idx H, idx W, idx r0, idx q0, idx PH, idx PW) {
    T best = T(0);
    idx where = -1;
    for (idx i = 0; i < PH; ++i)
        for (idx j = 0; j < PW; ++j) {
            const idx r = r0 + i, q = q0 + j;
            const bool in = r >= 0 && r < H && q >= 0 && q < W;
            const T v = in ? x[r * W + q] : T(0);
            if ((i == 0 && j == 0) || takes(v, best)) {
                best = v;
                where = in ? r * W + q : -1;
            }
        }
    *o = best;
    *a = static_cast<std::int32_t>(where);
}

}  // namespace

template <class T>
void maxpool_forward(T* out, std::int32_t* argmax, const T* x, std::size_t n, std::size_t c, std::size_t h,
                     std::size_t w, std::size_t ph, std::size_t pw, std::size_t stride, std::size_t pad) {
    const idx H = idx(h), W = idx(w), S = idx(stride), PD = idx(pad), PH = idx(ph), PW = idx(pw);
    const idx OH = (H + 2 * PD - PH) / S + 1, OW = (W + 2 * PD - PW) / S + 1;
    if (PH == 2 && PW == 2 && S == 2 && PD == 0 && W % 2 == 0) {
        std::vector<T> hv(std::size_t(OH * W));
        std::vector<std::int32_t> ht(hv.size());
        for (idx plane = 0; plane < idx(n * c); ++plane)
            pool2_plane(out + plane * OH * OW, argmax + plane * OH * OW, x + plane * H * W, W, OH, hv.data(),
                        ht.data());
        return;
    }
    for (idx plane = 0; plane < idx(n * c); ++plane) {
        const T* xp = x + plane * H * W;
        T* op = out + plane * OH * OW;
        std::int32_t* ap = argmax + plane * OH * OW;
        for (idx oh = 0; oh < OH; ++oh) {
            if (PD == 0) {
                pool_row_inside(op + oh * OW, ap + oh * OW, xp, W, oh * S, OW, PH, PW, S);
                continue;
            }
            for (idx ow = 0; ow < OW; ++ow)
                pool_window(op + oh * OW + ow, ap + oh * OW + ow, xp, H, W, oh * S - PD, ow * S - PD, PH, PW);
        }
    }
}

template <class T>
void maxpool_backward(T* dx, const T* dout, const std::int32_t* argmax, std::size_t n, std::size_t c,
                      std::size_t h, std::size_t w, std::size_t oh, std::size_t ow) {
    const std::size_t hw = h * w, ohw = oh * ow;
    for (std::size_t plane = 0; plane < n * c; ++plane) {
        T* dp = dx + plane * hw;
        const T* gp = dout + plane * ohw;
        const std::int32_t* ap = argmax + plane * ohw;
        std::fill(dp, dp + hw, T(0));  // per plane, so the scatter finds it in L1 (0.8-0.9x the time)
        for (std::size_t k = 0; k < ohw; ++k)
            if (ap[k] >= 0) dp[ap[k]] += gp[k];
    }
}

}  // namespace PYBP_ISA_NS
}  // namespace pybp

#include "kernel_instances.inc"
