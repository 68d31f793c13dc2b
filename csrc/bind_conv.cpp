// Bindings of the convolution and max-pooling families (csrc/conv.cpp, csrc/pool.cpp). Same rules and messages
// as pybp/_checks.py (conv_*_args, maxpool_*_args), checked in the same order.
#include "bind_common.hpp"

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>

#include "kernels.hpp"

namespace pybp::bind {
namespace {

std::string tuple_str(std::initializer_list<long long> v) {
    std::ostringstream s;
    s << '(';
    std::size_t i = 0;
    for (long long e : v) s << (i++ ? ", " : "") << e;
    s << (v.size() == 1 ? ",)" : ")");
    return s.str();
}

// An int argument (Python or NumPy integer, not bool) >= minimum, as _checks.int_param.
long long int_param(const py::handle& obj, const char* fn, const char* name, long long minimum) {
    static const py::object np_integer = py::module_::import("numpy").attr("integer");
    static const py::object np_bool = py::module_::import("numpy").attr("bool_");
    const bool is_int = !PyBool_Check(obj.ptr()) && !py::isinstance(obj, np_bool) &&
                        (PyLong_Check(obj.ptr()) || py::isinstance(obj, np_integer));
    if (!is_int) raise_type(std::string(fn) + ": " + name + " must be an int, got " + type_name(obj));
    const long long v = py::int_(py::reinterpret_borrow<py::object>(obj)).cast<long long>();
    if (v < minimum)
        raise_value(std::string(fn) + ": " + name + " must be >= " + std::to_string(minimum) + ", got " +
                    std::to_string(v));
    return v;
}

// A float 4-D (or 1-D for a bias) read-only input, validated in _checks._floats' order.
py::array conv_operand(const py::handle& obj, const char* fn, const char* name, py::ssize_t nd, Dt* dt) {
    py::array a = float_input(obj, fn, name, dt);
    require_ndim(a, nd, fn, name);
    return a;
}

// Two 4-D float operands of one dtype into a and b, validated in _checks._floats' order; returns the dtype.
// (Out-parameters, not a struct unpacked by structured bindings: lambdas cannot capture those before C++20.)
Dt conv_pair(py::array& a, py::array& b, const py::handle& a_obj, const char* an, const py::handle& b_obj,
             const char* bn, const char* fn) {
    Dt dt, dtb;
    a = conv_operand(a_obj, fn, an, 4, &dt);
    b = conv_operand(b_obj, fn, bn, 4, &dtb);
    require_same_dtype(a, an, b, bn, fn);
    return dt;
}

void stride_pad(long long& stride, long long& pad, const py::handle& stride_obj, const py::handle& pad_obj,
                const char* fn) {
    stride = int_param(stride_obj, fn, "stride", 1);
    pad = int_param(pad_obj, fn, "pad", 0);
}

// The two backward convolutions' arguments, in _checks' order: dout and a second 4-D operand b of its dtype, two
// sizes (each >= size_min), stride, pad; v = {size0, size1, stride, pad}.
struct BackwardArgs {
    py::array dout, b;
    Dt dt;
    long long v[4];
};
BackwardArgs backward_args(const char* fn, const py::handle& dout_obj, const py::handle& b_obj, const char* bn,
                           const py::handle& s0_obj, const char* s0, const py::handle& s1_obj, const char* s1,
                           long long size_min, const py::handle& stride_obj, const py::handle& pad_obj) {
    BackwardArgs a;
    a.dt = conv_pair(a.dout, a.b, dout_obj, "dout", b_obj, bn, fn);
    a.v[0] = int_param(s0_obj, fn, s0, size_min);
    a.v[1] = int_param(s1_obj, fn, s1, size_min);
    stride_pad(a.v[2], a.v[3], stride_obj, pad_obj, fn);
    return a;
}

struct Window {
    long long oh, ow;
};
Window window_out(const char* fn, long long h, long long w, long long fh, long long fw, long long stride,
                  long long pad, const char* what = "filter") {
    if (fh < 1 || fw < 1 || h + 2 * pad < fh || w + 2 * pad < fw)
        raise_value(std::string(fn) + ": " + what + " " + tuple_str({fh, fw}) + " does not fit input " +
                    tuple_str({h, w}) + " with pad " + std::to_string(pad));
    return {(h + 2 * pad - fh) / stride + 1, (w + 2 * pad - fw) / stride + 1};
}

using sz = std::size_t;

py::array conv_forward(const py::handle& x_obj, const py::handle& w_obj, const py::handle& b_obj,
                       const py::handle& stride_obj, const py::handle& pad_obj, const py::handle& out_obj) {
    const char* fn = "conv_forward";
    Dt dt, dtw, dtb;
    py::array x = conv_operand(x_obj, fn, "x", 4, &dt);
    py::array w = conv_operand(w_obj, fn, "w", 4, &dtw);
    py::array b = conv_operand(b_obj, fn, "b", 1, &dtb);
    require_same_dtype(x, "x", w, "w", fn);
    require_same_dtype(x, "x", b, "b", fn);
    long long stride, pad;
    stride_pad(stride, pad, stride_obj, pad_obj, fn);
    if (x.shape(1) != w.shape(1))
        raise_value(std::string(fn) + ": channel mismatch: x " + shape_str(x) + " and w " + shape_str(w));
    if (b.shape(0) != w.shape(0))
        raise_value(std::string(fn) + ": shape mismatch: w " + shape_str(w) + " and b " + shape_str(b));
    const Window o = window_out(fn, x.shape(2), x.shape(3), w.shape(2), w.shape(3), stride, pad);
    py::array out = output_shaped(out_obj, {x.shape(0), w.shape(0), o.oh, o.ow}, x, fn);
    require_no_overlap(out, "out", {{&x, "x"}, {&w, "w"}, {&b, "b"}}, fn);
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        call_nogil(pybp::conv_forward<T>, ptr<T>(out), cptr<T>(x), cptr<T>(w), cptr<T>(b), sz(x.shape(0)),
                   sz(x.shape(1)), sz(x.shape(2)), sz(x.shape(3)), sz(w.shape(0)), sz(w.shape(2)), sz(w.shape(3)),
                   sz(stride), sz(pad));
    });
    return out;
}

