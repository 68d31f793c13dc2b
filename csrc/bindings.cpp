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

#include <cstdint>
#include <sstream>
#include <string>
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

// Output like `like` (same shape and dtype): `out` if given (validated), else a new array.
py::array output_like(const py::handle& out_obj, const py::array& like, const char* like_name, const char* fn,
                      const char* name = "out") {
    if (out_obj.is_none()) return py::array(like.dtype(), std::vector<py::ssize_t>(like.shape(), like.shape() + like.ndim()));
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

// ---- run-time information -------------------------------------------------------------------------------------

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
}
