// Shared by the binding files (bind_<family>.cpp): argument validation, output allocation, dtype dispatch.
//
// Rules every binding follows (tests/test_bad_input.py checks them):
// - array arguments must be numpy.ndarray (TypeError otherwise); float arrays must be float32/float64 in native
//   byte order (TypeError), and all float arguments of one call share a dtype (TypeError, never a silent cast);
// - read-only inputs that are not C-contiguous and aligned are copied explicitly (never wrong);
// - outputs and in-place state must be C-contiguous, aligned and writeable (ValueError): never silently copied,
//   so an in-place update always reaches the caller's array;
// - shapes are checked before any memory is touched (ValueError naming both shapes);
// - the GIL is released around every kernel.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <initializer_list>
#include <string>

namespace pybp::bind {

namespace py = pybind11;

enum class Dt { f32, f64 };

std::string shape_str(const py::array& a);
std::string dtype_str(const py::array& a);
// The Python type name of obj (for "must be a numpy.ndarray, got list").
std::string type_name(const py::handle& obj);

[[noreturn]] void raise_type(const std::string& msg);
[[noreturn]] void raise_value(const std::string& msg);

// numpy reports native order as '=' (or '|' for 1-byte types); '<'/'>' only when explicitly non-native here.
bool native_order(const py::array& a);
inline bool aligned(const py::array& a) { return (a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_) != 0; }
inline bool c_contig(const py::array& a) { return (a.flags() & py::array::c_style) != 0; }

// obj as an ndarray, else TypeError "fn: name must be a numpy.ndarray, got <type>".
py::array require_ndarray(const py::handle& obj, const char* fn, const char* name);
// a's dtype if float32/float64 in native order, else TypeError.
Dt float_dtype(const py::array& a, const char* fn, const char* name);
void require_same_dtype(const py::array& a, const char* an, const py::array& b, const char* bn, const char* fn);
void require_same_shape(const py::array& a, const char* an, const py::array& b, const char* bn, const char* fn);
void require_ndim(const py::array& a, py::ssize_t n, const char* fn, const char* name);
// A copy of `a` meeting NumPy's requirement `flags` (C order, aligned, ...); MemoryError when it cannot be
// allocated (py::array::ensure returns a null handle then, clearing the error, and a binding would read through it).
py::array require_copy(const py::handle& a, int flags);
// A scalar argument (lr, alpha, ...) as a double, with pybp._checks.real's rule and messages: anything with
// __float__ or __index__ except strings (TypeError); an int beyond the float range is a ValueError.
double real_arg(const char* fn, const char* name, const py::handle& o);
// A yes/no argument (trans_a, ...), as pybp._checks.flag: bool or numpy.bool_ only (TypeError otherwise).
bool flag_arg(const char* fn, const char* name, const py::handle& o);
// A read-only float input: validated, then made C-contiguous and aligned (an explicit copy only if needed).
py::array float_input(const py::handle& obj, const char* fn, const char* name, Dt* dt);
// An array the kernel writes: must already be C-contiguous, aligned and writeable (never copied).
void require_writable(const py::array& a, const char* fn, const char* name);
// Byte ranges of a and b overlap, but not exactly (exact aliasing is allowed where a contract says so).
void require_no_partial_overlap(const py::array& a, const char* an, const py::array& b, const char* bn,
                                const char* fn);
// a and b must not share memory (as _checks.no_overlap).
void require_no_overlap(const py::array& a, const char* an, const py::array& b, const char* bn, const char* fn);
// The same for a against each of `others` in order (the first overlap found is the one reported).
void require_no_overlap(const py::array& a, const char* an,
                        std::initializer_list<std::pair<const py::array*, const char*>> others, const char* fn);

// The output `name` of fn (as _checks.output): a new C-contiguous array of like's dtype and the given shape when
// out_obj is None, else the caller's array validated (float, like's dtype, the shape, writeable, C-contiguous).
// like_name given: the output has the shape of that argument, errors name it, and out may alias it exactly but
// not partially; nullptr: errors state the expected dtype and shape.
py::array output(const py::handle& out_obj, const py::array& like, std::size_t ndim, const py::ssize_t* shape,
                 const char* fn, const char* name, const char* like_name);
// An output of like's shape and dtype (out may be like itself).
inline py::array output_like(const py::handle& out_obj, const py::array& like, const char* like_name, const char* fn,
                             const char* name = "out") {
    return output(out_obj, like, static_cast<std::size_t>(like.ndim()), like.shape(), fn, name, like_name);
}
// An output of shape dims and like's dtype (a list, not a vector: no heap allocation per call).
inline py::array output_shaped(const py::handle& out_obj, std::initializer_list<py::ssize_t> dims,
                               const py::array& like, const char* fn, const char* name = "out") {
    return output(out_obj, like, dims.size(), dims.begin(), fn, name, nullptr);
}

// The arguments of a unary binding fn(x, out=None): x as float_input with at least min_ndim dimensions
// (ValueError otherwise), then the output "out" of x's shape and dtype (out may be x itself). In this order, as
// _checks.py, so the first error is the same under every backend.
struct Unary {
    py::array x, out;
    Dt dt;
};
Unary unary_args(const char* fn, const py::handle& x_obj, const py::handle& out_obj, py::ssize_t min_ndim = 0);

// A read-only 2-D operand passed to a strided kernel: element strides when aligned and itemsize-divisible
// (transposed, sliced and negative-stride views need no copy), else an explicit C-contiguous copy.
struct Strided2D {
    py::array arr;
    std::ptrdiff_t rs, cs;
};
Strided2D strided_2d(py::array a);

template <class T> T* ptr(py::array& a) { return static_cast<T*>(a.mutable_data()); }
template <class T> const T* cptr(const py::array& a) { return static_cast<const T*>(a.data()); }

// kernel(args...) with the GIL released; the arguments (data pointers) are evaluated before, with the GIL held.
template <class K, class... A> auto call_nogil(K kernel, A... args) {
    py::gil_scoped_release nogil;
    return kernel(args...);
}

// Call f(T{}) with T = float or double.
template <class F> void with_dtype(Dt dt, F&& f) {
    if (dt == Dt::f32) f(float{});
    else f(double{});
}

}  // namespace pybp::bind
