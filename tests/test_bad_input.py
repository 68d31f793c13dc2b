"""Bad input never crashes: every public kernel under every backend raises the same exception type with a
message naming the argument (and both shapes for mismatches), or gives the documented result.

The matrix is generated from a valid call per kernel (all arguments by keyword; the backends share signatures),
then mutated: non-arrays, wrong dtypes, mixed float32/float64, read-only or non-contiguous outputs and in-place
state, non-contiguous/Fortran inputs (must give the right answer), plus per-kernel shape and label cases.
"""
from __future__ import annotations

import numpy as np
import pytest

F = np.float64


def _r(*shape, seed=0):
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape).astype(F)


def _pos(*shape, seed=0):
    return np.abs(_r(*shape, seed=seed)) + 0.1


# kernel -> (factory of valid kwargs, float input names, output/in-place names)
SPECS = {
    "gemm": (lambda: dict(a=_r(3, 4), b=_r(4, 5), c=_r(3, 5), beta=0.5), ["a", "b"], ["c"]),
    "affine_forward": (lambda: dict(x=_r(6, 4), w=_r(4, 3), b=_r(3), out=_r(6, 3)), ["x", "w", "b"], ["out"]),
    "bias_grad": (lambda: dict(dout=_r(6, 3), out=_r(3)), ["dout"], ["out"]),
    "relu_forward": (lambda: dict(x=_r(5, 4), out=_r(5, 4)), ["x"], ["out"]),
    "relu_backward": (lambda: dict(dout=_r(5, 4), mask=_r(5, 4) > 0, out=_r(5, 4)), ["dout"], ["out"]),
    "sigmoid_forward": (lambda: dict(x=_r(5, 4), out=_r(5, 4)), ["x"], ["out"]),
    "sigmoid_backward": (lambda: dict(dout=_r(5, 4), y=_pos(5, 4) / 2, out=_r(5, 4)), ["dout", "y"], ["out"]),
    "softmax": (lambda: dict(x=_r(5, 4), out=_r(5, 4)), ["x"], ["out"]),
    "softmax_cross_entropy": (lambda: dict(x=_r(5, 4), t=np.array([0, 3, 1, 2, 3]), y=_r(5, 4), dx=_r(5, 4)),
                              ["x"], ["y", "dx"]),
    "sgd_update": (lambda: dict(param=_r(7, 3), grad=_r(7, 3), lr=0.1), ["grad"], ["param"]),
    "momentum_update": (lambda: dict(param=_r(7, 3), grad=_r(7, 3), v=_r(7, 3), lr=0.1, momentum=0.9),
                        ["grad"], ["param", "v"]),
    "nesterov_update": (lambda: dict(param=_r(7, 3), grad=_r(7, 3), v=_r(7, 3), lr=0.1, momentum=0.9),
                        ["grad"], ["param", "v"]),
    "adagrad_update": (lambda: dict(param=_r(7, 3), grad=_r(7, 3), h=_pos(7, 3), lr=0.1, eps=1e-7),
                       ["grad"], ["param", "h"]),
    "rmsprop_update": (lambda: dict(param=_r(7, 3), grad=_r(7, 3), h=_pos(7, 3), lr=0.1, decay_rate=0.99,
                                    eps=1e-7), ["grad"], ["param", "h"]),
    "adam_update": (lambda: dict(param=_r(7, 3), grad=_r(7, 3), m=_r(7, 3), v=_pos(7, 3), lr_t=0.01, beta1=0.9,
                                 beta2=0.999, eps=1e-7), ["grad"], ["param", "m", "v"]),
    # convolution and pooling: x (2, 3, 6, 5), w (4, 3, 3, 2), stride 2, pad 1 -> (2, 4, 3, 3); pool 2x2 -> (2, 3, 4, 3)
    "conv_forward": (lambda: dict(x=_r(2, 3, 6, 5), w=_r(4, 3, 3, 2), b=_r(4), stride=2, pad=1, out=_r(2, 4, 3, 3)),
                     ["x", "w", "b"], ["out"]),
    "conv_backward_data": (lambda: dict(dout=_r(2, 4, 3, 3), w=_r(4, 3, 3, 2), in_h=6, in_w=5, stride=2, pad=1,
                                        out=_r(2, 3, 6, 5)), ["dout", "w"], ["out"]),
    "conv_backward_weights": (lambda: dict(dout=_r(2, 4, 3, 3), x=_r(2, 3, 6, 5), filter_h=3, filter_w=2, stride=2,
                                           pad=1, dw=_r(4, 3, 3, 2), db=_r(4)), ["dout", "x"], ["dw", "db"]),
    "maxpool_forward": (lambda: dict(x=_r(2, 3, 6, 5), pool_h=2, pool_w=2, stride=2, pad=1, out=_r(2, 3, 4, 3)),
                        ["x"], ["out"]),
    "maxpool_backward": (lambda: dict(dout=_r(2, 3, 4, 3), argmax=_argmax(), in_h=6, in_w=5, out=_r(2, 3, 6, 5)),
                         ["dout"], ["out"]),
}


