// Max pooling (NCHW), forward and backward, with the book's rules: zero padding takes part in the max, the first
// maximum in row-major window order wins (a NaN wins, as with np.argmax). Compiled once per ISA.
#include <algorithm>
#include <cstdint>

#include "kernel_family.hpp"
#include "simd.hpp"
#include "threads.hpp"

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

// ---- the book's 2x2 window with stride 2 and no padding -----------------------------------------------------
// Output row r comes from input rows 2r and 2r + 1 (any W and H: an odd last column or row is in no window).
// Vector code (PYBP_ISA_HAS_VEC) takes L outputs at a time: GCC vectorises the scalar loops below only partly (short
// rows end in scalar code with unpredictable branches) and the backward block writes not at all. Offsets within a
// row are whole numbers computed in T: exact while W < kVecMaxWidth.
[[maybe_unused]] constexpr idx kVecMaxWidth = idx(1) << 22;  // unused in the generic build

template <class V> typename V::M takes_v(typename V::V v, typename V::V m) {
    return V::mask_and(V::ordered(m), V::not_le(v, m));  // takes() lane by lane
}

// Each lane's window column in its chunk: 2i, plus extra in the upper half (see pool2_chunk). From a constant
// table (a vector built on the stack cost a store-forwarding stall per plane: a quarter of an 8x8 backward).
template <class V, class T> typename V::V chunk_offsets(idx extra) {
    static_assert(V::L <= 16, "lanes");
    static constexpr T even[16] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    const typename V::V e = V::load(even);
    return V::add(e, V::select(V::not_le(e, V::set1(T(V::L - 1))), V::set1(T(extra)), V::zero()));
}

// Runs chunk(V(), z, offsets) for chunks of L outputs z .. z + L - 1 covering a row of OW >= L outputs: the last
// chunk overlaps the one before (some outputs computed twice, with the same result) instead of leaving a tail.
// Returns the outputs done: none in the generic build or when OW < L.
template <class T, class F> idx vec_row(idx W, idx OW, F&& chunk) {
#ifdef PYBP_ISA_HAS_VEC
    using V = simd::Vec256<T>;  // in both vector builds (CMakeLists.txt: this family's avx512 build has AVX2 flags)
    if (W >= kVecMaxWidth || OW < V::L) return 0;
    const auto offsets = chunk_offsets<V, T>(0);
    idx z = 0;
    for (; z + V::L <= OW; z += V::L) chunk(V(), z, offsets);
    if (z < OW) chunk(V(), OW - V::L, offsets);
    return OW;
#else
    (void)W, (void)OW, (void)chunk;
    return 0;
#endif
}

// Rows of half a vector (8x8 f32 planes, 4x4 f64): runs chunk(V(), r, offsets) for rows r and r + 1 together, r
// even (pool2_chunk's extra = 2W - L). Returns the rows done: all but an odd last one, or none.
template <class T, class F> idx vec_row_pairs(idx W, idx OH, idx OW, F&& chunk) {
#ifdef PYBP_ISA_HAS_VEC
    using V = simd::Vec256<T>;
    if (W >= kVecMaxWidth || 2 * OW != V::L) return 0;
    const auto offsets = chunk_offsets<V, T>(2 * W - V::L);
    idx r = 0;
    for (; r + 2 <= OH; r += 2) chunk(V(), r, offsets);
    return r;
#else
    (void)W, (void)OH, (void)OW, (void)chunk;
    return 0;
#endif
}

// L outputs on vectors V, from the 2L elements t[0, L) and t[L + extra, 2L + extra) of the windows' top rows
// (base: t's index in the plane) and the same of their bottom rows (+ W); even/odd lane shuffles split the pairs.
// extra = 0: L outputs of one row; extra = 2W - L: two rows of L / 2 outputs each. offsets: chunk_offsets(extra).
template <class V, class T>
PYBP_ALWAYS_INLINE void pool2_chunk(T* o, std::int32_t* a, const T* t, idx W, std::int32_t base, idx extra,
                                    typename V::V offsets) {
    using R = typename V::V;
    const T* b = t + W;
    const R t0 = V::load(t), t1 = V::load(t + V::L + extra), b0 = V::load(b), b1 = V::load(b + V::L + extra);
    const R l = V::evens(t0, t1), r = V::odds(t0, t1), bl = V::evens(b0, b1), br = V::odds(b0, b1);
    const auto tt = takes_v<V>(r, l), tb = takes_v<V>(br, bl);
    const R u = V::select(tt, r, l), d = V::select(tb, br, bl);
    const R ui = V::select(tt, V::set1(T(1)), V::zero()), di = V::select(tb, V::set1(T(W + 1)), V::set1(T(W)));
    const auto win = takes_v<V>(d, u);
    V::store(o, V::select(win, d, u));
    V::store_int(a, V::add(V::select(win, di, ui), offsets), base);
}

