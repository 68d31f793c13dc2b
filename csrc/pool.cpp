// Max pooling (NCHW), forward and backward, with the book's rules: zero padding takes part in the max, the first
// maximum in row-major window order wins (a NaN wins, as with np.argmax). Compiled once per ISA.
#include <algorithm>
#include <cstdint>

#include "dispatch.hpp"

namespace pybp {
namespace PYBP_ISA_NS {

template <class T>
void maxpool_forward(T* out, std::int32_t* argmax, const T* x, std::size_t n, std::size_t c, std::size_t h,
                     std::size_t w, std::size_t ph, std::size_t pw, std::size_t stride, std::size_t pad) {
    using idx = std::ptrdiff_t;
    const idx H = idx(h), W = idx(w), S = idx(stride), PD = idx(pad), PH = idx(ph), PW = idx(pw);
    const idx OH = (H + 2 * PD - PH) / S + 1, OW = (W + 2 * PD - PW) / S + 1;
    const bool inside_only = PD == 0;  // every window lies inside the image: no bounds tests
    for (idx plane = 0; plane < idx(n * c); ++plane) {
        const T* xp = x + plane * H * W;
        T* op = out + plane * OH * OW;
        std::int32_t* ap = argmax + plane * OH * OW;
        for (idx oh = 0; oh < OH; ++oh)
            for (idx ow = 0; ow < OW; ++ow) {
                T best = T(0);
                idx where = -1;
                bool first = true;
                for (idx i = 0; i < PH; ++i) {
                    const idx r = oh * S + i - PD;
                    for (idx j = 0; j < PW; ++j) {
                        const idx q = ow * S + j - PD;
                        const bool in = inside_only || (r >= 0 && r < H && q >= 0 && q < W);
                        const T v = in ? xp[r * W + q] : T(0);
                        // v != v: NaN takes the place unless the best is already NaN (np.argmax's first NaN)
                        if (first || v > best || (v != v && best == best)) {
                            best = v;
                            where = in ? r * W + q : -1;
                            first = false;
                        }
                    }
                }
                op[oh * OW + ow] = best;
                ap[oh * OW + ow] = static_cast<std::int32_t>(where);
            }
    }
}

template <class T>
void maxpool_backward(T* dx, const T* dout, const std::int32_t* argmax, std::size_t n, std::size_t c,
                      std::size_t h, std::size_t w, std::size_t oh, std::size_t ow) {
    const std::size_t hw = h * w, ohw = oh * ow;
    std::fill(dx, dx + n * c * hw, T(0));
    for (std::size_t plane = 0; plane < n * c; ++plane) {
        T* dp = dx + plane * hw;
        const T* gp = dout + plane * ohw;
        const std::int32_t* ap = argmax + plane * ohw;
        for (std::size_t k = 0; k < ohw; ++k)
            if (ap[k] >= 0) dp[ap[k]] += gp[k];
    }
}

}  // namespace PYBP_ISA_NS
}  // namespace pybp

#define PYBP_INSTANTIATE(T)                                                                                    \
    template void maxpool_forward(T*, std::int32_t*, const T*, std::size_t, std::size_t, std::size_t,          \
                                  std::size_t, std::size_t, std::size_t, std::size_t, std::size_t);            \
    template void maxpool_backward(T*, const T*, const std::int32_t*, std::size_t, std::size_t, std::size_t,   \
                                   std::size_t, std::size_t, std::size_t);

namespace pybp {
namespace PYBP_ISA_NS {
PYBP_INSTANTIATE(float)
PYBP_INSTANTIATE(double)
}  // namespace PYBP_ISA_NS

#ifdef PYBP_ISA_IS_generic
template <class T>
void maxpool_forward(T* out, std::int32_t* argmax, const T* x, std::size_t n, std::size_t c, std::size_t h,
                     std::size_t w, std::size_t ph, std::size_t pw, std::size_t stride, std::size_t pad) {
    PYBP_DISPATCH(maxpool_forward(out, argmax, x, n, c, h, w, ph, pw, stride, pad));
}
template <class T>
void maxpool_backward(T* dx, const T* dout, const std::int32_t* argmax, std::size_t n, std::size_t c,
                      std::size_t h, std::size_t w, std::size_t oh, std::size_t ow) {
    PYBP_DISPATCH(maxpool_backward(dx, dout, argmax, n, c, h, w, oh, ow));
}
PYBP_INSTANTIATE(float)
PYBP_INSTANTIATE(double)
#endif
}  // namespace pybp
