// The only pybind11 file: argument validation, output allocation, GIL release, module registration.
//
// Rules every binding follows (tests/test_bad_input.py checks them):
// - array arguments must be numpy.ndarray (TypeError otherwise); float arrays must be float32/float64 in native
//   byte order (TypeError), and all float arguments of one call share a dtype (TypeError, never a silent cast);
// - read-only inputs that are not C-contiguous and aligned are copied explicitly (never wrong);
// - outputs and in-place state must be C-contiguous, aligned and writeable (ValueError): never silently copied,
//   so an in-place update always reaches the caller's array;
// - shapes are checked before any memory is touched (ValueError naming both shapes);
// - the GIL is released around every kernel.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <initializer_list>
#include <vector>

#include "cpu.hpp"
#include "kernels.hpp"

namespace py = pybind11;

namespace {

// ---- validation helpers -------------------------------------------------------------------------------------

enum class Dt { f32, f64 };

std::string shape_str(const py::array& a) {
    std::ostringstream s;
    s << '(';
    for (py::ssize_t i = 0; i < a.ndim(); ++i) s << (i ? ", " : "") << a.shape(i);
    if (a.ndim() == 1) s << ',';
    s << ')';
    return s.str();
}

std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

std::string type_name(const py::handle& obj) { return py::str(py::type::handle_of(obj).attr("__name__")); }

[[noreturn]] void raise_type(const std::string& msg) { throw py::type_error(msg); }
[[noreturn]] void raise_value(const std::string& msg) { throw py::value_error(msg); }

bool native_order(const py::array& a) {
    // numpy reports native order as '=' (or '|' for 1-byte types); '<'/'>' only when explicitly non-native here.
    const char bo = a.dtype().byteorder();
    const std::uint16_t probe = 1;
    const bool little = *reinterpret_cast<const unsigned char*>(&probe) == 1;
    return bo == '=' || bo == '|' || bo == (little ? '<' : '>');
}

bool aligned(const py::array& a) { return (a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_) != 0; }
bool c_contig(const py::array& a) { return (a.flags() & py::array::c_style) != 0; }

py::array require_ndarray(const py::handle& obj, const char* fn, const char* name) {
    if (!py::isinstance<py::array>(obj))
        raise_type(std::string(fn) + ": " + name + " must be a numpy.ndarray, got " + type_name(obj));
    return py::reinterpret_borrow<py::array>(obj);
}

Dt float_dtype(const py::array& a, const char* fn, const char* name) {
    const int num = a.dtype().num();
    if ((num == py::detail::npy_api::NPY_FLOAT_ || num == py::detail::npy_api::NPY_DOUBLE_) && native_order(a))
        return num == py::detail::npy_api::NPY_FLOAT_ ? Dt::f32 : Dt::f64;
    raise_type(std::string(fn) + ": " + name + " must have dtype float32 or float64, got " + dtype_str(a));
}

void require_same_dtype(const py::array& a, const char* an, const py::array& b, const char* bn, const char* fn) {
    if (a.dtype().num() != b.dtype().num())
        raise_type(std::string(fn) + ": dtype mismatch: " + an + " " + dtype_str(a) + " and " + bn + " " +
                   dtype_str(b) + " (convert explicitly, e.g. with .astype())");
}

void require_same_shape(const py::array& a, const char* an, const py::array& b, const char* bn, const char* fn) {
    bool same = a.ndim() == b.ndim();
    for (py::ssize_t i = 0; same && i < a.ndim(); ++i) same = a.shape(i) == b.shape(i);
    if (!same)
        raise_value(std::string(fn) + ": shape mismatch: " + an + " " + shape_str(a) + " and " + bn + " " +
                    shape_str(b));
}

// A read-only float input: validated, then made C-contiguous and aligned (an explicit copy only if needed).
py::array float_input(const py::handle& obj, const char* fn, const char* name, Dt* dt) {
    py::array a = require_ndarray(obj, fn, name);
    *dt = float_dtype(a, fn, name);
    if (c_contig(a) && aligned(a)) return a;
    return py::array::ensure(a, py::array::c_style | py::array::forcecast);
}

// An array the kernel writes: must already be C-contiguous, aligned and writeable (never copied).
void require_writable(const py::array& a, const char* fn, const char* name) {
    if (!a.writeable()) raise_value(std::string(fn) + ": " + name + " is read-only");
    if (!c_contig(a) || !aligned(a))
        raise_value(std::string(fn) + ": " + name +
                    " must be C-contiguous and aligned: it is written in place, and a copy would lose the update");
}

// Byte ranges of a and b overlap, but not exactly (exact aliasing is allowed where a contract says so).
void require_no_partial_overlap(const py::array& a, const char* an, const py::array& b, const char* bn,
                                const char* fn) {
    const auto* pa = static_cast<const char*>(a.data());
    const auto* pb = static_cast<const char*>(b.data());
    const bool overlap = a.nbytes() > 0 && b.nbytes() > 0 && pa < pb + b.nbytes() && pb < pa + a.nbytes();
    if (overlap && pa != pb)
        raise_value(std::string(fn) + ": " + an + " partially overlaps " + bn + " (only exact aliasing is allowed)");
}

// A new C-contiguous array of like's dtype and the given shape, through NumPy's C API: py::array(dtype, shape)
// builds shape and stride vectors and passes explicit strides that NumPy then re-checks, which made allocating
// the two outputs of a 100x10 softmax-CE call ~0.17 us (a third of its overhead) slower.
py::array new_array(const py::array& like, std::size_t ndim, const py::ssize_t* shape) {
    auto& api = py::detail::npy_api::get();
    PyObject* descr = py::detail::array_proxy(like.ptr())->descr;
    Py_INCREF(descr);  // PyArray_NewFromDescr steals it
    PyObject* a = api.PyArray_NewFromDescr_(api.PyArray_Type_, descr, static_cast<int>(ndim),
                                            const_cast<Py_intptr_t*>(shape), nullptr, nullptr, 0, nullptr);
    if (!a) throw py::error_already_set();
    return py::reinterpret_steal<py::array>(a);
}

// Output like `like` (same shape and dtype): `out` if given (validated), else a new array.
py::array output_like(const py::handle& out_obj, const py::array& like, const char* like_name, const char* fn,
                      const char* name = "out") {
    if (out_obj.is_none()) return new_array(like, static_cast<std::size_t>(like.ndim()), like.shape());
    py::array out = require_ndarray(out_obj, fn, name);
    Dt dt;
    (void)dt;
    float_dtype(out, fn, name);
    require_same_dtype(like, like_name, out, name, fn);
    require_same_shape(like, like_name, out, name, fn);
    require_writable(out, fn, name);
    require_no_partial_overlap(out, name, like, like_name, fn);
    return out;
}

// A new output of `shape` and like's dtype, or the caller's `out` validated against them (as _checks.output).
py::array output_shaped(const py::handle& out_obj, std::initializer_list<py::ssize_t> dims, const py::array& like,
                        const char* fn, const char* name = "out") {
    const py::ssize_t* shape = dims.begin();  // a list, not a vector: no heap allocation per call
    if (out_obj.is_none()) return new_array(like, dims.size(), shape);
    py::array out = require_ndarray(out_obj, fn, name);
    float_dtype(out, fn, name);
    if (out.dtype().num() != like.dtype().num())
        raise_type(std::string(fn) + ": dtype mismatch: " + name + " " + dtype_str(out) + ", expected " +
                   dtype_str(like));
    bool same = out.ndim() == static_cast<py::ssize_t>(dims.size());
    for (py::ssize_t i = 0; same && i < out.ndim(); ++i) same = out.shape(i) == shape[i];
    if (!same) {
        std::ostringstream s;
        s << '(';
        for (std::size_t i = 0; i < dims.size(); ++i) s << (i ? ", " : "") << shape[i];
        s << (dims.size() == 1 ? ",)" : ")");
        raise_value(std::string(fn) + ": shape mismatch: " + name + " " + shape_str(out) + ", expected " + s.str());
    }
    require_writable(out, fn, name);
    return out;
}

// Byte extent [lo, hi) an array's elements span (any strides).
std::pair<const char*, const char*> extent(const py::array& a) {
    const char* lo = static_cast<const char*>(a.data());
    const char* hi = lo;
    for (py::ssize_t i = 0; i < a.ndim(); ++i) {
        const py::ssize_t span = (a.shape(i) - 1) * a.strides(i);
        (span < 0 ? lo : hi) += span;
    }
    return {lo, hi + a.itemsize()};
}

// a and b must not share memory (as _checks.no_overlap). Disjoint extents decide it cheaply; interleaved views
// whose extents meet are settled exactly by numpy.shares_memory.
void require_no_overlap(const py::array& a, const char* an, const py::array& b, const char* bn, const char* fn) {
    if (a.size() == 0 || b.size() == 0) return;
    const auto ea = extent(a), eb = extent(b);
    if (ea.first >= eb.second || eb.first >= ea.second) return;
    const bool shares = py::module_::import("numpy").attr("shares_memory")(a, b).cast<bool>();
    if (shares) raise_value(std::string(fn) + ": " + an + " must not overlap " + bn);
}

void require_ndim(const py::array& a, py::ssize_t n, const char* fn, const char* name) {
    if (a.ndim() != n)
        raise_value(std::string(fn) + ": " + name + " must be " + std::to_string(n) + "-D, got shape " + shape_str(a));
}

// A read-only 2-D operand passed to a strided kernel: element strides when aligned and itemsize-divisible
// (transposed, sliced and negative-stride views need no copy), else an explicit C-contiguous copy.
struct Strided2D {
    py::array arr;
    std::ptrdiff_t rs, cs;
};
Strided2D strided_2d(py::array a) {
    const py::ssize_t isz = a.itemsize();
    if (!aligned(a) || a.strides(0) % isz || a.strides(1) % isz)
        a = py::array::ensure(a, py::array::c_style | py::array::forcecast);
    return {a, static_cast<std::ptrdiff_t>(a.strides(0) / isz), static_cast<std::ptrdiff_t>(a.strides(1) / isz)};
}

template <class T> T* ptr(py::array& a) { return static_cast<T*>(a.mutable_data()); }
template <class T> const T* cptr(const py::array& a) { return static_cast<const T*>(a.data()); }

// Call f(T{}) with T = float or double.
template <class F> void with_dtype(Dt dt, F&& f) {
    if (dt == Dt::f32) f(float{});
    else f(double{});
}

// ---- elementwise ---------------------------------------------------------------------------------------------

py::tuple relu_forward(const py::handle& x_obj, const py::handle& out_obj) {
    const char* fn = "relu_forward";
    Dt dt;
    py::array x = float_input(x_obj, fn, "x", &dt);
    py::array out = output_like(out_obj, x, "x", fn);
    py::array mask(py::dtype::of<bool>(), std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
    const auto n = static_cast<std::size_t>(x.size());
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        T* o = ptr<T>(out);
        auto* m = ptr<unsigned char>(mask);
        const T* xi = cptr<T>(x);
        py::gil_scoped_release nogil;
        pybp::relu_forward(o, m, xi, n);
    });
    return py::make_tuple(out, mask);
}