def _argmax(first=None):
    """Valid max-pool indices into a 6x5 plane (-1: padding); `first` replaces the first one."""
    a = np.random.default_rng(3).integers(-1, 30, size=(2, 3, 4, 3)).astype(np.int32)
    if first is not None:
        a[0, 0, 0, 0] = first
    return a


BAD_DTYPES = [np.int64, np.float16, np.complex128, object, np.int32]

# scalar arguments of each kernel: (real numbers, yes/no flags); one rule under every backend (pybp._checks.real
# and .flag, bind_common.hpp's real_arg and flag_arg)
SCALARS = {"gemm": (["alpha", "beta"], ["trans_a", "trans_b"]), "sgd_update": (["lr"], []),
           "momentum_update": (["lr", "momentum"], []), "nesterov_update": (["lr", "momentum"], []),
           "adagrad_update": (["lr", "eps"], []), "rmsprop_update": (["lr", "decay_rate", "eps"], []),
           "adam_update": (["lr_t", "beta1", "beta2", "eps"], [])}
BAD_REALS = [("str", "0.5", TypeError, r"must be a real number, got str"),
             ("none", None, TypeError, r"must be a real number, got NoneType"),
             ("list", [0.5], TypeError, r"must be a real number, got list"),
             ("bytes", b"1", TypeError, r"must be a real number, got bytes"),
             ("huge-int", 10**400, ValueError, r"is out of the float range")]
BAD_FLAGS = [("str", "yes", r"must be a bool, got str"), ("int", 1, r"must be a bool, got int"),
             ("none", None, r"must be a bool, got NoneType"), ("float", 0.0, r"must be a bool, got float")]


