// GEMM family: blocked, packed GEMM with a register-tiled micro-kernel (AVX-512, AVX2+FMA or portable), the plain
// reference GEMM, the fused affine forward and the bias gradient. Compiled once per ISA (pybp_multi_isa).
//
// Loop nest (the usual five loops around a micro-kernel): jc over NC columns of C, pc over KC of the inner
// dimension, ic over MC rows; inside, jr over NR-wide packed B panels (kept in L1) and ir over MR-row A slivers
// (streamed from L2). B is always packed (zero-padded to NR). A is packed into MR-row slivers, except when C is
// narrow and one of A's dimensions is contiguous: then packing would cost as much as the few B panels it serves,
// so the micro-kernel reads A in place (TwoLayerNet's x @ W and x.T @ dout); a last panel of at most half a
// vector of columns then goes to the edge kernels of gemm_edge.inc (n = 50 = 3 x 16 + 2). Packing routines live
// in gemm_pack.inc. Both are part of this family and are compiled only through this file.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "compiler.hpp"
#include "threads.hpp"

#include "simd.hpp"

#include "kernel_family.hpp"

namespace pybp {
namespace PYBP_ISA_NS {
namespace {

using idx = std::ptrdiff_t;

#if defined(PYBP_ISA_IS_avx512)
// MR x NV vectors of accumulators (+ NV B vectors + a broadcast) within the 32 zmm registers: 10 x 2 (23 registers).
// Measured on Zen 5 (interleaved, 1 thread, f32 GF/s on the GEMMs DeepConvNet's and SimpleConvNet's layers make,
// 1024-256-wide products and TwoLayerNet's x @ W1): 10x2 beat 14x2 by 2-11% (forward convs 180/228/193, simple
// conv forward 131-136, x @ W1 167-176), 12x2 within 1-3% of it (ahead only on conv2's input gradient, 198 vs 193);
// 8x3 won x @ W1 (205-215: n = 50 leaves a 2-column edge for the edge kernels) but lost 7-10% on the 64-filter
// layers (n = 64 = 48 + 16); 6x4 lost 10-15% on 16-filter layers. f64 alike. Override with -DPYBP_GEMM_MR=...
// -DPYBP_GEMM_NV=... to tune.
#ifndef PYBP_GEMM_MR
#define PYBP_GEMM_MR 10
#endif
#ifndef PYBP_GEMM_NV
#define PYBP_GEMM_NV 2
#endif
using simd::Vec;
template <class T> struct Tile {
    static constexpr int MR = PYBP_GEMM_MR, NR = PYBP_GEMM_NV * Vec<T>::L;
    static_assert(MR * PYBP_GEMM_NV + PYBP_GEMM_NV + 1 <= 32, "tile exceeds the 32 zmm registers");
};
#elif defined(PYBP_ISA_IS_avx2)
// 6 x 2-vector tile: 12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers.
using simd::Vec;
template <class T> struct Tile {
    static constexpr int MR = 6, NR = 2 * Vec<T>::L;
};
#else
// The portable tile: 4 x 8 = 32 scalar accumulators, which fit the 16 SSE2 registers (4 floats or 2 doubles
// each). Not tuned: the generic path is the fallback for non-x86 CPUs.
template <class T> struct Tile {
    static constexpr int MR = 4, NR = 8;
};
#endif

// Cache blocking (Zen 3: L1d 32 KiB, L2 512 KiB per core): the KC x NR B panel (24 KiB f32) stays in L1, the
// MC x KC A block in L2, the KC x NC B block in L3.
template <class T> struct Blk {
// Measured here (bench: min of interleaved samples vs OpenBLAS): KC 384 / MC 48 beat 256 / 144 on 1024^3 and
// 256x1024x1024 by ~5-10% in both dtypes, equal on TwoLayerNet's shapes. AVX-512 build (Zen 5, L1d 48 KiB, L2
// 1 MiB; 12x2 tile): KC 256 and MC 96-144 changed the conv layers' GEMMs by under +-3% (K <= 576, m <= 784: one
// or two blocks either way) and 256x1024x1024 within the noise of a loaded host, so the same numbers serve.
// Override with -DPYBP_GEMM_KC=... (and -DPYBP_GEMM_MC32=... / MC64, rows of A per block) in CMAKE_CXX_FLAGS.
#ifndef PYBP_GEMM_KC
#define PYBP_GEMM_KC 384
#endif
#ifndef PYBP_GEMM_MC32
#define PYBP_GEMM_MC32 48
#endif
#ifndef PYBP_GEMM_MC64
#define PYBP_GEMM_MC64 48
#endif
    static constexpr int KC = PYBP_GEMM_KC;
    static constexpr int MC = (sizeof(T) == 4 ? PYBP_GEMM_MC32 : PYBP_GEMM_MC64) / Tile<T>::MR * Tile<T>::MR;
    // Columns of C per outer block: the KC x NC block of packed B (4.5 MiB f32, 9 MiB f64) is meant to stay in L3
    // (32 MiB per Zen 3 CCX). Set with the first GEMM (58a6d19) and never tuned: no benchmarked shape has n > 1024.
    static constexpr int NC = 3072;
};

// Write one tile: C = alpha * acc + beta * C (beta == 0: C is not read). acc is MR x NR row-major.
template <class T>
inline void store_tile(T* c, idx ldc, const T* acc, int mr, int nr, T alpha, T beta) {
    constexpr int NR = Tile<T>::NR;
    for (int i = 0; i < mr; ++i) {
        T* ci = c + i * ldc;
        const T* ai = acc + i * NR;
        if (beta == T(0))
            for (int j = 0; j < nr; ++j) ci[j] = alpha * ai[j];
        else
            for (int j = 0; j < nr; ++j) ci[j] = alpha * ai[j] + beta * ci[j];
    }
}

// Micro-kernel: C[0:mr, 0:nr] = alpha * sum_p A(i, p) * Bp[p, j] + beta * C. A(i, p) = a[i*ars + p*acs]
// (packed: ars = 1, acs = MR); Bp is a packed KC x NR panel. Rows i >= mr of unpacked A are never read.
#ifdef PYBP_ISA_HAS_VEC
// NV = number of B vectors used: NR / L for a full panel, fewer for an edge panel (n = 50 would otherwise waste 14
// of 16 lanes on its last AVX2 panel). Each accumulator acc[i][h] is one FMA chain over p, in order.
template <class T, bool PACKED, int NV>
void micro_nv(int kc, const T* a, idx ars, idx acs, const T* bp, T* c, idx ldc, int mr, int nr, T alpha, T beta) {
    using W = Vec<T>;
    using V = typename W::V;
    constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR, L = W::L;
    if (PACKED) {
        ars = 1;
        acs = MR;
    }
    idx off[MR];
    for (int i = 0; i < MR; ++i) off[i] = PACKED ? i : (i < mr ? i : 0) * ars;  // unread rows alias row 0
    V acc[MR][NV];
    PYBP_UNROLL(16)
    for (int i = 0; i < MR; ++i)
        PYBP_UNROLL(4)
        for (int h = 0; h < NV; ++h) acc[i][h] = W::zero();
    // C's rows lie a row stride apart, out of reach of the hardware prefetcher: fetch the tile now so its read
    // (beta != 0) and write after the loop do not stall (~3% on 1024^3, where C comes from L3).
    for (int i = 0; i < mr; ++i) {
        _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
    }
    PYBP_UNROLL(4)
    for (int p = 0; p < kc; ++p) {
        V b[NV];
        PYBP_UNROLL(4)
        for (int h = 0; h < NV; ++h) b[h] = W::load(bp + h * L);
        PYBP_UNROLL(16)
        for (int i = 0; i < MR; ++i) {
            const V x = W::bcast(a + off[i]);
            PYBP_UNROLL(4)
            for (int h = 0; h < NV; ++h) acc[i][h] = W::fma(x, b[h], acc[i][h]);
        }
        a += acs;
        bp += NR;
    }
    if (mr == MR && nr == NR) {
        const V va = W::set1(alpha), vb = W::set1(beta);
        PYBP_UNROLL(16)
        for (int i = 0; i < MR; ++i) {
            T* ci = c + i * ldc;
            PYBP_UNROLL(4)
            for (int h = 0; h < NV; ++h) {
                V r = alpha == T(1) ? acc[i][h] : W::mul(va, acc[i][h]);
                if (beta != T(0)) r = W::add(r, W::mul(vb, W::load(ci + h * L)));
                W::store(ci + h * L, r);
            }
        }
        return;
    }
    alignas(64) T tmp[MR * NR];
    PYBP_UNROLL(16)
    for (int i = 0; i < MR; ++i)
        PYBP_UNROLL(4)
        for (int h = 0; h < NV; ++h) W::store(tmp + i * NR + h * L, acc[i][h]);
    store_tile(c, ldc, tmp, mr, nr, alpha, beta);
}

// The micro-kernel with as few B vectors as the panel's nr columns need.
template <class T, bool PACKED, int NV = Tile<T>::NR / Vec<T>::L>
void micro(int kc, const T* a, idx ars, idx acs, const T* bp, T* c, idx ldc, int mr, int nr, T alpha, T beta) {
    if constexpr (NV > 1)
        if (nr <= (NV - 1) * Vec<T>::L)
            return micro<T, PACKED, NV - 1>(kc, a, ars, acs, bp, c, ldc, mr, nr, alpha, beta);
    micro_nv<T, PACKED, NV>(kc, a, ars, acs, bp, c, ldc, mr, nr, alpha, beta);
}
#else
template <class T, bool PACKED>
void micro(int kc, const T* a, idx ars, idx acs, const T* bp, T* c, idx ldc, int mr, int nr, T alpha, T beta) {
    constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
    if (PACKED) {
        ars = 1;
        acs = MR;
    }
    idx off[MR];
    for (int i = 0; i < MR; ++i) off[i] = (i < mr ? i : 0) * ars;
    T acc[MR * NR] = {};
    for (int p = 0; p < kc; ++p) {
        for (int i = 0; i < MR; ++i) {
            const T ai = a[off[i]];
            for (int j = 0; j < NR; ++j) acc[i * NR + j] += ai * bp[j];
        }
        a += acs;
        bp += NR;
    }
    store_tile(c, ldc, acc, mr, nr, alpha, beta);
}
#endif

// Packing routines (pack_b_panel, pack_a_sliver): see gemm_pack.inc.
#include "gemm_pack.inc"
#ifdef PYBP_ISA_HAS_VEC
#include "gemm_edge.inc"
#endif

// Per-thread scratch, grown on demand and kept (no page faults from fresh allocations on every call).
template <class T>
T* scratch(std::vector<unsigned char>& buf, std::size_t count) {
    const std::size_t need = count * sizeof(T) + 64;
    if (buf.size() < need) buf.resize(need);
    auto p = reinterpret_cast<std::uintptr_t>(buf.data());
    return reinterpret_cast<T*>((p + 63) & ~std::uintptr_t(63));
}

thread_local std::vector<unsigned char> tl_a_buf;
thread_local std::vector<unsigned char> tl_b_buf;

inline idx ceil_div(idx a, idx b) { return (a + b - 1) / b; }

// ---- tuning numbers ----
// Inner block depth when A is read in place: no A block to keep in L2, and the few B panels stream well from L2,
// so deeper blocks save C round trips (x @ W1, k = 784: one block instead of four, ~3% faster; 0c675df).
constexpr idx kUnpackedKC = 1024;

// Row-major B is packed this many panels at a time, row by row: 64 x 64 contiguous bytes (a 4 KiB page) per row of
// B, which this host's memory streams far better than 4 x 64 bytes a row stride apart. Packing B reads it from DRAM
// here (loading it just before makes the packing 3x faster; software prefetch while computing did not help) and
// took ~10% of a 256x1024x1024 product; 64 panels instead of 4 cut that time by a third (+3-5% on the product).
constexpr idx kPackGroup = 64;

// Pack tasks are split into row slices when there are fewer panel groups than this many per thread and they do
// not divide evenly: x @ W1 is one group of 4 panels, which one thread packed while the other waited (f32, 2
// threads: 130-137 -> 151-152 GFLOP/s; 96d48e7). From 4 groups per thread on, the uneven last round is small.
constexpr idx kSplitPackBelowGroupsPerThread = 4;

// Problems below this many multiply-adds run on the calling thread: waking a worker would cost more than it saves
// (bench/bench_contention.py --crossover; -DPYBP_PARALLEL_MIN_MACS=0 to measure below it).
#ifndef PYBP_PARALLEL_MIN_MACS
#define PYBP_PARALLEL_MIN_MACS (1 << 20)
#endif
constexpr double kParallelMinMacs = PYBP_PARALLEL_MIN_MACS;
// Below this C width, row-contiguous A is read in place instead of packed (see the file comment). Set with the
// first GEMM (58a6d19) for TwoLayerNet's n = 50 and 10; not re-tuned since.
constexpr idx kUnpackedAMaxN = 256;

template <class T>
void scale_c(T* c, idx ldc, idx m, idx n, T beta) {
    for (idx i = 0; i < m; ++i)
        for (idx j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
}

// The operands of one call as the block functions read them.
template <class T>
struct Operands {
    T* c;
    idx ldc;
    const T* a;
    idx rsa, csa;
    const T* b;
    idx rsb, csb;
    idx m, n, k;
    T alpha, beta;
};

// How one call is cut into work, decided once before any thread starts.
template <class T>
struct Plan {
    static constexpr int MR = Tile<T>::MR;
    int nt = 1;               // threads
    bool unpacked_a = false;  // A read in place by the micro-kernel (not packed)
    int n_edge = 0;           // width of a last panel that goes to the edge kernels (gemm_edge.inc), else 0
    idx m = 0, slivers = 0;   // rows of C, and their MR-row slivers
    idx nblk = 0, mc = 0;     // row blocks, and the largest block's rows
    idx kc_max = 0, kc_step = 0, nc_max = 0;
    // First row of row block blk (blk = nblk: m).
    idx block_start(idx blk) const { return std::min(m, slivers * blk / nblk * MR); }
};

template <class T>
Plan<T> plan_gemm(const Operands<T>& op) {
    constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
    Plan<T> pl;
    pl.m = op.m;
    if (static_cast<double>(op.m) * op.n * op.k >= kParallelMinMacs) pl.nt = get_num_threads();
    // Narrow C: read A in place when either of its dimensions is contiguous (x @ W reads rows of x, x.T @ dout
    // reads 6 adjacent columns of x per step); packing would cost as much as the few B panels it serves.
    pl.unpacked_a = (op.csa == 1 || op.rsa == 1) && op.n < kUnpackedAMaxN;
    // A last panel of at most L/2 (and kEdgeMaxCols) columns goes to the edge kernels (gemm_edge.inc), packed
    // transposed.
#ifdef PYBP_ISA_HAS_VEC
    const idx tail = op.n % NR;
    const bool edge = pl.unpacked_a && tail != 0 && tail <= std::min(Vec<T>::L / 2, kEdgeMaxCols);
    pl.n_edge = edge ? static_cast<int>(tail) : 0;
#endif
    // Row blocks of whole MR-row slivers, at most MC rows each, their count a multiple of the thread count and
    // their sizes differing by at most one sliver, so threads get equal work (256 rows on 2 threads: 126 + 130).
    pl.slivers = ceil_div(op.m, MR);
    pl.nblk = ceil_div(pl.slivers, Blk<T>::MC / MR);
    if (pl.nt > 1) pl.nblk = ceil_div(std::max<idx>(pl.nblk, pl.nt), pl.nt) * pl.nt;
    pl.nblk = std::min(pl.nblk, pl.slivers);
    pl.mc = ceil_div(pl.slivers, pl.nblk) * MR;
    pl.nc_max = std::min<idx>(Blk<T>::NC, ceil_div(op.n, NR) * NR);
    // Equal inner blocks (784 = 4 x 196, not 3 x 256 + 16): no short block paying a full C read-modify-write.
    pl.kc_max = pl.unpacked_a ? kUnpackedKC : Blk<T>::KC;
    pl.kc_step = ceil_div(op.k, ceil_div(op.k, pl.kc_max));
    return pl;
}

// Number of pack tasks for one B block: panel groups, each split into ksplit row slices when the groups alone
// would leave threads idle.
inline idx pack_ksplit(idx ngroups, int nt) {
    return nt > 1 && ngroups % nt != 0 && ngroups < kSplitPackBelowGroupsPerThread * nt ? nt : 1;
}

// Pack task `task` of the B block B[pc : pc + kc, jc : jc + nc] into bp (panel-major, NR wide, zero-padded).
template <class T>
PYBP_ALWAYS_INLINE void pack_b_task(const Plan<T>& pl, const Operands<T>& op, idx task, idx ksplit, idx jc, idx nc,
                                     idx pc, int kc, T* bp) {
    constexpr int NR = Tile<T>::NR;
    const idx npanels = ceil_div(nc, NR);
    const idx qg = task / ksplit, ks = task % ksplit;
    const int k0 = static_cast<int>(kc * ks / ksplit), kr = static_cast<int>(kc * (ks + 1) / ksplit) - k0;
    const idx q0 = qg * kPackGroup, q1 = std::min<idx>(q0 + kPackGroup, npanels);
    const T* bk = op.b + (pc + k0) * op.rsb + jc * op.csb;
    idx qf = q0;  // panels [q0, qf): full width, packed row by row when B is row-major
    if (op.csb == 1) {
        qf = std::min(q1, nc / NR);
        if (qf > q0)
            pack_b_rows(bp + q0 * NR * kc + k0 * NR, bk + q0 * NR, op.rsb, kr, kc, static_cast<int>(qf - q0));
        else
            qf = q0;
    }
    for (idx q = qf; q < q1; ++q) {
        const int nr = static_cast<int>(std::min<idx>(NR, nc - q * NR));
        const T* bq = bk + q * NR * op.csb;
#ifdef PYBP_ISA_HAS_VEC
        if (pl.n_edge && q == npanels - 1) {
            pack_b_edge(bp + q * NR * kc + k0, bq, op.rsb, op.csb, kr, kc, nr);
            continue;
        }
#else
        (void)pl;
#endif
        pack_b_panel(bp + q * NR * kc + k0 * NR, bq, op.rsb, op.csb, kr, nr);
    }
}

// Row block blk of C[:, jc : jc + nc] += A[rows, pc : pc + kc] @ (packed B block bp): packs the block's A slivers
// into ap (unless A is read in place), then runs the micro-kernel (or the edge kernels) over every tile.
template <class T>
PYBP_ALWAYS_INLINE void compute_row_block(const Plan<T>& pl, const Operands<T>& op, idx blk, idx jc, idx nc,
                                           idx pc, int kc, T beta_eff, const T* bp, T* ap) {
    constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
    const idx rsa = op.rsa, csa = op.csa, ldc = op.ldc;
    const idx ic = pl.block_start(blk);
    const idx mcb = pl.block_start(blk + 1) - ic;
    const T* ablk = op.a + ic * rsa + pc * csa;
    if (!pl.unpacked_a)
        for (idx ir = 0; ir < mcb; ir += MR)
            pack_a_sliver(ap + ir * kc, ablk + ir * rsa, rsa, csa, static_cast<int>(std::min<idx>(MR, mcb - ir)), kc);
    for (idx jr = 0; jr < nc; jr += NR) {
        const int nr = static_cast<int>(std::min<idx>(NR, nc - jr));
        const T* bq = bp + jr * kc;
        T* cblk = op.c + ic * ldc + jc + jr;
#ifdef PYBP_ISA_HAS_VEC
        if (pl.n_edge && jr + NR >= nc) {
            edge_cols(kc, ablk, rsa, csa, bq, cblk, ldc, static_cast<int>(mcb), nr, op.alpha, beta_eff);
            continue;
        }
#endif
        for (idx ir = 0; ir < mcb; ir += MR) {
            const int mr = static_cast<int>(std::min<idx>(MR, mcb - ir));
            if (pl.unpacked_a)
                micro<T, false>(kc, ablk + ir * rsa, rsa, csa, bq, cblk + ir * ldc, ldc, mr, nr, op.alpha, beta_eff);
            else
                micro<T, true>(kc, ap + ir * kc, 1, MR, bq, cblk + ir * ldc, ldc, mr, nr, op.alpha, beta_eff);
        }
    }
}

// The whole product over pl.nt threads (the only parallel region of the GEMM family): for each NC-column block
// and KC-deep inner block, the threads pack B's block together (bp, shared), then split C's row blocks.
// pack_b_task and compute_row_block are forced inline here, so the code is the one-function loop nest's: called,
// GCC compiled the generic f64 micro-kernel with one addition's operands swapped, and a sum of two NaNs (inf * 0
// in A @ B) came out with the other sign bit.
template <class T>
void run_parallel_blocks(const Plan<T>& pl, const Operands<T>& op, T* bp) {
    constexpr int NC = Blk<T>::NC, NR = Tile<T>::NR, KC = Blk<T>::KC;
    const int nt = pl.nt;
    // Two jobs per B block on the pool (threads.hpp): its packing tasks, then the row blocks that read it. Tasks
    // are claimed dynamically, so a thread the OS has not run yet leaves its share to the others.
    for (idx jc = 0; jc < op.n; jc += NC) {
        const idx nc = std::min<idx>(NC, op.n - jc);
        const idx ngroups = ceil_div(ceil_div(nc, NR), kPackGroup);
        const idx ksplit = pack_ksplit(ngroups, nt);
        for (idx pc = 0; pc < op.k; pc += pl.kc_step) {
            const int kc = static_cast<int>(std::min<idx>(pl.kc_step, op.k - pc));
            const T beta_eff = pc == 0 ? op.beta : T(1);
            auto pack = [&](idx task) { pack_b_task(pl, op, task, ksplit, jc, nc, pc, kc, bp); };
            parallel_for(ngroups * ksplit, nt, pack);
            auto compute = [&](idx blk) {
                T* ap = pl.unpacked_a ? nullptr : scratch<T>(tl_a_buf, static_cast<std::size_t>(pl.mc) * KC);
                compute_row_block(pl, op, blk, jc, nc, pc, kc, beta_eff, bp, ap);
            };
            parallel_for(pl.nblk, nt, compute);
        }
    }
}

}  // namespace

template <class T>
void gemm(T* c, std::ptrdiff_t ldc, const T* a, std::ptrdiff_t rsa, std::ptrdiff_t csa, const T* b,
          std::ptrdiff_t rsb, std::ptrdiff_t csb, std::size_t m, std::size_t n, std::size_t k, T alpha, T beta) {
    const Operands<T> op{c, ldc, a, rsa, csa, b, rsb, csb, static_cast<idx>(m), static_cast<idx>(n),
                         static_cast<idx>(k), alpha, beta};
    if (op.m == 0 || op.n == 0) return;
    if (op.k == 0 || alpha == T(0)) {  // no products: C = beta * C (alpha == 0 also skips NaN/inf in A and B)
        scale_c(c, ldc, op.m, op.n, beta);
        return;
    }
    const Plan<T> pl = plan_gemm(op);
    T* bp = scratch<T>(tl_b_buf, static_cast<std::size_t>(pl.kc_max) * pl.nc_max);
    run_parallel_blocks(pl, op, bp);
}

template <class T>
void gemm_ref(T* c, std::ptrdiff_t ldc, const T* a, std::ptrdiff_t rsa, std::ptrdiff_t csa, const T* b,
              std::ptrdiff_t rsb, std::ptrdiff_t csb, std::size_t m, std::size_t n, std::size_t k, T alpha, T beta) {
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            T s = T(0);
            for (std::size_t p = 0; p < k; ++p)
                s += a[static_cast<idx>(i) * rsa + static_cast<idx>(p) * csa] *
                     b[static_cast<idx>(p) * rsb + static_cast<idx>(j) * csb];
            T& cij = c[static_cast<idx>(i) * ldc + static_cast<idx>(j)];
            cij = beta == T(0) ? alpha * s : alpha * s + beta * cij;
        }
}

template <class T>
void affine_forward(T* out, const T* x, const T* w, const T* bias, std::size_t n, std::size_t k, std::size_t m) {
    for (std::size_t i = 0; i < n; ++i) std::memcpy(out + i * m, bias, m * sizeof(T));
    gemm<T>(out, static_cast<idx>(m), x, static_cast<idx>(k), 1, w, static_cast<idx>(m), 1, n, m, k, T(1), T(1));
}

template <class T>
void bias_grad(T* db, const T* dout, std::size_t n, std::size_t m) {
    for (std::size_t j = 0; j < m; ++j) db[j] = T(0);
    for (std::size_t i = 0; i < n; ++i) {
        const T* row = dout + i * m;
        for (std::size_t j = 0; j < m; ++j) db[j] += row[j];
    }
}

}  // namespace PYBP_ISA_NS
}  // namespace pybp

#include "kernel_instances.inc"