py::array conv_backward_data(const py::handle& dout_obj, const py::handle& w_obj, const py::handle& in_h_obj,
                             const py::handle& in_w_obj, const py::handle& stride_obj, const py::handle& pad_obj,
                             const py::handle& out_obj) {
    const char* fn = "conv_backward_data";
    BackwardArgs a = backward_args(fn, dout_obj, w_obj, "w", in_h_obj, "in_h", in_w_obj, "in_w", 0, stride_obj,
                                   pad_obj);
    py::array &dout = a.dout, &w = a.b;
    const long long in_h = a.v[0], in_w = a.v[1], stride = a.v[2], pad = a.v[3];
    if (dout.shape(1) != w.shape(0))
        raise_value(std::string(fn) + ": channel mismatch: dout " + shape_str(dout) + " and w " + shape_str(w));
    const Window o = window_out(fn, in_h, in_w, w.shape(2), w.shape(3), stride, pad);
    if (dout.shape(2) != o.oh || dout.shape(3) != o.ow)
        raise_value(std::string(fn) + ": shape mismatch: dout " + shape_str(dout) + ", expected " +
                    tuple_str({dout.shape(0), w.shape(0), o.oh, o.ow}) + " for input " + tuple_str({in_h, in_w}));
    py::array out = output_shaped(out_obj, {dout.shape(0), w.shape(1), in_h, in_w}, dout, fn);
    require_no_overlap(out, "out", {{&dout, "dout"}, {&w, "w"}}, fn);
    with_dtype(a.dt, [&](auto tag) {
        using T = decltype(tag);
        call_nogil(pybp::conv_backward_data<T>, ptr<T>(out), cptr<T>(dout), cptr<T>(w), sz(dout.shape(0)),
                   sz(w.shape(1)), sz(in_h), sz(in_w), sz(w.shape(0)), sz(w.shape(2)), sz(w.shape(3)), sz(stride),
                   sz(pad));
    });
    return out;
}