py::array relu_backward(const py::handle& dout_obj, const py::handle& mask_obj, const py::handle& out_obj) {
    const char* fn = "relu_backward";
    Dt dt;
    py::array dout = float_input(dout_obj, fn, "dout", &dt);
    py::array mask = require_ndarray(mask_obj, fn, "mask");
    if (mask.dtype().num() != py::detail::npy_api::NPY_BOOL_)
        raise_type(std::string(fn) + ": mask must have dtype bool, got " + dtype_str(mask));
    require_same_shape(dout, "dout", mask, "mask", fn);
    if (!c_contig(mask)) mask = py::array::ensure(mask, py::array::c_style);
    py::array dx = output_like(out_obj, dout, "dout", fn);
    const auto n = static_cast<std::size_t>(dout.size());
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        T* o = ptr<T>(dx);
        const T* d = cptr<T>(dout);
        const auto* m = cptr<unsigned char>(mask);
        py::gil_scoped_release nogil;
        pybp::relu_backward(o, d, m, n);
    });
    return dx;
}

py::array sigmoid_forward(const py::handle& x_obj, const py::handle& out_obj) {
    const char* fn = "sigmoid_forward";
    Dt dt;
    py::array x = float_input(x_obj, fn, "x", &dt);
    py::array out = output_like(out_obj, x, "x", fn);
    const auto n = static_cast<std::size_t>(x.size());
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        T* o = ptr<T>(out);
        const T* xi = cptr<T>(x);
        py::gil_scoped_release nogil;
        pybp::sigmoid_forward(o, xi, n);
    });
    return out;
}