def _cases():
    """(case id, kernel, mutate(kwargs) -> kwargs, exception type, message regex)."""
    cases = []
    for k, (make, inputs, outputs) in SPECS.items():
        for name in inputs + outputs:
            cases.append((f"{k}-{name}-list", k, lambda kw, n=name: {**kw, n: kw[n].tolist()}, TypeError,
                          rf"{name} must be a numpy\.ndarray, got list"))
            for bad in BAD_DTYPES:
                cases.append((f"{k}-{name}-{np.dtype(bad).name}", k,
                              lambda kw, n=name, b=bad: {**kw, n: kw[n].astype(b)}, TypeError,
                              rf"{name}.*float32 or float64|dtype mismatch"))
            cases.append((f"{k}-{name}-f32-among-f64", k,
                          lambda kw, n=name: {**kw, n: kw[n].astype(np.float32)}, TypeError, r"dtype mismatch"))
            cases.append((f"{k}-{name}-big-endian", k,
                          lambda kw, n=name: {**kw, n: kw[n].astype(">f8")}, TypeError,
                          rf"{name}.*float32 or float64"))
        for name in outputs:
            def ro(kw, n=name):
                a = kw[n].copy()
                a.flags.writeable = False
                return {**kw, n: a}
            cases.append((f"{k}-{name}-readonly", k, ro, ValueError, rf"{name} is read-only"))

            def strided(kw, n=name):
                a = kw[n]
                big = np.zeros(a.shape[:-1] + (a.shape[-1] * 2,), dtype=a.dtype)
                v = big[..., ::2]
                v[...] = a
                return {**kw, n: v}
            cases.append((f"{k}-{name}-strided", k, strided, ValueError, rf"{name} must be C-contiguous"))
            a0 = make()[name]
            if a0.ndim == 2 and min(a0.shape) > 1:  # only then is Fortran order not also C order
                cases.append((f"{k}-{name}-fortran", k, lambda kw, n=name: {**kw, n: np.asfortranarray(kw[n])},
                              ValueError, rf"{name} must be C-contiguous"))
    # per-kernel shapes and values
    cases += [
        ("gemm-inner-mismatch", "gemm", lambda kw: {**kw, "b": _r(5, 2), "c": None, "beta": 0.0}, ValueError,
         r"shape mismatch: op\(a\) \(3, 4\) and op\(b\) \(5, 2\)"),
        ("gemm-a-1d", "gemm", lambda kw: {**kw, "a": _r(4)}, ValueError, r"a must be 2-D"),
        ("gemm-c-shape", "gemm", lambda kw: {**kw, "c": _r(5, 3)}, ValueError, r"c"),
        ("gemm-beta-without-c", "gemm", lambda kw: {**kw, "c": None}, ValueError, r"beta"),
        ("gemm-c-overlaps-a", "gemm", lambda kw: {**kw, "a": kw["c"][:, :4], "b": _r(4, 5)}, ValueError,
         r"overlap"),
        ("affine-x-w", "affine_forward", lambda kw: {**kw, "x": _r(100, 785), "w": _r(784, 50), "b": _r(50),
                                                     "out": None},
         ValueError, r"x \(100, 785\) and w \(784, 50\)"),
        ("affine-w-b", "affine_forward", lambda kw: {**kw, "b": _r(4)}, ValueError, r"w \(4, 3\) and b \(4,\)"),
        ("affine-x-3d", "affine_forward", lambda kw: {**kw, "x": _r(6, 2, 2)}, ValueError, r"x must be 2-D"),
        ("affine-out-shape", "affine_forward", lambda kw: {**kw, "out": _r(3, 6)}, ValueError, r"out"),
        ("bias-grad-1d", "bias_grad", lambda kw: {**kw, "dout": _r(6)}, ValueError, r"dout must be 2-D"),
        ("bias-grad-out-shape", "bias_grad", lambda kw: {**kw, "out": _r(4)}, ValueError, r"out"),
        ("affine-out-overlaps-x", "affine_forward",
         lambda kw: (lambda base: {**kw, "x": base[:24].reshape(6, 4), "out": base[20:].reshape(6, 3)})(_r(38)),
         ValueError, r"out must not overlap x"),
        ("bias-grad-out-in-dout", "bias_grad", lambda kw: {**kw, "out": kw["dout"][0]}, ValueError,
         r"out must not overlap dout"),
        ("sigmoid-bwd-out-partly-y", "sigmoid_backward",
         lambda kw: (lambda base: {**kw, "y": base[:-1].reshape(5, 4), "out": base[1:].reshape(5, 4)})(_pos(21) / 2),
         ValueError, r"partially overlaps y"),
        ("relu-out-shape", "relu_forward", lambda kw: {**kw, "out": _r(4, 5)}, ValueError,
         r"shape mismatch: x \(5, 4\) and out \(4, 5\)"),
        ("relu-partial-overlap", "relu_forward",
         lambda kw: (lambda base: {"x": base[:-1], "out": base[1:]})(_r(21)), ValueError, r"partially overlaps"),
        ("relu-bwd-mask-shape", "relu_backward", lambda kw: {**kw, "mask": np.zeros((5, 3), bool)}, ValueError,
         r"dout \(5, 4\) and mask \(5, 3\)"),
        ("relu-bwd-mask-dtype", "relu_backward", lambda kw: {**kw, "mask": kw["mask"].astype(np.uint8)}, TypeError,
         r"mask must have dtype bool"),
        ("sigmoid-bwd-shape", "sigmoid_backward", lambda kw: {**kw, "y": _r(4, 5)}, ValueError,
         r"dout \(5, 4\) and y \(4, 5\)"),
        ("softmax-out-shape", "softmax", lambda kw: {**kw, "out": _r(5, 5)}, ValueError, r"out"),
        ("xent-label-10", "softmax_cross_entropy", lambda kw: {**kw, "t": np.array([0, 1, 2, 3, 4])},
         ValueError, r"t contains label 4 out of range \[0, 4\)"),
        ("xent-label-neg", "softmax_cross_entropy", lambda kw: {**kw, "t": np.array([0, -1, 2, 3, 1])},
         ValueError, r"t contains label -1 out of range \[0, 4\)"),
        ("xent-label-float", "softmax_cross_entropy", lambda kw: {**kw, "t": np.array([0.0, 1, 2, 3, 1])},
         TypeError, r"integer"),
        ("xent-label-bool", "softmax_cross_entropy", lambda kw: {**kw, "t": np.ones(5, bool)}, TypeError,
         r"integer"),
        ("xent-label-batch", "softmax_cross_entropy", lambda kw: {**kw, "t": np.array([0, 1, 2])}, ValueError,
         r"x \(5, 4\) and t \(3,\)"),
        ("xent-onehot-shape", "softmax_cross_entropy", lambda kw: {**kw, "t": np.eye(4)[[0, 1, 2, 3]]},
         ValueError, r"x \(5, 4\) and t \(4, 4\)"),
        ("xent-onehot-dtype", "softmax_cross_entropy",
         lambda kw: {**kw, "t": np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0]]}, TypeError, r"dtype mismatch"),
        ("xent-onehot-int", "softmax_cross_entropy",
         lambda kw: {**kw, "t": np.eye(4, dtype=np.int64)[[0, 1, 2, 3, 0]]}, TypeError, r"t"),
        ("xent-t-3d", "softmax_cross_entropy", lambda kw: {**kw, "t": np.zeros((5, 4, 1), np.int64)},
         (ValueError, TypeError), r"t"),
        ("xent-t-list", "softmax_cross_entropy", lambda kw: {**kw, "t": [0, 1, 2, 3, 0]}, TypeError,
         r"t must be a numpy\.ndarray"),
        ("xent-empty-batch", "softmax_cross_entropy",
         lambda kw: {"x": np.zeros((0, 4)), "t": np.zeros(0, np.int64)}, ValueError, r"empty batch"),
        ("xent-x-1d", "softmax_cross_entropy", lambda kw: {**kw, "x": _r(4), "y": None, "dx": None},
         ValueError, r"x must be 2-D"),
        ("xent-y-is-x", "softmax_cross_entropy", lambda kw: {**kw, "y": kw["x"]}, ValueError, r"overlap"),
        ("xent-y-is-dx", "softmax_cross_entropy", lambda kw: {**kw, "y": kw["dx"]}, ValueError, r"overlap"),
        ("xent-dx-shape", "softmax_cross_entropy", lambda kw: {**kw, "dx": _r(5, 5)}, ValueError, r"dx"),
    ]
    for k, (reals, flags) in SCALARS.items():
        for name in reals:
            for label, bad, exc, msg in BAD_REALS:
                cases.append((f"{k}-{name}-{label}", k, lambda kw, n=name, b=bad: {**kw, n: b}, exc,
                              rf"{k}: {name} {msg}"))
        for name in flags:
            for label, bad, msg in BAD_FLAGS:
                cases.append((f"{k}-{name}-{label}", k, lambda kw, n=name, b=bad: {**kw, n: b}, TypeError,
                              rf"{k}: {name} {msg}"))
    cases += _conv_cases()
    for k in ("sgd_update", "momentum_update", "nesterov_update", "adagrad_update", "rmsprop_update",
              "adam_update"):
        cases.append((f"{k}-grad-shape", k, lambda kw: {**kw, "grad": _r(3, 7)}, ValueError,
                      r"param \(7, 3\) and grad \(3, 7\)"))
        state = SPECS[k][2][1:]
        for s in state:
            cases.append((f"{k}-{s}-shape", k, lambda kw, s=s: {**kw, s: _r(7, 4)}, ValueError,
                          rf"param \(7, 3\) and {s} \(7, 4\)"))
            cases.append((f"{k}-{s}-is-param", k, lambda kw, s=s: {**kw, s: kw["param"]}, ValueError,
                          r"overlap"))
    return cases


