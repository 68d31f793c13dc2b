// Bindings of the GEMM family (csrc/gemm.cpp): gemm, the gemm_ref oracle, affine_forward, bias_grad.
#include "bind_common.hpp"

#include <string>
#include <utility>
#include <vector>

#include "kernels.hpp"

namespace pybp::bind {
namespace {

py::array gemm(const py::handle& a_obj, const py::handle& b_obj, const py::handle& c_obj, const py::handle& alpha_obj,
               const py::handle& beta_obj, const py::handle& trans_a_obj, const py::handle& trans_b_obj) {
    const char* fn = "gemm";
    const double alpha = real_arg(fn, "alpha", alpha_obj), beta = real_arg(fn, "beta", beta_obj);
    const bool trans_a = flag_arg(fn, "trans_a", trans_a_obj), trans_b = flag_arg(fn, "trans_b", trans_b_obj);
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
    require_no_overlap(c, "c", {{&a, "a"}, {&b, "b"}}, fn);
    Strided2D sa = strided_2d(a), sb = strided_2d(b);
    std::ptrdiff_t rsa = sa.rs, csa = sa.cs, rsb = sb.rs, csb = sb.cs;
    if (trans_a) std::swap(rsa, csa);
    if (trans_b) std::swap(rsb, csb);
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        call_nogil(pybp::gemm<T>, ptr<T>(c), static_cast<std::ptrdiff_t>(n), cptr<T>(sa.arr), rsa, csa,
                   cptr<T>(sb.arr), rsb, csb, static_cast<std::size_t>(m), static_cast<std::size_t>(n),
                   static_cast<std::size_t>(k), static_cast<T>(alpha), static_cast<T>(beta));
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
        call_nogil(pybp::gemm_ref<T>, ptr<T>(c), static_cast<std::ptrdiff_t>(n), cptr<T>(a), rsa, csa, cptr<T>(b),
                   rsb, csb, static_cast<std::size_t>(m), static_cast<std::size_t>(n), static_cast<std::size_t>(k),
                   T(1), T(0));
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
    require_no_overlap(out, "out", {{&x, "x"}, {&w, "w"}, {&b, "b"}}, fn);
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        call_nogil(pybp::affine_forward<T>, ptr<T>(out), cptr<T>(x), cptr<T>(w), cptr<T>(b),
                   static_cast<std::size_t>(n), static_cast<std::size_t>(k), static_cast<std::size_t>(m));
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
        call_nogil(pybp::bias_grad<T>, ptr<T>(out), cptr<T>(dout), static_cast<std::size_t>(n),
                   static_cast<std::size_t>(m));
    });
    return out;
}

}  // namespace

void init_gemm(py::module_& m) {
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

}  // namespace pybp::bind