py::array sigmoid_backward(const py::handle& dout_obj, const py::handle& y_obj, const py::handle& out_obj) {
    const char* fn = "sigmoid_backward";
    Dt dt, dty;
    py::array dout = float_input(dout_obj, fn, "dout", &dt);
    py::array y = float_input(y_obj, fn, "y", &dty);
    require_same_dtype(dout, "dout", y, "y", fn);
    require_same_shape(dout, "dout", y, "y", fn);
    py::array dx = output_like(out_obj, dout, "dout", fn);
    require_no_partial_overlap(dx, "out", y, "y", fn);
    const auto n = static_cast<std::size_t>(dout.size());
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        T* o = ptr<T>(dx);
        const T* d = cptr<T>(dout);
        const T* yy = cptr<T>(y);
        py::gil_scoped_release nogil;
        pybp::sigmoid_backward(o, d, yy, n);
    });
    return dx;
}

void bind_elementwise(py::module_& m) {
    m.def("relu_forward", &relu_forward, py::arg("x"), py::arg("out") = py::none(),
          "(out, mask): out = max(x, 0) with mask = x <= 0 (bool). out may be x.");
    m.def("relu_backward", &relu_backward, py::arg("dout"), py::arg("mask"), py::arg("out") = py::none(),
          "dx = dout with dx[mask] = 0. out may be dout.");
    m.def("sigmoid_forward", &sigmoid_forward, py::arg("x"), py::arg("out") = py::none(),
          "out = 1 / (1 + exp(-x)). out may be x.");
    m.def("sigmoid_backward", &sigmoid_backward, py::arg("dout"), py::arg("y"), py::arg("out") = py::none(),
          "dx = dout * (1 - y) * y where y is the forward output. out may be dout.");
}

// ---- GEMM family ---------------------------------------------------------------------------------------------

py::array gemm(const py::handle& a_obj, const py::handle& b_obj, const py::handle& c_obj, double alpha,
               double beta, bool trans_a, bool trans_b) {
    const char* fn = "gemm";
    py::array a = require_ndarray(a_obj, fn, "a");
    const Dt dt = float_dtype(a, fn, "a");
    py::array b = require_ndarray(b_obj, fn, "b");
    float_dtype(b, fn, "b");
    require_same_dtype(a, "a", b, "b", fn);
    require_ndim(a, 2, fn, "a");
    require_ndim(b, 2, fn, "b");
    const py::ssize_t m = trans_a ? a.shape(1) : a.shape(0), k = trans_a ? a.shape(0) : a.shape(1);
    const py::ssize_t k2 = trans_b ? b.shape(1) : b.shape(0), n = trans_b ? b.shape(0) : b.shape(1);
    if (k != k2)
        raise_value(std::string(fn) + ": shape mismatch: op(a) (" + std::to_string(m) + ", " + std::to_string(k) +
                    ") and op(b) (" + std::to_string(k2) + ", " + std::to_string(n) + ")");
    if (c_obj.is_none() && beta != 0.0)
        raise_value(std::string(fn) + ": beta=" + py::repr(py::float_(beta)).cast<std::string>() +
                    " needs an input c");
    py::array c = output_shaped(c_obj, {m, n}, a, fn, "c");
    require_no_overlap(c, "c", a, "a", fn);
    require_no_overlap(c, "c", b, "b", fn);
    Strided2D sa = strided_2d(a), sb = strided_2d(b);
    std::ptrdiff_t rsa = sa.rs, csa = sa.cs, rsb = sb.rs, csb = sb.cs;
    if (trans_a) std::swap(rsa, csa);
    if (trans_b) std::swap(rsb, csb);
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        T* cp = ptr<T>(c);
        const T* ap = cptr<T>(sa.arr);
        const T* bp = cptr<T>(sb.arr);
        py::gil_scoped_release nogil;
        pybp::gemm<T>(cp, static_cast<std::ptrdiff_t>(n), ap, rsa, csa, bp, rsb, csb, static_cast<std::size_t>(m),
                      static_cast<std::size_t>(n), static_cast<std::size_t>(k), static_cast<T>(alpha),
                      static_cast<T>(beta));
    });
    return c;
}

// The plain reference GEMM (private: tests compare the tuned kernel with it). C-contiguous operands only.
py::array gemm_ref(const py::array& a_in, const py::array& b_in, bool trans_a, bool trans_b) {
    const char* fn = "gemm_ref";
    Dt dt, dtb;
    py::array a = float_input(a_in, fn, "a", &dt), b = float_input(b_in, fn, "b", &dtb);
    require_same_dtype(a, "a", b, "b", fn);
    require_ndim(a, 2, fn, "a");
    require_ndim(b, 2, fn, "b");
    const py::ssize_t m = trans_a ? a.shape(1) : a.shape(0), k = trans_a ? a.shape(0) : a.shape(1);
    const py::ssize_t k2 = trans_b ? b.shape(1) : b.shape(0), n = trans_b ? b.shape(0) : b.shape(1);
    if (k != k2) raise_value("gemm_ref: inner dimensions differ");
    py::array c(a.dtype(), std::vector<py::ssize_t>{m, n});
    std::ptrdiff_t rsa = a.shape(1), csa = 1, rsb = b.shape(1), csb = 1;
    if (trans_a) std::swap(rsa, csa);
    if (trans_b) std::swap(rsb, csb);
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        T* cp = ptr<T>(c);
        const T* ap = cptr<T>(a);
        const T* bp = cptr<T>(b);
        py::gil_scoped_release nogil;
        pybp::gemm_ref<T>(cp, static_cast<std::ptrdiff_t>(n), ap, rsa, csa, bp, rsb, csb, static_cast<std::size_t>(m),
                          static_cast<std::size_t>(n), static_cast<std::size_t>(k), T(1), T(0));
    });
    return c;
}