def _conv_cases():
    cases = []
    for k in ("conv_forward", "conv_backward_data", "conv_backward_weights", "maxpool_forward"):
        cases += [
            (f"{k}-stride-0", k, lambda kw: {**kw, "stride": 0}, ValueError, r"stride must be >= 1, got 0"),
            (f"{k}-pad-neg", k, lambda kw: {**kw, "pad": -1}, ValueError, r"pad must be >= 0, got -1"),
            (f"{k}-stride-float", k, lambda kw: {**kw, "stride": 2.0}, TypeError, r"stride must be an int, got float"),
            (f"{k}-pad-bool", k, lambda kw: {**kw, "pad": True}, TypeError, r"pad must be an int, got bool"),
            (f"{k}-stride-np-int", k, lambda kw: {**kw, "stride": np.int64(0)}, ValueError, r"stride must be >= 1"),
        ]
    cases += [
        ("conv-fwd-x-3d", "conv_forward", lambda kw: {**kw, "x": _r(3, 6, 5)}, ValueError, r"x must be 4-D"),
        ("conv-fwd-b-2d", "conv_forward", lambda kw: {**kw, "b": _r(4, 1)}, ValueError, r"b must be 1-D"),
        ("conv-fwd-channels", "conv_forward", lambda kw: {**kw, "w": _r(4, 2, 3, 2)}, ValueError,
         r"channel mismatch: x \(2, 3, 6, 5\) and w \(4, 2, 3, 2\)"),
        ("conv-fwd-bias", "conv_forward", lambda kw: {**kw, "b": _r(3)}, ValueError,
         r"shape mismatch: w \(4, 3, 3, 2\) and b \(3,\)"),
        ("conv-fwd-filter-too-big", "conv_forward", lambda kw: {**kw, "w": _r(4, 3, 9, 2), "out": None}, ValueError,
         r"filter \(9, 2\) does not fit input \(6, 5\) with pad 1"),
        ("conv-fwd-empty-filter", "conv_forward", lambda kw: {**kw, "w": _r(4, 3, 0, 2), "out": None}, ValueError,
         r"filter \(0, 2\) does not fit"),
        ("conv-fwd-out-shape", "conv_forward", lambda kw: {**kw, "out": _r(2, 4, 3, 4)}, ValueError,
         r"shape mismatch: out \(2, 4, 3, 4\), expected \(2, 4, 3, 3\)"),
        ("conv-fwd-out-overlaps-x", "conv_forward",
         lambda kw: (lambda base: {**kw, "x": base[:180].reshape(2, 3, 6, 5),
                                   "out": base[100:172].reshape(2, 4, 3, 3)})(_r(200)),
         ValueError, r"out must not overlap x"),
        ("conv-bwd-data-dout-size", "conv_backward_data", lambda kw: {**kw, "dout": _r(2, 4, 3, 4)}, ValueError,
         r"shape mismatch: dout \(2, 4, 3, 4\), expected \(2, 4, 3, 3\) for input \(6, 5\)"),
        ("conv-bwd-data-channels", "conv_backward_data", lambda kw: {**kw, "dout": _r(2, 5, 3, 3)}, ValueError,
         r"channel mismatch: dout \(2, 5, 3, 3\) and w \(4, 3, 3, 2\)"),
        ("conv-bwd-data-in-h-neg", "conv_backward_data", lambda kw: {**kw, "in_h": -1}, ValueError,
         r"in_h must be >= 0, got -1"),
        ("conv-bwd-data-in-w-float", "conv_backward_data", lambda kw: {**kw, "in_w": 5.0}, TypeError,
         r"in_w must be an int, got float"),
        ("conv-bwd-data-too-small", "conv_backward_data", lambda kw: {**kw, "in_h": 0, "pad": 0}, ValueError,
         r"filter \(3, 2\) does not fit input \(0, 5\) with pad 0"),
        ("conv-bwd-w-batch", "conv_backward_weights", lambda kw: {**kw, "x": _r(3, 3, 6, 5)}, ValueError,
         r"shape mismatch: dout \(2, 4, 3, 3\), expected \(3, 4, 3, 3\) for x \(3, 3, 6, 5\)"),
        ("conv-bwd-w-filter-0", "conv_backward_weights", lambda kw: {**kw, "filter_h": 0}, ValueError,
         r"filter_h must be >= 1, got 0"),
        ("conv-bwd-w-db-shape", "conv_backward_weights", lambda kw: {**kw, "db": _r(3)}, ValueError,
         r"shape mismatch: db \(3,\), expected \(4,\)"),
        ("conv-bwd-w-db-in-dw", "conv_backward_weights", lambda kw: {**kw, "db": kw["dw"].reshape(-1)[:4]},
         ValueError, r"db must not overlap dw"),
        ("pool-fwd-window-too-big", "maxpool_forward", lambda kw: {**kw, "pool_h": 9, "out": None}, ValueError,
         rf"pool window \(9, 2\) does not fit input \(6, 5\) with pad 1"),
        ("pool-fwd-pool-0", "maxpool_forward", lambda kw: {**kw, "pool_w": 0}, ValueError,
         r"pool_w must be >= 1, got 0"),
        ("pool-fwd-x-2d", "maxpool_forward", lambda kw: {**kw, "x": _r(6, 5)}, ValueError, r"x must be 4-D"),
        ("pool-bwd-argmax-int64", "maxpool_backward", lambda kw: {**kw, "argmax": kw["argmax"].astype(np.int64)},
         TypeError, r"argmax must have dtype int32, got int64"),
        ("pool-bwd-argmax-list", "maxpool_backward", lambda kw: {**kw, "argmax": kw["argmax"].tolist()},
         TypeError, r"argmax must be a numpy\.ndarray, got list"),
        ("pool-bwd-argmax-shape", "maxpool_backward", lambda kw: {**kw, "argmax": kw["argmax"][..., :2]},
         ValueError, r"shape mismatch: dout \(2, 3, 4, 3\) and argmax \(2, 3, 4, 2\)"),
        ("pool-bwd-argmax-high", "maxpool_backward", lambda kw: {**kw, "argmax": _argmax(30)}, ValueError,
         r"argmax contains index 30 out of range \[-1, 30\)"),
        ("pool-bwd-argmax-low", "maxpool_backward", lambda kw: {**kw, "argmax": _argmax(-2)}, ValueError,
         r"argmax contains index -2 out of range \[-1, 30\)"),
        ("pool-bwd-in-h-small", "maxpool_backward", lambda kw: {**kw, "in_h": 1}, ValueError,
         r"out of range \[-1, 5\)"),
        ("pool-bwd-out-overlaps-dout", "maxpool_backward",
         lambda kw: (lambda base: {**kw, "dout": base[:72].reshape(2, 3, 4, 3),
                                   "out": base[:180].reshape(2, 3, 6, 5)})(_r(200)),
         ValueError, r"out must not overlap dout"),
    ]
    return cases