// One output row (top: its windows' top row, base: top's index in the plane). The first maximum of each
// horizontal pair, then the bottom pair's winner only if it takes the top one's: the same element as the
// row-major scan (NaN rule included), in one pass.
template <class T>
void pool2_row(T* o, std::int32_t* a, const T* top, idx W, std::int32_t base, idx OW) {
    const idx z0 = vec_row<T>(W, OW, [&](auto v, idx z, auto offsets) {
        pool2_chunk<decltype(v)>(o + z, a + z, top + 2 * z, W, base + static_cast<std::int32_t>(2 * z), 0, offsets);
    });
    const T* bot = top + W;
    const std::int32_t down = static_cast<std::int32_t>(W);
    for (idx z = z0; z < OW; ++z) {  // written so that GCC vectorises it (the generic build's loop)
        const T l = top[2 * z], r = top[2 * z + 1], bl = bot[2 * z], br = bot[2 * z + 1];
        const bool tt = takes(r, l), tb = takes(br, bl);
        const T u = tt ? r : l, d = tb ? br : bl;
        const std::int32_t ui = tt ? 1 : 0, di = tb ? down + 1 : down;
        const bool t = takes(d, u);
        o[z] = t ? d : u;
        a[z] = base + static_cast<std::int32_t>(2 * z) + (t ? di : ui);
    }
}

template <class T> void pool2_plane(T* o, std::int32_t* a, const T* x, idx W, idx OH, idx OW) {
    const idx r0 = vec_row_pairs<T>(W, OH, OW, [&](auto v, idx r, auto offsets) {
        pool2_chunk<decltype(v)>(o + r * OW, a + r * OW, x + 2 * r * W, W, static_cast<std::int32_t>(2 * r * W),
                                 2 * W - decltype(v)::L, offsets);
    });
    for (idx r = r0; r < OH; ++r)
        pool2_row(o + r * OW, a + r * OW, x + 2 * r * W, W, static_cast<std::int32_t>(2 * r * W), OW);
}

// Backward, when each maximum lies in its output's 2x2 block (rows 2r, 2r + 1, columns 2z, 2z + 1): the blocks do
// not overlap, so each element of dx is written once, from its block's gradient or 0, without a zero pass and a
// scatter; 0 + g as in the scatter (a gradient of -0 gives +0). The writers return whether that held.

// L blocks on vectors V, laid out as pool2_chunk's windows (t: the first block's top-left element in dx, base its
// index in the plane; g and a: the L outputs' gradients and maxima): the four positions' values, interleaved into
// the dx rows.
template <class V, class T>
PYBP_ALWAYS_INLINE bool block_chunk(T* t, const T* g, const std::int32_t* a, idx W, std::int32_t base, idx extra,
                                    typename V::V offsets) {
    using R = typename V::V;
    const R v = V::add(V::load(g), V::zero());
    const R k = V::sub(V::load_int(a, base), offsets);  // the maximum's offset from the block's top-left element
    const R k1 = V::sub(k, V::set1(T(1))), kw = V::sub(k, V::set1(T(W))), kw1 = V::sub(k, V::set1(T(W + 1)));
    const R p00 = V::zero_unless(V::eq(k, V::zero()), v), p01 = V::zero_unless(V::eq(k1, V::zero()), v);
    const R p10 = V::zero_unless(V::eq(kw, V::zero()), v), p11 = V::zero_unless(V::eq(kw1, V::zero()), v);
    T* hi = t + V::L + extra;
    V::store(t, V::zip_lo(p00, p01));
    V::store(hi, V::zip_hi(p00, p01));
    V::store(t + W, V::zip_lo(p10, p11));
    V::store(hi + W, V::zip_hi(p10, p11));
    // The product of whole numbers below 2^24 in magnitude is 0 exactly when a factor is (a huge k gives inf).
    const R q = V::mul(V::mul(k, k1), V::mul(kw, kw1));
    return V::none(V::not_le(V::abs(q), V::zero()));
}

// Block z of a block row (dx rows d0 and d0 + W) from gradient v and its maximum's offset k from the block's
// top-left element.
template <class T> inline bool block_write(T* d0, idx W, idx z, T v, std::int32_t k) {
    const std::int32_t down = static_cast<std::int32_t>(W);
    d0[2 * z] = k == 0 ? v : T(0);
    d0[2 * z + 1] = k == 1 ? v : T(0);
    d0[W + 2 * z] = k == down ? v : T(0);
    d0[W + 2 * z + 1] = k == down + 1 ? v : T(0);
    return static_cast<std::uint32_t>(k >= down ? k - down : k) <= 1u;
}