py::array affine_forward(const py::handle& x_obj, const py::handle& w_obj, const py::handle& b_obj,
                         const py::handle& out_obj) {
    const char* fn = "affine_forward";
    Dt dt, dtw, dtb;
    py::array x = float_input(x_obj, fn, "x", &dt);
    py::array w = float_input(w_obj, fn, "w", &dtw);
    py::array b = float_input(b_obj, fn, "b", &dtb);
    require_same_dtype(x, "x", w, "w", fn);
    require_same_dtype(x, "x", b, "b", fn);
    require_ndim(x, 2, fn, "x");
    require_ndim(w, 2, fn, "w");
    require_ndim(b, 1, fn, "b");
    if (x.shape(1) != w.shape(0))
        raise_value(std::string(fn) + ": shape mismatch: x " + shape_str(x) + " and w " + shape_str(w));
    if (b.shape(0) != w.shape(1))
        raise_value(std::string(fn) + ": shape mismatch: w " + shape_str(w) + " and b " + shape_str(b));
    const py::ssize_t n = x.shape(0), k = x.shape(1), m = w.shape(1);
    py::array out = output_shaped(out_obj, {n, m}, x, fn);
    require_no_overlap(out, "out", x, "x", fn);
    require_no_overlap(out, "out", w, "w", fn);
    require_no_overlap(out, "out", b, "b", fn);
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        T* o = ptr<T>(out);
        const T *xp = cptr<T>(x), *wp = cptr<T>(w), *bp = cptr<T>(b);
        py::gil_scoped_release nogil;
        pybp::affine_forward<T>(o, xp, wp, bp, static_cast<std::size_t>(n), static_cast<std::size_t>(k),
                                static_cast<std::size_t>(m));
    });
    return out;
}

py::array bias_grad(const py::handle& dout_obj, const py::handle& out_obj) {
    const char* fn = "bias_grad";
    Dt dt;
    py::array dout = float_input(dout_obj, fn, "dout", &dt);
    require_ndim(dout, 2, fn, "dout");
    const py::ssize_t n = dout.shape(0), m = dout.shape(1);
    py::array out = output_shaped(out_obj, {m}, dout, fn);
    require_no_overlap(out, "out", dout, "dout", fn);
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        T* o = ptr<T>(out);
        const T* d = cptr<T>(dout);
        py::gil_scoped_release nogil;
        pybp::bias_grad<T>(o, d, static_cast<std::size_t>(n), static_cast<std::size_t>(m));
    });
    return out;
}

void bind_gemm(py::module_& m) {
    m.def("gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("c") = py::none(), py::kw_only(),
          py::arg("alpha") = 1.0, py::arg("beta") = 0.0, py::arg("trans_a") = false, py::arg("trans_b") = false,
          "c = alpha * op(a) @ op(b) + beta * c, op(x) = x.T if trans_x else x. Returns c (new if c is None).");
    m.def("gemm_ref", &gemm_ref, py::arg("a"), py::arg("b"), py::arg("trans_a") = false,
          py::arg("trans_b") = false, "Plain triple-loop GEMM (test oracle): op(a) @ op(b).");
    m.def("affine_forward", &affine_forward, py::arg("x"), py::arg("w"), py::arg("b"), py::arg("out") = py::none(),
          "out = x @ w + b; x (N, K), w (K, M), b (M,) -> (N, M).");
    m.def("bias_grad", &bias_grad, py::arg("dout"), py::arg("out") = py::none(),
          "db = dout.sum(axis=0); dout (N, M) -> (M,).");
}

// ---- softmax and cross-entropy ---------------------------------------------------------------------------------

py::array softmax(const py::handle& x_obj, const py::handle& out_obj) {
    const char* fn = "softmax";
    Dt dt;
    py::array x = float_input(x_obj, fn, "x", &dt);
    if (x.ndim() < 1) raise_value(std::string(fn) + ": x must have at least 1 dimension, got shape " + shape_str(x));
    py::array out = output_like(out_obj, x, "x", fn);
    const auto c = static_cast<std::size_t>(x.shape(x.ndim() - 1));
    const std::size_t rows = c ? static_cast<std::size_t>(x.size()) / c : 0;
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        T* o = ptr<T>(out);
        const T* xi = cptr<T>(x);
        py::gil_scoped_release nogil;
        pybp::softmax<T>(o, xi, rows, c);
    });
    return out;
}

// Labels for logits x (N, C), as _checks.labels: index labels (any integer dtype, (N,), range-checked) come back
// as C-contiguous int64 with *index = true; one-hot/soft labels ((N, C), x's dtype) come back C-contiguous.
py::array xent_labels(const py::handle& t_obj, const py::array& x, bool* index, const char* fn) {
    py::array t = require_ndarray(t_obj, fn, "t");
    const py::ssize_t n = x.shape(0), c = x.shape(1);
    const char kind = t.dtype().kind();
    const bool integer = kind == 'i' || kind == 'u';
    const int num = t.dtype().num();
    const bool flt = (num == py::detail::npy_api::NPY_FLOAT_ || num == py::detail::npy_api::NPY_DOUBLE_) &&
                     native_order(t);
    if (t.ndim() == 1 && integer) {
        if (t.shape(0) != n)
            raise_value(std::string(fn) + ": batch size mismatch: x " + shape_str(x) + " and t " + shape_str(t));
        // Already contiguous, aligned native int64 (the usual case) is used as it is: PyArray_FromAny alone
        // would cost a quarter of a 100x10 call.
        py::array ti = t;
        if (num != py::dtype::of<std::int64_t>().num() || !native_order(t) || !c_contig(t) || !aligned(t)) {
            ti = py::array::ensure(t, py::array::c_style);
            if (ti.dtype().num() != py::dtype::of<std::int64_t>().num() || !native_order(ti))
                ti = py::reinterpret_steal<py::array>(ti.attr("astype")("int64").release());
            ti = py::array::ensure(ti, py::array::c_style);
        }
        const auto* tp = static_cast<const std::int64_t*>(ti.data());
        bool bad = false;  // one unsigned compare per label, no early exit: the loop vectorises
        for (py::ssize_t i = 0; i < n; ++i) bad |= static_cast<std::uint64_t>(tp[i]) >= static_cast<std::uint64_t>(c);
        if (bad) {
            std::int64_t lo = tp[0], hi = tp[0];
            for (py::ssize_t j = 1; j < n; ++j) lo = std::min(lo, tp[j]), hi = std::max(hi, tp[j]);
            raise_value(std::string(fn) + ": t contains label " + std::to_string(lo < 0 ? lo : hi) +
                        " out of range [0, " + std::to_string(c) + ")");
        }
        *index = true;
        return ti;
    }
    if (t.ndim() == 2 && flt) {
        require_same_dtype(x, "x", t, "t", fn);
        require_same_shape(x, "x", t, "t", fn);
        *index = false;
        return c_contig(t) && aligned(t) ? t : py::array::ensure(t, py::array::c_style);
    }
    if ((t.ndim() == 1 || t.ndim() == 2) && !integer && !flt)
        raise_type(std::string(fn) + ": t must hold integer class labels (N,) or one-hot rows (N, C) of x's dtype, "
                   "got dtype " + dtype_str(t));
    if (t.ndim() == 1) raise_type(std::string(fn) + ": index labels t must have an integer dtype, got " + dtype_str(t));
    if (t.ndim() == 2)
        raise_type(std::string(fn) + ": one-hot labels t must be float32/float64 like x, got " + dtype_str(t));
    raise_value(std::string(fn) + ": t must be 1-D labels (N,) or 2-D one-hot (N, C), got shape " + shape_str(t));
}