py::tuple conv_backward_weights(const py::handle& dout_obj, const py::handle& x_obj, const py::handle& fh_obj,
                                const py::handle& fw_obj, const py::handle& stride_obj, const py::handle& pad_obj,
                                const py::handle& dw_obj, const py::handle& db_obj) {
    const char* fn = "conv_backward_weights";
    BackwardArgs a = backward_args(fn, dout_obj, x_obj, "x", fh_obj, "filter_h", fw_obj, "filter_w", 1, stride_obj,
                                   pad_obj);
    py::array &dout = a.dout, &x = a.b;
    const long long fh = a.v[0], fw = a.v[1], stride = a.v[2], pad = a.v[3];
    const Window o = window_out(fn, x.shape(2), x.shape(3), fh, fw, stride, pad);
    if (dout.shape(0) != x.shape(0) || dout.shape(2) != o.oh || dout.shape(3) != o.ow)
        raise_value(std::string(fn) + ": shape mismatch: dout " + shape_str(dout) + ", expected " +
                    tuple_str({x.shape(0), dout.shape(1), o.oh, o.ow}) + " for x " + shape_str(x));
    py::array dw = output_shaped(dw_obj, {dout.shape(1), x.shape(1), fh, fw}, x, fn, "dw");
    require_no_overlap(dw, "dw", {{&dout, "dout"}, {&x, "x"}}, fn);
    py::array db = output_shaped(db_obj, {dout.shape(1)}, x, fn, "db");
    require_no_overlap(db, "db", {{&dout, "dout"}, {&x, "x"}, {&dw, "dw"}}, fn);
    with_dtype(a.dt, [&](auto tag) {
        using T = decltype(tag);
        call_nogil(pybp::conv_backward_weights<T>, ptr<T>(dw), ptr<T>(db), cptr<T>(dout), cptr<T>(x),
                   sz(x.shape(0)), sz(x.shape(1)), sz(x.shape(2)), sz(x.shape(3)), sz(dout.shape(1)), sz(fh), sz(fw),
                   sz(stride), sz(pad));
    });
    return py::make_tuple(dw, db);
}

py::tuple maxpool_forward(const py::handle& x_obj, const py::handle& ph_obj, const py::handle& pw_obj,
                          const py::handle& stride_obj, const py::handle& pad_obj, const py::handle& out_obj) {
    const char* fn = "maxpool_forward";
    Dt dt;
    py::array x = conv_operand(x_obj, fn, "x", 4, &dt);
    const long long ph = int_param(ph_obj, fn, "pool_h", 1), pw = int_param(pw_obj, fn, "pool_w", 1);
    long long stride, pad;
    stride_pad(stride, pad, stride_obj, pad_obj, fn);
    const Window o = window_out(fn, x.shape(2), x.shape(3), ph, pw, stride, pad, "pool window");
    py::array out = output_shaped(out_obj, {x.shape(0), x.shape(1), o.oh, o.ow}, x, fn);
    require_no_overlap(out, "out", x, "x", fn);
    py::array_t<std::int32_t> argmax({x.shape(0), x.shape(1), static_cast<py::ssize_t>(o.oh),
                                      static_cast<py::ssize_t>(o.ow)});
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        call_nogil(pybp::maxpool_forward<T>, ptr<T>(out), argmax.mutable_data(), cptr<T>(x),
                   sz(x.shape(0)), sz(x.shape(1)), sz(x.shape(2)), sz(x.shape(3)), sz(ph), sz(pw), sz(stride),
                   sz(pad));
    });
    return py::make_tuple(out, argmax);
}