CASES = _cases()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises(backend, case):
    _, kernel, mutate, exc, pattern = case
    kw = mutate(SPECS[kernel][0]())
    with pytest.raises(exc, match=pattern):
        getattr(backend, kernel)(**kw)


def _result(backend, kernel, kw):
    """Call and return every array the kernel writes or returns (copied), for comparisons."""
    r = getattr(backend, kernel)(**kw)
    outs = [np.array(kw[n], copy=True) for n in SPECS[kernel][2] if kw.get(n) is not None]
    if r is None:
        return outs
    if isinstance(r, tuple):
        return [np.asarray(v) for v in r] + outs
    return [np.array(r, copy=True)] + outs


@pytest.mark.parametrize("kernel", list(SPECS))
@pytest.mark.parametrize("layout", ["fortran", "strided", "reversed"])
def test_noncontiguous_inputs_give_the_contiguous_result(backend, kernel, layout):
    make, inputs, _ = SPECS[kernel]
    base = make()
    want = _result(backend, kernel, make())
    kw = dict(base)
    for n in inputs:
        a = kw[n]
        if layout == "fortran":
            a = np.asfortranarray(a)
        elif layout == "strided":
            big = np.zeros(a.shape + (2,), dtype=a.dtype)
            big[..., 0] = a
            a = big[..., 0]
        else:
            a = np.ascontiguousarray(a[::-1])[::-1]
        np.testing.assert_array_equal(a, base[n])
        kw[n] = a
    got = _result(backend, kernel, kw)
    assert len(got) == len(want)
    # float64; a strided operand may take another GEMM path (packed instead of read in place): other sum orders
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