py::tuple softmax_cross_entropy(const py::handle& x_obj, const py::handle& t_obj, const py::handle& y_obj,
                                const py::handle& dx_obj) {
    const char* fn = "softmax_cross_entropy";
    Dt dt;
    py::array x = float_input(x_obj, fn, "x", &dt);
    require_ndim(x, 2, fn, "x");
    if (x.shape(0) == 0)
        raise_value(std::string(fn) + ": empty batch: x has shape " + shape_str(x) + " (the mean loss needs N >= 1)");
    if (x.shape(1) == 0) raise_value(std::string(fn) + ": x has no classes: shape " + shape_str(x));
    bool index = false;
    py::array t = xent_labels(t_obj, x, &index, fn);
    py::array y = output_shaped(y_obj, {x.shape(0), x.shape(1)}, x, fn, "y");
    py::array dx = output_shaped(dx_obj, {x.shape(0), x.shape(1)}, x, fn, "dx");
    py::array t_orig = py::reinterpret_borrow<py::array>(t_obj);
    // Arrays allocated here overlap nothing; only caller-given outputs are checked.
    const bool y_given = !y_obj.is_none(), dx_given = !dx_obj.is_none();
    if (y_given) {
        require_no_overlap(y, "y", x, "x", fn);
        require_no_overlap(y, "y", t_orig, "t", fn);
    }
    if (dx_given) {
        require_no_overlap(dx, "dx", x, "x", fn);
        require_no_overlap(dx, "dx", t_orig, "t", fn);
    }
    if (y_given && dx_given) require_no_overlap(y, "y", dx, "dx", fn);
    const auto n = static_cast<std::size_t>(x.shape(0)), c = static_cast<std::size_t>(x.shape(1));
    double loss = 0.0;
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        T *yp = ptr<T>(y), *dp = ptr<T>(dx);
        const T* xp = cptr<T>(x);
        if (index) {
            const auto* tp = static_cast<const std::int64_t*>(t.data());
            py::gil_scoped_release nogil;
            loss = pybp::softmax_xent_index<T>(yp, dp, xp, tp, n, c);
        } else {
            const T* tp = cptr<T>(t);
            py::gil_scoped_release nogil;
            loss = pybp::softmax_xent_onehot<T>(yp, dp, xp, tp, n, c);
        }
    });
    return py::make_tuple(loss, y, dx);
}

// softmax_cross_entropy as a plain METH_FASTCALL | METH_KEYWORDS function rather than through pybind11's
// dispatcher, whose argument handling costs ~0.08 us: 4% of the book-sized (100x10) call, the hottest small call
// of a training step. Same arguments, defaults, validation and exceptions as the other bindings.
PyObject* softmax_cross_entropy_fastcall(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    static const char* const names[4] = {"x", "t", "y", "dx"};
    PyObject* a[4] = {nullptr, nullptr, Py_None, Py_None};
    bool seen[4] = {false, false, false, false};
    if (nargs > 4) {
        PyErr_Format(PyExc_TypeError, "softmax_cross_entropy() takes from 2 to 4 positional arguments but %zd were given",
                     nargs);
        return nullptr;
    }
    for (Py_ssize_t i = 0; i < nargs; ++i) a[i] = args[i], seen[i] = true;
    const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; ++k) {
        PyObject* key = PyTuple_GET_ITEM(kwnames, k);
        int j = 0;
        while (j < 4 && PyUnicode_CompareWithASCIIString(key, names[j]) != 0) ++j;
        if (j == 4) {
            PyErr_Format(PyExc_TypeError, "softmax_cross_entropy() got an unexpected keyword argument '%U'", key);
            return nullptr;
        }
        if (seen[j]) {
            PyErr_Format(PyExc_TypeError, "softmax_cross_entropy() got multiple values for argument '%s'", names[j]);
            return nullptr;
        }
        a[j] = args[nargs + k], seen[j] = true;
    }
    for (int j = 0; j < 2; ++j)
        if (!seen[j]) {
            PyErr_Format(PyExc_TypeError, "softmax_cross_entropy() missing required argument '%s'", names[j]);
            return nullptr;
        }
    try {
        return softmax_cross_entropy(a[0], a[1], a[2], a[3]).release().ptr();
    } catch (py::error_already_set& e) {
        e.restore();
    } catch (py::builtin_exception& e) {
        e.set_error();
    } catch (const std::bad_alloc&) {
        PyErr_NoMemory();
    } catch (const std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
    }
    return nullptr;
}

void bind_softmax_xent(py::module_& m) {
    m.def("softmax", &softmax, py::arg("x"), py::arg("out") = py::none(),
          "Softmax over the last axis (any ndim >= 1), max-subtracted. out may be x.");
    static PyMethodDef xent_def = {
        "softmax_cross_entropy", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(softmax_cross_entropy_fastcall)),
        METH_FASTCALL | METH_KEYWORDS,
        "softmax_cross_entropy(x, t, y=None, dx=None)\n--\n\n"
        "Fused SoftmaxWithLoss: (loss, y, dx) for logits x (N, C) and labels t, index (N,) ints or one-hot "
        "(N, C). loss = mean(logsumexp(x_i) - sum_j t_ij x_ij), y = softmax(x), dx = (y - onehot(t)) / N."};
    m.add_object("softmax_cross_entropy",
                 py::reinterpret_steal<py::object>(PyCFunction_NewEx(&xent_def, nullptr, m.attr("__name__").ptr())));
}

// ---- optimizer updates ------------------------------------------------------------------------------------------