// Whether vector code writes the blocks of rows of OW outputs (the scalar block_write compiles to branches: 7x the
// scatter's time in the generic build).
template <class T> bool blocks_in_vectors(idx W, idx OW) {
#ifdef PYBP_ISA_HAS_VEC
    return W < kVecMaxWidth && (OW >= simd::Vec256<T>::L || 2 * OW == simd::Vec256<T>::L);
#else
    (void)W, (void)OW;
    return false;
#endif
}

// dx of one plane; false (dx then holds garbage) when some maximum is elsewhere (the windows were not 2x2 with
// stride 2, or a -1).
template <class T>
bool pool2_backward(T* dx, const T* g, const std::int32_t* a, idx H, idx W, idx OH, idx OW) {
    bool inside = true;
    const idx r0 = vec_row_pairs<T>(W, OH, OW, [&](auto v, idx r, auto offsets) {
        inside &= block_chunk<decltype(v)>(dx + 2 * r * W, g + r * OW, a + r * OW, W,
                                           static_cast<std::int32_t>(2 * r * W), 2 * W - decltype(v)::L, offsets);
    });
    for (idx r = r0; r < OH; ++r) {
        T* d0 = dx + 2 * r * W;
        const T* gr = g + r * OW;
        const std::int32_t* ar = a + r * OW;
        const std::int32_t base = static_cast<std::int32_t>(2 * r * W);
        const idx z0 = vec_row<T>(W, OW, [&](auto v, idx z, auto offsets) {
            inside &= block_chunk<decltype(v)>(d0 + 2 * z, gr + z, ar + z, W, base + static_cast<std::int32_t>(2 * z),
                                               0, offsets);
        });
        for (idx z = z0; z < OW; ++z)
            inside &= block_write(d0, W, z, gr[z] + T(0), ar[z] - base - static_cast<std::int32_t>(2 * z));
    }
    if (W > 2 * OW)  // columns in no block (odd W)
        for (idx r = 0; r < 2 * OH; ++r) std::fill(dx + r * W + 2 * OW, dx + (r + 1) * W, T(0));
    std::fill(dx + 2 * OH * W, dx + H * W, T(0));
    return inside;
}

// ---- the general case ---------------------------------------------------------------------------------------------
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
    const idx OH = (H + 2 * PD - PH) / S + 1, OW = (W + 2 * PD - PW) / S + 1, planes = idx(n * c);
    const bool pool2 = PH == 2 && PW == 2 && S == 2 && PD == 0;
    for_ranges(planes, planes * (H * W + 2 * OH * OW), [&](idx p0, idx p1) {
        for (idx plane = p0; plane < p1; ++plane) {
            const T* xp = x + plane * H * W;
            T* op = out + plane * OH * OW;
            std::int32_t* ap = argmax + plane * OH * OW;
            if (pool2) {
                pool2_plane(op, ap, xp, W, OH, OW);
                continue;
            }
            for (idx oh = 0; oh < OH; ++oh) {
                if (PD == 0) {
                    pool_row_inside(op + oh * OW, ap + oh * OW, xp, W, oh * S, OW, PH, PW, S);
                    continue;
                }
                for (idx ow = 0; ow < OW; ++ow)
                    pool_window(op + oh * OW + ow, ap + oh * OW + ow, xp, H, W, oh * S - PD, ow * S - PD, PH, PW);
            }
        }
    });
}

template <class T>
void maxpool_backward(T* dx, const T* dout, const std::int32_t* argmax, std::size_t n, std::size_t c,
                      std::size_t h, std::size_t w, std::size_t oh, std::size_t ow) {
    const idx H = idx(h), W = idx(w), OH = idx(oh), OW = idx(ow), hw = H * W, ohw = OH * OW, planes = idx(n * c);
    const bool blocks = 2 * OH <= H && 2 * OW <= W && blocks_in_vectors<T>(W, OW);
    for_ranges(planes, planes * (hw + 2 * ohw), [&](idx p0, idx p1) {
        for (idx plane = p0; plane < p1; ++plane) {
            T* dp = dx + plane * hw;
            const T* gp = dout + plane * ohw;
            const std::int32_t* ap = argmax + plane * ohw;
            if (blocks && pool2_backward(dp, gp, ap, H, W, OH, OW)) continue;
            std::fill(dp, dp + hw, T(0));  // per plane, so the scatter finds it in L1 (0.8-0.9x the time)
            for (idx k = 0; k < ohw; ++k)
                if (ap[k] >= 0) dp[ap[k]] += gp[k];
        }
    });
}

}  // namespace PYBP_ISA_NS
}  // namespace pybp

#include "kernel_instances.inc"