# ---- documented results for special values: NaN and Inf propagate, never crash --------------------------------


def test_nan_inf_propagate(backend):
    x = np.array([[np.nan, 1.0, -np.inf], [np.inf, 0.0, 1.0]])
    out, mask = backend.relu_forward(x)
    assert np.isnan(out[0, 0]) and not mask[0, 0] and out[0, 2] == 0 and out[1, 0] == np.inf
    y = backend.sigmoid_forward(x)
    assert np.isnan(y[0, 0]) and y[0, 2] == 0 and y[1, 0] == 1
    s = backend.softmax(x)
    assert np.isnan(s[0]).all()  # a NaN logit poisons its row
    loss, y2, dx = backend.softmax_cross_entropy(x, np.array([1, 2]))
    assert np.isnan(loss) and np.isnan(y2[0]).all()
    c = backend.gemm(np.array([[np.nan, 1.0]]), np.ones((2, 2)))
    assert np.isnan(c).all()
    p = np.ones(3)
    backend.sgd_update(p, np.array([np.nan, np.inf, 1.0]), 0.1)
    assert np.isnan(p[0]) and p[1] == -np.inf and p[2] == 0.9


def test_zero_size_dimensions(backend):
    out, mask = backend.relu_forward(np.zeros((0, 5)))
    assert out.shape == (0, 5) and mask.shape == (0, 5)
    assert backend.gemm(np.zeros((0, 3)), np.zeros((3, 4))).shape == (0, 4)
    np.testing.assert_array_equal(backend.gemm(np.zeros((2, 0)), np.zeros((0, 3))), np.zeros((2, 3)))
    c = np.full((2, 3), 2.0)
    backend.gemm(np.zeros((2, 0)), np.zeros((0, 3)), c, beta=0.5)
    np.testing.assert_array_equal(c, np.ones((2, 3)))
    assert backend.affine_forward(np.zeros((0, 4)), np.ones((4, 3)), np.ones(3)).shape == (0, 3)
    np.testing.assert_array_equal(backend.bias_grad(np.zeros((0, 3))), np.zeros(3))
    assert backend.softmax(np.zeros((0, 3))).shape == (0, 3)
    p = np.zeros(0)
    backend.adam_update(p, np.zeros(0), np.zeros(0), np.zeros(0), 0.1, 0.9, 0.999, 1e-7)