// An optimizer update's arrays after validation (as _checks.update_args): param and state as given (written in
// place, never copied), grad C-contiguous (an explicit copy only if the caller's grad is strided: it is read-only
// here, so the copy loses nothing).
struct UpdateArrays {
    Dt dt;
    py::array param, grad;
    std::vector<py::array> state;
};

UpdateArrays update_args(const char* fn, const py::handle& p_obj, const py::handle& g_obj,
                         std::initializer_list<std::pair<const char*, py::handle>> state) {
    // No default-constructed py::array here: pybind11 allocates an empty numpy array for each (a third of the
    // per-call cost of a small update).
    py::array param = require_ndarray(p_obj, fn, "param");
    const Dt dt = float_dtype(param, fn, "param");
    py::array g = require_ndarray(g_obj, fn, "grad");
    float_dtype(g, fn, "grad");
    require_same_dtype(param, "param", g, "grad", fn);
    require_same_shape(param, "param", g, "grad", fn);
    require_writable(param, fn, "param");
    std::vector<std::pair<const char*, py::array>> all{{"param", param}, {"grad", g}};
    std::vector<py::array> states;
    for (const auto& kv : state) {
        py::array s = require_ndarray(kv.second, fn, kv.first);
        float_dtype(s, fn, kv.first);
        require_same_dtype(param, "param", s, kv.first, fn);
        require_same_shape(param, "param", s, kv.first, fn);
        require_writable(s, fn, kv.first);
        all.emplace_back(kv.first, s);
        states.push_back(s);
    }
    for (std::size_t i = 0; i < all.size(); ++i)
        for (std::size_t j = i + 1; j < all.size(); ++j)
            require_no_overlap(all[i].second, all[i].first, all[j].second, all[j].first, fn);
    py::array grad = c_contig(g) && aligned(g) ? g : py::array::ensure(g, py::array::c_style);
    return UpdateArrays{dt, std::move(param), std::move(grad), std::move(states)};
}

// Validates, then calls kernel(p, state, g, n) for the arrays' dtype T with the GIL released; state[k] is the
// k-th state array's data (T*).
template <class Kernel>
void run_update(const char* fn, const py::handle& param, const py::handle& grad,
                std::initializer_list<std::pair<const char*, py::handle>> state, Kernel&& kernel) {
    UpdateArrays u = update_args(fn, param, grad, state);
    with_dtype(u.dt, [&](auto tag) {
        using T = decltype(tag);
        T* st[2] = {nullptr, nullptr};
        for (std::size_t k = 0; k < u.state.size(); ++k) st[k] = ptr<T>(u.state[k]);
        T* p = ptr<T>(u.param);
        const T* g = cptr<T>(u.grad);
        const auto n = static_cast<std::size_t>(u.param.size());
        py::gil_scoped_release nogil;
        kernel(p, st, g, n);
    });
}

// Scalars are rounded to the arrays' dtype here, once, as NumPy rounds a Python float meeting a float32 array;
// Python-level scalar expressions of the reference ((1+momentum)*lr, 1-beta1, ...) are evaluated in double first.
void bind_optim(py::module_& m) {
    m.def("sgd_update", [](const py::handle& param, const py::handle& grad, double lr) {
        run_update("sgd_update", param, grad, {}, [&](auto* p, auto* const*, const auto* g, std::size_t n) {
            using T = std::remove_pointer_t<decltype(p)>;
            pybp::sgd_update<T>(p, g, n, T(lr));
        });
    }, py::arg("param"), py::arg("grad"), py::arg("lr"), "param -= lr * grad.");
    m.def("momentum_update", [](const py::handle& param, const py::handle& grad, const py::handle& v, double lr,
                                double momentum) {
        run_update("momentum_update", param, grad, {{"v", v}}, [&](auto* p, auto* const* s, const auto* g,
                                                                   std::size_t n) {
            using T = std::remove_pointer_t<decltype(p)>;
            pybp::momentum_update<T>(p, s[0], g, n, T(lr), T(momentum));
        });
    }, py::arg("param"), py::arg("grad"), py::arg("v"), py::arg("lr"), py::arg("momentum"),
       "v = momentum * v - lr * grad; param += v.");
    m.def("nesterov_update", [](const py::handle& param, const py::handle& grad, const py::handle& v, double lr,
                                double momentum) {
        run_update("nesterov_update", param, grad, {{"v", v}}, [&](auto* p, auto* const* s, const auto* g,
                                                                   std::size_t n) {
            using T = std::remove_pointer_t<decltype(p)>;
            pybp::nesterov_update<T>(p, s[0], g, n, T(lr), T(momentum), T(momentum * momentum),
                                     T((1 + momentum) * lr));
        });
    }, py::arg("param"), py::arg("grad"), py::arg("v"), py::arg("lr"), py::arg("momentum"),
       "The book's Nesterov: v = momentum*v - lr*g; param += momentum*momentum*v - (1+momentum)*lr*g.");
    m.def("adagrad_update", [](const py::handle& param, const py::handle& grad, const py::handle& h, double lr,
                               double eps) {
        run_update("adagrad_update", param, grad, {{"h", h}}, [&](auto* p, auto* const* s, const auto* g,
                                                                  std::size_t n) {
            using T = std::remove_pointer_t<decltype(p)>;
            pybp::adagrad_update<T>(p, s[0], g, n, T(lr), T(eps));
        });
    }, py::arg("param"), py::arg("grad"), py::arg("h"), py::arg("lr"), py::arg("eps"),
       "h += g*g; param -= lr * g / (sqrt(h) + eps).");
    m.def("rmsprop_update", [](const py::handle& param, const py::handle& grad, const py::handle& h, double lr,
                               double decay_rate, double eps) {
        run_update("rmsprop_update", param, grad, {{"h", h}}, [&](auto* p, auto* const* s, const auto* g,
                                                                  std::size_t n) {
            using T = std::remove_pointer_t<decltype(p)>;
            pybp::rmsprop_update<T>(p, s[0], g, n, T(lr), T(decay_rate), T(1 - decay_rate), T(eps));
        });
    }, py::arg("param"), py::arg("grad"), py::arg("h"), py::arg("lr"), py::arg("decay_rate"), py::arg("eps"),
       "h = decay*h + (1-decay)*g*g; param -= lr * g / (sqrt(h) + eps).");
    m.def("adam_update", [](const py::handle& param, const py::handle& grad, const py::handle& mm,
                            const py::handle& v, double lr_t, double beta1, double beta2, double eps) {
        run_update("adam_update", param, grad, {{"m", mm}, {"v", v}}, [&](auto* p, auto* const* s, const auto* g,
                                                                         std::size_t n) {
            using T = std::remove_pointer_t<decltype(p)>;
            pybp::adam_update<T>(p, s[0], s[1], g, n, T(lr_t), T(1 - beta1), T(1 - beta2), T(eps));
        });
    }, py::arg("param"), py::arg("grad"), py::arg("m"), py::arg("v"), py::arg("lr_t"), py::arg("beta1"),
       py::arg("beta2"), py::arg("eps"), "m += (1-b1)(g-m); v += (1-b2)(g*g-v); param -= lr_t * m / (sqrt(v) + eps).");
}