py::array maxpool_backward(const py::handle& dout_obj, const py::handle& argmax_obj, const py::handle& in_h_obj,
                           const py::handle& in_w_obj, const py::handle& out_obj) {
    const char* fn = "maxpool_backward";
    Dt dt;
    py::array dout = conv_operand(dout_obj, fn, "dout", 4, &dt);
    py::array argmax = require_ndarray(argmax_obj, fn, "argmax");
    if (argmax.dtype().num() != py::dtype::of<std::int32_t>().num() || !native_order(argmax))
        raise_type(std::string(fn) + ": argmax must have dtype int32, got " + dtype_str(argmax));
    require_same_shape(dout, "dout", argmax, "argmax", fn);
    const long long in_h = int_param(in_h_obj, fn, "in_h", 0), in_w = int_param(in_w_obj, fn, "in_w", 0);
    if (!(c_contig(argmax) && aligned(argmax))) argmax = py::array::ensure(argmax, py::array::c_style);
    const auto* ap = static_cast<const std::int32_t*>(argmax.data());
    const py::ssize_t cnt = argmax.size();
    // -1 <= ap[i] < in_h * in_w as one unsigned comparison (a loop the baseline ISA vectorises; the min/max scan
    // it replaces took a fifth of a DeepConvNet backward pool); min and max only for the message.
    const auto lim = static_cast<std::uint32_t>(std::min<long long>(in_h * in_w, 1LL << 31));
    std::uint32_t bad = 0;
    for (py::ssize_t i = 0; i < cnt; ++i) bad |= static_cast<std::uint32_t>(static_cast<std::uint32_t>(ap[i]) + 1u > lim);
    if (bad) {
        const std::int32_t lo = *std::min_element(ap, ap + cnt), hi = *std::max_element(ap, ap + cnt);
        raise_value(std::string(fn) + ": argmax contains index " + std::to_string(lo < -1 ? lo : hi) +
                    " out of range [-1, " + std::to_string(in_h * in_w) + ")");
    }
    py::array out = output_shaped(out_obj, {dout.shape(0), dout.shape(1), in_h, in_w}, dout, fn);
    require_no_overlap(out, "out", {{&dout, "dout"}, {&argmax, "argmax"}}, fn);
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        call_nogil(pybp::maxpool_backward<T>, ptr<T>(out), cptr<T>(dout), ap, sz(dout.shape(0)),
                   sz(dout.shape(1)), sz(in_h), sz(in_w), sz(dout.shape(2)), sz(dout.shape(3)));
    });
    return out;
}

}  // namespace

void init_conv(py::module_& m) {
    m.def("conv_forward", &conv_forward, py::arg("x"), py::arg("w"), py::arg("b"), py::arg("stride") = 1,
          py::arg("pad") = 0, py::arg("out") = py::none(),
          "Convolution: x (N, C, H, W), w (FN, C, FH, FW), b (FN,) -> (N, FN, OH, OW).");
    m.def("conv_backward_data", &conv_backward_data, py::arg("dout"), py::arg("w"), py::arg("in_h"),
          py::arg("in_w"), py::arg("stride") = 1, py::arg("pad") = 0, py::arg("out") = py::none(),
          "Input gradient of conv_forward: dout (N, FN, OH, OW), w -> dx (N, C, in_h, in_w).");
    m.def("conv_backward_weights", &conv_backward_weights, py::arg("dout"), py::arg("x"), py::arg("filter_h"),
          py::arg("filter_w"), py::arg("stride") = 1, py::arg("pad") = 0, py::arg("dw") = py::none(),
          py::arg("db") = py::none(), "Weight and bias gradients of conv_forward: (dw, db).");
    m.def("maxpool_forward", &maxpool_forward, py::arg("x"), py::arg("pool_h"), py::arg("pool_w"),
          py::arg("stride") = 1, py::arg("pad") = 0, py::arg("out") = py::none(),
          "Max pooling: (out, argmax), argmax int32 = h*W + w of each window's maximum (-1: a padding zero).");
    m.def("maxpool_backward", &maxpool_backward, py::arg("dout"), py::arg("argmax"), py::arg("in_h"),
          py::arg("in_w"), py::arg("out") = py::none(), "Input gradient of maxpool_forward.");
}


}  // namespace pybp::bind
