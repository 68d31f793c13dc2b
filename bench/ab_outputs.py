"""A/B check for refactors that must not change results: dump every compiled kernel's outputs, bit for bit.

    PYTHONPATH=<tree A> python bench/ab_outputs.py dump /tmp/a.npz [generic,avx2]
    PYTHONPATH=<tree B> python bench/ab_outputs.py dump /tmp/b.npz [generic,avx2]
    python bench/ab_outputs.py compare /tmp/a.npz /tmp/b.npz     # exit 1 on any differing bit

Each kernel of pybp._core runs on fixed inputs (random normal plus NaN, +-inf, +-0, subnormals and large values)
in float32 and float64, on every ISA path of the build the CPU can run (or the comma-separated ones named: a tree
that adds a path compares on the others) and on 1 and 2 threads. peak_gflops is a timing, not an output, and is left out.
"""
from __future__ import annotations

import sys

import numpy as np

SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-310, 88.5, -88.5, 710.0, -745.0, 1e4, -1e4]


def _inputs(dtype, shape, seed, special=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3
    if special:
        flat = x.reshape(-1)
        pos = rng.choice(flat.size, size=min(flat.size // 3, 4 * len(SPECIALS)), replace=False)
        flat[pos] = np.resize(SPECIALS, pos.size)
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(x.astype(dtype))


def _cases(core, dtype):
    """Yields (name, array-or-float) for every kernel call of one dtype on the active ISA path."""
    elem_shapes = [(1,), (7,), (33,), (100, 10), (257, 50)]
    for s, shape in enumerate(elem_shapes):
        x = _inputs(dtype, shape, 10 + s)
        out, mask = core.relu_forward(x)
        yield f"relu_forward{shape}", out
        yield f"relu_forward_mask{shape}", mask
        dout = _inputs(dtype, shape, 20 + s)
        yield f"relu_backward{shape}", core.relu_backward(dout, mask)
        with np.errstate(all="ignore"):
            y = core.sigmoid_forward(x)
        yield f"sigmoid_forward{shape}", y
        yield f"sigmoid_backward{shape}", core.sigmoid_backward(dout, y)
        xi = x.copy()
        core.sigmoid_forward(xi, out=xi)
        yield f"sigmoid_forward_inplace{shape}", xi

    # GEMM: packed and in-place A, edge panels, transposes, strided views, alpha/beta, the threaded size.
    gemm_shapes = [(1, 1, 1), (5, 3, 7), (100, 50, 784), (100, 10, 50), (50, 784, 100), (13, 17, 19),
                   (64, 64, 64), (100, 300, 260), (256, 130, 300), (7, 2, 1000)]
    for s, (m, n, k) in enumerate(gemm_shapes):
        for ta in (False, True):
            for tb in (False, True):
                a = _inputs(dtype, (k, m) if ta else (m, k), 100 + s, special=False)
                b = _inputs(dtype, (n, k) if tb else (k, n), 200 + s, special=False)
                tag = f"{m}x{n}x{k}_{int(ta)}{int(tb)}"
                yield f"gemm_{tag}", core.gemm(a, b, trans_a=ta, trans_b=tb)
                c = _inputs(dtype, (m, n), 300 + s, special=False)
                core.gemm(a, b, c, alpha=0.5, beta=-1.25, trans_a=ta, trans_b=tb)
                yield f"gemm_ab_{tag}", c
                yield f"gemm_ref_{tag}", core.gemm_ref(a, b, trans_a=ta, trans_b=tb)
    big_a = _inputs(dtype, (300, 400), 400, special=False)
    big_b = _inputs(dtype, (400, 260), 401, special=False)
    yield "gemm_strided", core.gemm(big_a[::2, ::3], big_b[:: 3, ::2][: big_a[::2, ::3].shape[1]])
    yield "gemm_negstride", core.gemm(big_a[::-1], big_b)
    sp_a = _inputs(dtype, (20, 30), 402)
    sp_b = _inputs(dtype, (30, 18), 403)
    with np.errstate(all="ignore"):
        yield "gemm_special", core.gemm(sp_a, sp_b)
    c = np.full((20, 18), np.nan, dtype)
    core.gemm(sp_a, sp_b, c, beta=0.0)
    yield "gemm_beta0_nan_c", c
    c = _inputs(dtype, (20, 18), 404)
    core.gemm(sp_a, sp_b, c, alpha=0.0, beta=2.0)
    yield "gemm_alpha0", c

    for s, (n, k, m) in enumerate([(100, 784, 50), (100, 50, 10), (3, 5, 7), (256, 1000, 100)]):
        x = _inputs(dtype, (n, k), 500 + s, special=False)
        w = _inputs(dtype, (k, m), 510 + s, special=False)
        b = _inputs(dtype, (m,), 520 + s, special=False)
        yield f"affine_forward_{n}x{k}x{m}", core.affine_forward(x, w, b)
        yield f"bias_grad_{n}x{m}", core.bias_grad(_inputs(dtype, (n, m), 530 + s))

    for s, shape in enumerate([(1,), (3, 5), (100, 10), (129, 10), (40, 1000), (7, 8), (9, 17)]):
        x = _inputs(dtype, shape, 600 + s)
        yield f"softmax{shape}", core.softmax(x)
        yield f"softmax_finite{shape}", core.softmax(_inputs(dtype, shape, 610 + s, special=False))
    for s, (n, c) in enumerate([(1, 1), (100, 10), (300, 10), (33, 7), (64, 1000)]):
        rng = np.random.default_rng(700 + s)
        for special in (False, True):
            x = _inputs(dtype, (n, c), 710 + s, special=special)
            t = rng.integers(0, c, n)
            loss, y, dx = core.softmax_cross_entropy(x, t)
            yield f"xent_index_{n}x{c}_{special}", np.array([loss])
            yield f"xent_index_y_{n}x{c}_{special}", y
            yield f"xent_index_dx_{n}x{c}_{special}", dx
            onehot = np.eye(c, dtype=dtype)[t]
            loss, y, dx = core.softmax_cross_entropy(x, onehot)
            yield f"xent_onehot_{n}x{c}_{special}", np.array([loss])
            yield f"xent_onehot_dx_{n}x{c}_{special}", dx
            soft = rng.random((n, c)).astype(dtype)
            soft /= soft.sum(axis=1, keepdims=True)
            loss, y, dx = core.softmax_cross_entropy(x, soft)
            yield f"xent_soft_{n}x{c}_{special}", np.array([loss])
            yield f"xent_soft_dx_{n}x{c}_{special}", dx

    for s, shape in enumerate([(7,), (100, 50), (1000, 37)]):
        g = _inputs(dtype, shape, 800 + s)
        start = _inputs(dtype, shape, 810 + s, special=False)
        state = np.abs(_inputs(dtype, shape, 820 + s, special=False))
        runs = {
            "sgd": lambda p: core.sgd_update(p, g, 0.1),
            "momentum": lambda p: core.momentum_update(p, g, v, 0.1, 0.9),
            "nesterov": lambda p: core.nesterov_update(p, g, v, 0.1, 0.9),
            "adagrad": lambda p: core.adagrad_update(p, g, v, 0.01, 1e-7),
            "rmsprop": lambda p: core.rmsprop_update(p, g, v, 0.01, 0.99, 1e-7),
            "adam": lambda p: core.adam_update(p, g, mm, v, 0.001, 0.9, 0.999, 1e-7),
        }
        for name, run in runs.items():
            p, v, mm = start.copy(), state.copy(), start[::-1].copy()
            with np.errstate(all="ignore"):
                for _ in range(3):
                    run(p)
            yield f"{name}_p{shape}", p
            yield f"{name}_v{shape}", v
            if name == "adam":
                yield f"{name}_m{shape}", mm

    # Convolution and max pooling: the book's layer shapes (DeepConvNet's pads, SimpleConvNet's 5x5), stride 2,
    # a 1x1 filter and an image large enough for several column blocks.
    conv_shapes = [((3, 1, 28, 28), (16, 1, 3, 3), 1, 1), ((2, 16, 28, 28), (16, 16, 3, 3), 1, 1),
                   ((2, 32, 14, 14), (32, 32, 3, 3), 1, 2), ((2, 64, 8, 8), (64, 64, 3, 3), 1, 1),
                   ((3, 1, 28, 28), (30, 1, 5, 5), 1, 0), ((2, 3, 11, 9), (5, 3, 3, 2), 2, 1),
                   ((2, 4, 6, 7), (3, 4, 1, 1), 1, 0), ((1, 8, 70, 70), (8, 8, 3, 3), 1, 1)]
    for s, (xs, ws, stride, pad) in enumerate(conv_shapes):
        x = _inputs(dtype, xs, 800 + s, special=False)
        w = _inputs(dtype, ws, 810 + s, special=False)
        b = _inputs(dtype, ws[:1], 820 + s, special=False)
        tag = f"{xs}_{ws}_s{stride}_p{pad}"
        out = core.conv_forward(x, w, b, stride, pad)
        yield f"conv_forward_{tag}", out
        dout = _inputs(dtype, out.shape, 830 + s, special=False)
        yield f"conv_backward_data_{tag}", core.conv_backward_data(dout, w, xs[2], xs[3], stride, pad)
        dw, db = core.conv_backward_weights(dout, x, ws[2], ws[3], stride, pad)
        yield f"conv_backward_weights_dw_{tag}", dw
        yield f"conv_backward_weights_db_{tag}", db
    for s, (xs, ph, pw, stride, pad) in enumerate([((2, 16, 28, 28), 2, 2, 2, 0), ((2, 3, 9, 7), 3, 2, 2, 1),
                                                   ((2, 5, 8, 8), 2, 2, 1, 0)]):
        x = _inputs(dtype, xs, 900 + s)
        out, arg = core.maxpool_forward(x, ph, pw, stride, pad)
        yield f"maxpool_forward_{xs}_{ph}{pw}s{stride}p{pad}", out
        yield f"maxpool_argmax_{xs}_{ph}{pw}s{stride}p{pad}", arg
        dout = _inputs(dtype, out.shape, 910 + s, special=False)
        yield f"maxpool_backward_{xs}_{ph}{pw}s{stride}p{pad}", core.maxpool_backward(dout, arg, xs[2], xs[3])



def _runnable_paths(core):
    """The ISA paths of this build that this CPU runs."""
    paths, prev = [], core.active_isa()
    for isa in core.build_info["isa_paths"]:
        try:
            core.set_isa(isa)
        except ValueError:
            continue
        paths.append(isa)
    core.set_isa(prev)
    return paths


def dump(path, only=None):
    from pybp import _core

    paths = _runnable_paths(_core) if only is None else only.split(",")
    out = {}
    for isa in paths:
        _core.set_isa(isa)
        for threads in (1, 2):
            _core.set_num_threads(threads)
            for dtype in (np.float32, np.float64):
                for name, value in _cases(_core, dtype):
                    out[f"{isa}/t{threads}/{np.dtype(dtype).name}/{name}"] = np.asarray(value)
    np.savez_compressed(path, **out)
    print(f"{path}: {len(out)} arrays, ISA paths {paths}, pybp._core from {_core.__file__}")


def compare(path_a, path_b):
    a, b = np.load(path_a), np.load(path_b)
    keys_a, keys_b = set(a.files), set(b.files)
    bad = sorted(keys_a ^ keys_b)
    for k in sorted(keys_a & keys_b):
        x, y = a[k], b[k]
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            bad.append(k)
    for k in bad[:40]:
        print("DIFFERS:", k)
    print(f"{len(keys_a & keys_b)} arrays compared, {len(bad)} differ or are missing on one side")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) in (3, 4) and sys.argv[1] == "dump":
        dump(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