// ---- run-time information -------------------------------------------------------------------------------------

// ---- convolution and max pooling (NCHW) ------------------------------------------------------------------------
// Same rules and messages as pybp/_checks.py (conv_*_args, maxpool_*_args), checked in the same order.

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
    const long long stride = int_param(stride_obj, fn, "stride", 1), pad = int_param(pad_obj, fn, "pad", 0);
    if (x.shape(1) != w.shape(1))
        raise_value(std::string(fn) + ": channel mismatch: x " + shape_str(x) + " and w " + shape_str(w));
    if (b.shape(0) != w.shape(0))
        raise_value(std::string(fn) + ": shape mismatch: w " + shape_str(w) + " and b " + shape_str(b));
    const Window o = window_out(fn, x.shape(2), x.shape(3), w.shape(2), w.shape(3), stride, pad);
    py::array out = output_shaped(out_obj, {x.shape(0), w.shape(0), o.oh, o.ow}, x, fn);
    require_no_overlap(out, "out", x, "x", fn);
    require_no_overlap(out, "out", w, "w", fn);
    require_no_overlap(out, "out", b, "b", fn);
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        T* op = ptr<T>(out);
        const T *xp = cptr<T>(x), *wp = cptr<T>(w), *bp = cptr<T>(b);
        py::gil_scoped_release nogil;
        pybp::conv_forward<T>(op, xp, wp, bp, sz(x.shape(0)), sz(x.shape(1)), sz(x.shape(2)), sz(x.shape(3)),
                              sz(w.shape(0)), sz(w.shape(2)), sz(w.shape(3)), sz(stride), sz(pad));
    });
    return out;
}

py::array conv_backward_data(const py::handle& dout_obj, const py::handle& w_obj, const py::handle& in_h_obj,
                             const py::handle& in_w_obj, const py::handle& stride_obj, const py::handle& pad_obj,
                             const py::handle& out_obj) {
    const char* fn = "conv_backward_data";
    Dt dt, dtw;
    py::array dout = conv_operand(dout_obj, fn, "dout", 4, &dt);
    py::array w = conv_operand(w_obj, fn, "w", 4, &dtw);
    require_same_dtype(dout, "dout", w, "w", fn);
    const long long in_h = int_param(in_h_obj, fn, "in_h", 0), in_w = int_param(in_w_obj, fn, "in_w", 0);
    const long long stride = int_param(stride_obj, fn, "stride", 1), pad = int_param(pad_obj, fn, "pad", 0);
    if (dout.shape(1) != w.shape(0))
        raise_value(std::string(fn) + ": channel mismatch: dout " + shape_str(dout) + " and w " + shape_str(w));
    const Window o = window_out(fn, in_h, in_w, w.shape(2), w.shape(3), stride, pad);
    if (dout.shape(2) != o.oh || dout.shape(3) != o.ow)
        raise_value(std::string(fn) + ": shape mismatch: dout " + shape_str(dout) + ", expected " +
                    tuple_str({dout.shape(0), w.shape(0), o.oh, o.ow}) + " for input " + tuple_str({in_h, in_w}));
    py::array out = output_shaped(out_obj, {dout.shape(0), w.shape(1), in_h, in_w}, dout, fn);
    require_no_overlap(out, "out", dout, "dout", fn);
    require_no_overlap(out, "out", w, "w", fn);
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        T* op = ptr<T>(out);
        const T *dp = cptr<T>(dout), *wp = cptr<T>(w);
        py::gil_scoped_release nogil;
        pybp::conv_backward_data<T>(op, dp, wp, sz(dout.shape(0)), sz(w.shape(1)), sz(in_h), sz(in_w),
                                    sz(w.shape(0)), sz(w.shape(2)), sz(w.shape(3)), sz(stride), sz(pad));
    });
    return out;
}

py::tuple conv_backward_weights(const py::handle& dout_obj, const py::handle& x_obj, const py::handle& fh_obj,
                                const py::handle& fw_obj, const py::handle& stride_obj, const py::handle& pad_obj,
                                const py::handle& dw_obj, const py::handle& db_obj) {
    const char* fn = "conv_backward_weights";
    Dt dt, dtx;
    py::array dout = conv_operand(dout_obj, fn, "dout", 4, &dt);
    py::array x = conv_operand(x_obj, fn, "x", 4, &dtx);
    require_same_dtype(dout, "dout", x, "x", fn);
    const long long fh = int_param(fh_obj, fn, "filter_h", 1), fw = int_param(fw_obj, fn, "filter_w", 1);
    const long long stride = int_param(stride_obj, fn, "stride", 1), pad = int_param(pad_obj, fn, "pad", 0);
    const Window o = window_out(fn, x.shape(2), x.shape(3), fh, fw, stride, pad);
    if (dout.shape(0) != x.shape(0) || dout.shape(2) != o.oh || dout.shape(3) != o.ow)
        raise_value(std::string(fn) + ": shape mismatch: dout " + shape_str(dout) + ", expected " +
                    tuple_str({x.shape(0), dout.shape(1), o.oh, o.ow}) + " for x " + shape_str(x));
    py::array dw = output_shaped(dw_obj, {dout.shape(1), x.shape(1), fh, fw}, x, fn, "dw");
    require_no_overlap(dw, "dw", dout, "dout", fn);
    require_no_overlap(dw, "dw", x, "x", fn);
    py::array db = output_shaped(db_obj, {dout.shape(1)}, x, fn, "db");
    require_no_overlap(db, "db", dout, "dout", fn);
    require_no_overlap(db, "db", x, "x", fn);
    require_no_overlap(db, "db", dw, "dw", fn);
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        T *dwp = ptr<T>(dw), *dbp = ptr<T>(db);
        const T *dp = cptr<T>(dout), *xp = cptr<T>(x);
        py::gil_scoped_release nogil;
        pybp::conv_backward_weights<T>(dwp, dbp, dp, xp, sz(x.shape(0)), sz(x.shape(1)), sz(x.shape(2)),
                                       sz(x.shape(3)), sz(dout.shape(1)), sz(fh), sz(fw), sz(stride), sz(pad));
    });
    return py::make_tuple(dw, db);
}