def test_huge_logits_are_finite(backend):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    loss, y, dx = backend.softmax_cross_entropy(x, np.array([1, 0]))
    assert np.isfinite(loss) and np.isfinite(y).all() and np.isfinite(dx).all()
    np.testing.assert_allclose(loss, (2e4 + np.log(3)) / 2, rtol=1e-12)


# accepted types for a real argument, each built from a float value that it holds exactly
GOOD_REALS = {"int": int, "np-float32": np.float32, "np-float64": np.float64, "0d-array": np.array,
              "np-int64": np.int64, "bool": bool}


def _copied(kw):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in kw.items()}


@pytest.mark.parametrize("kernel", list(SCALARS))
@pytest.mark.parametrize("kind", list(GOOD_REALS))
def test_real_scalars_of_any_numeric_type_act_as_floats(backend, kernel, kind):
    """An int, a bool, a NumPy scalar or a 0-d array where a float is expected gives the float's result."""
    base = SPECS[kernel][0]()
    value = 1.0 if kind == "bool" else 2.0  # held exactly by every kind
    for name in SCALARS[kernel][0]:
        base[name] = value
    want = _result(backend, kernel, _copied(base))
    kw = _copied(base)
    for name in SCALARS[kernel][0]:
        kw[name] = GOOD_REALS[kind](value)
    for g, w in zip(_result(backend, kernel, kw), want):
        np.testing.assert_array_equal(g, w)


def test_gemm_alpha_zero_ignores_nan_and_inf_in_a_and_b(backend):
    """BLAS semantics under every backend: alpha == 0 forms no products, so NaN/Inf in a or b do not reach c;
    c = beta * c (beta == 0: zeros, old c not read)."""
    a, b = _r(3, 4), _r(4, 5)
    a[0, 0], b[1, 2] = np.nan, np.inf
    c = _r(3, 5)
    want = 0.5 * c
    got = backend.gemm(a, b, c.copy(), alpha=0.0, beta=0.5)
    np.testing.assert_array_equal(got, want)
    c_nan = np.full((3, 5), np.nan)
    np.testing.assert_array_equal(backend.gemm(a, b, c_nan, alpha=0.0, beta=0.0), np.zeros((3, 5)))
    np.testing.assert_array_equal(backend.gemm(a, b, alpha=0.0), np.zeros((3, 5)))
    # alpha != 0 does form the products: the NaN and the Inf show (the rule above is about alpha only)
    assert np.isnan(backend.gemm(a, b)).any()
