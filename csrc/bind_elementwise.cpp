// Bindings of the elementwise family (csrc/elementwise.cpp): ReLU and sigmoid, forward and backward.
#include "bind_common.hpp"

#include <vector>

#include "kernels.hpp"

namespace pybp::bind {
namespace {

py::tuple relu_forward(const py::handle& x_obj, const py::handle& out_obj) {
    Unary a = unary_args("relu_forward", x_obj, out_obj);
    py::array mask(py::dtype::of<bool>(), std::vector<py::ssize_t>(a.x.shape(), a.x.shape() + a.x.ndim()));
    const auto n = static_cast<std::size_t>(a.x.size());
    with_dtype(a.dt, [&](auto tag) {
        using T = decltype(tag);
        call_nogil(pybp::relu_forward<T>, ptr<T>(a.out), ptr<unsigned char>(mask), cptr<T>(a.x), n);
    });
    return py::make_tuple(a.out, mask);
}

py::array relu_backward(const py::handle& dout_obj, const py::handle& mask_obj, const py::handle& out_obj) {
    const char* fn = "relu_backward";
    Dt dt;
    py::array dout = float_input(dout_obj, fn, "dout", &dt);
    py::array mask = require_ndarray(mask_obj, fn, "mask");
    if (mask.dtype().num() != py::detail::npy_api::NPY_BOOL_)
        raise_type(std::string(fn) + ": mask must have dtype bool, got " + dtype_str(mask));
    require_same_shape(dout, "dout", mask, "mask", fn);
    if (!c_contig(mask)) mask = require_copy(mask, py::array::c_style);
    py::array dx = output_like(out_obj, dout, "dout", fn);
    const auto n = static_cast<std::size_t>(dout.size());
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        call_nogil(pybp::relu_backward<T>, ptr<T>(dx), cptr<T>(dout), cptr<unsigned char>(mask), n);
    });
    return dx;
}

py::array sigmoid_forward(const py::handle& x_obj, const py::handle& out_obj) {
    Unary a = unary_args("sigmoid_forward", x_obj, out_obj);
    const auto n = static_cast<std::size_t>(a.x.size());
    with_dtype(a.dt, [&](auto tag) {
        using T = decltype(tag);
        call_nogil(pybp::sigmoid_forward<T>, ptr<T>(a.out), cptr<T>(a.x), n);
    });
    return a.out;
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
        call_nogil(pybp::sigmoid_backward<T>, ptr<T>(dx), cptr<T>(dout), cptr<T>(y), n);
    });
    return dx;
}

}  // namespace

void init_elementwise(py::module_& m) {
    m.def("relu_forward", &relu_forward, py::arg("x"), py::arg("out") = py::none(),
          "(out, mask): out = max(x, 0) with mask = x <= 0 (bool). out may be x.");
    m.def("relu_backward", &relu_backward, py::arg("dout"), py::arg("mask"), py::arg("out") = py::none(),
          "dx = dout with dx[mask] = 0. out may be dout.");
    m.def("sigmoid_forward", &sigmoid_forward, py::arg("x"), py::arg("out") = py::none(),
          "out = 1 / (1 + exp(-x)). out may be x.");
    m.def("sigmoid_backward", &sigmoid_backward, py::arg("dout"), py::arg("y"), py::arg("out") = py::none(),
          "dx = dout * (1 - y) * y where y is the forward output. out may be dout.");
}

}  // namespace pybp::bind