py::tuple maxpool_forward(const py::handle& x_obj, const py::handle& ph_obj, const py::handle& pw_obj,
                          const py::handle& stride_obj, const py::handle& pad_obj, const py::handle& out_obj) {
    const char* fn = "maxpool_forward";
    Dt dt;
    py::array x = conv_operand(x_obj, fn, "x", 4, &dt);
    const long long ph = int_param(ph_obj, fn, "pool_h", 1), pw = int_param(pw_obj, fn, "pool_w", 1);
    const long long stride = int_param(stride_obj, fn, "stride", 1), pad = int_param(pad_obj, fn, "pad", 0);
    const Window o = window_out(fn, x.shape(2), x.shape(3), ph, pw, stride, pad, "pool window");
    py::array out = output_shaped(out_obj, {x.shape(0), x.shape(1), o.oh, o.ow}, x, fn);
    require_no_overlap(out, "out", x, "x", fn);
    py::array_t<std::int32_t> argmax({x.shape(0), x.shape(1), static_cast<py::ssize_t>(o.oh),
                                      static_cast<py::ssize_t>(o.ow)});
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        T* op = ptr<T>(out);
        std::int32_t* ap = argmax.mutable_data();
        const T* xp = cptr<T>(x);
        py::gil_scoped_release nogil;
        pybp::maxpool_forward<T>(op, ap, xp, sz(x.shape(0)), sz(x.shape(1)), sz(x.shape(2)), sz(x.shape(3)),
                                 sz(ph), sz(pw), sz(stride), sz(pad));
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
    if (cnt) {
        std::int32_t lo = ap[0], hi = ap[0];
        for (py::ssize_t i = 1; i < cnt; ++i) {
            lo = std::min(lo, ap[i]);
            hi = std::max(hi, ap[i]);
        }
        if (lo < -1 || hi >= in_h * in_w)
            raise_value(std::string(fn) + ": argmax contains index " + std::to_string(lo < -1 ? lo : hi) +
                        " out of range [-1, " + std::to_string(in_h * in_w) + ")");
    }
    py::array out = output_shaped(out_obj, {dout.shape(0), dout.shape(1), in_h, in_w}, dout, fn);
    require_no_overlap(out, "out", dout, "dout", fn);
    require_no_overlap(out, "out", argmax, "argmax", fn);
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        T* op = ptr<T>(out);
        const T* dp = cptr<T>(dout);
        py::gil_scoped_release nogil;
        pybp::maxpool_backward<T>(op, dp, ap, sz(dout.shape(0)), sz(dout.shape(1)), sz(in_h), sz(in_w),
                                  sz(dout.shape(2)), sz(dout.shape(3)));
    });
    return out;
}

void bind_conv(py::module_& m) {
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

void bind_runtime(py::module_& m) {
    m.def("detect_isa", [] { return std::string(pybp::isa_name(pybp::detect_isa())); },
          "Best ISA path this CPU supports.");
    m.def("active_isa", [] { return std::string(pybp::isa_name(pybp::active_isa())); }, "ISA path in use.");
    m.def("set_isa", [](const std::string& name) {
        pybp::Isa isa;
        if (!pybp::parse_isa(name.c_str(), &isa))
            raise_value("set_isa: unknown ISA path '" + name + "', expected one of 'generic', 'avx2'");
        if (!pybp::set_isa(isa))
            raise_value("set_isa: this CPU cannot run the '" + name + "' path (best: " +
                        pybp::isa_name(pybp::detect_isa()) + ")");
    }, py::arg("name"), "Select an ISA path (for tests and benchmarks).");
    m.def("get_num_threads", &pybp::get_num_threads, "OpenMP threads for kernels large enough to split.");
    m.def("set_num_threads", [](int n) {
        if (n < 1) raise_value("set_num_threads: n must be >= 1, got " + std::to_string(n));
        pybp::set_num_threads(n);
    }, py::arg("n"));
    m.def("peak_gflops", [](const std::string& dtype, double seconds) {
        if (!(seconds > 0 && seconds <= 10)) raise_value("peak_gflops: seconds must be in (0, 10]");
        if (dtype != "float32" && dtype != "float64")
            raise_value("peak_gflops: dtype must be 'float32' or 'float64', got '" + dtype + "'");
        py::gil_scoped_release nogil;
        return dtype == "float32" ? pybp::peak_gflops<float>(seconds) : pybp::peak_gflops<double>(seconds);
    }, py::arg("dtype"), py::arg("seconds") = 0.2,
          "Measured single-thread peak GFLOP/s of the active ISA path (FMA chains), for % of peak.");
    m.def("cpu_has", [](const std::string& f) { return pybp::cpu_has(f.c_str()); }, py::arg("feature"));
    py::dict info;
    info["compiler"] = std::string(
#if defined(__clang__)
        "clang " __clang_version__
#elif defined(__GNUC__)
        "gcc " __VERSION__
#else
        "unknown"
#endif
    );
    info["openmp"] = pybp::have_openmp();
    info["isa_paths"] = std::vector<std::string>{"generic", "avx2"};
    info["pybind11"] = std::to_string(PYBIND11_VERSION_MAJOR) + "." + std::to_string(PYBIND11_VERSION_MINOR) +
                       "." + std::to_string(PYBIND11_VERSION_PATCH);
#ifdef NDEBUG
    info["build_type"] = "release";
#else
    info["build_type"] = "debug";
#endif
#if defined(__SANITIZE_ADDRESS__)
    info["sanitizers"] = "address,undefined";
#else
    info["sanitizers"] = "none";
#endif
    m.attr("build_info") = info;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "pybp compiled kernels (C++17). Use through pybp; see csrc/kernel_decls.inc for contracts.";
    bind_runtime(m);
    bind_elementwise(m);
    bind_gemm(m);
    bind_softmax_xent(m);
    bind_optim(m);
    bind_conv(m);
}
