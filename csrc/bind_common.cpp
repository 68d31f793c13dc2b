// Argument validation and output allocation shared by the binding files (see bind_common.hpp for the rules).
#include "bind_common.hpp"

#include <cstdint>
#include <sstream>
#include <utility>

namespace pybp::bind {

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

void raise_type(const std::string& msg) { throw py::type_error(msg); }
void raise_value(const std::string& msg) { throw py::value_error(msg); }

bool native_order(const py::array& a) {
    const char bo = a.dtype().byteorder();
    const std::uint16_t probe = 1;
    const bool little = *reinterpret_cast<const unsigned char*>(&probe) == 1;
    return bo == '=' || bo == '|' || bo == (little ? '<' : '>');
}

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

void require_ndim(const py::array& a, py::ssize_t n, const char* fn, const char* name) {
    if (a.ndim() != n)
        raise_value(std::string(fn) + ": " + name + " must be " + std::to_string(n) + "-D, got shape " + shape_str(a));
}

py::array float_input(const py::handle& obj, const char* fn, const char* name, Dt* dt) {
    py::array a = require_ndarray(obj, fn, name);
    *dt = float_dtype(a, fn, name);
    if (c_contig(a) && aligned(a)) return a;
    return require_copy(a, py::array::c_style | py::array::forcecast);
}

Unary unary_args(const char* fn, const py::handle& x_obj, const py::handle& out_obj, py::ssize_t min_ndim) {
    Dt dt;
    py::array x = float_input(x_obj, fn, "x", &dt);
    if (x.ndim() < min_ndim)
        raise_value(std::string(fn) + ": x must have at least " + std::to_string(min_ndim) +
                    (min_ndim == 1 ? " dimension" : " dimensions") + ", got shape " + shape_str(x));
    py::array out = output_like(out_obj, x, "x", fn);
    return Unary{std::move(x), std::move(out), dt};  // no default-constructed py::array (each allocates)
}

py::array require_copy(const py::handle& a, int flags) {
    auto& api = py::detail::npy_api::get();
    PyObject* r = api.PyArray_FromAny_(a.ptr(), nullptr, 0, 0, py::detail::npy_api::NPY_ARRAY_ENSUREARRAY_ | flags,
                                       nullptr);
    if (!r) throw py::error_already_set();
    return py::reinterpret_steal<py::array>(r);
}

double real_arg(const char* fn, const char* name, const py::handle& o) {
    PyObject* p = o.ptr();
    if (PyFloat_CheckExact(p)) return PyFloat_AS_DOUBLE(p);
    const PyNumberMethods* nb = Py_TYPE(p)->tp_as_number;
    if (!nb || (!nb->nb_float && !nb->nb_index))
        raise_type(std::string(fn) + ": " + name + " must be a real number, got " + type_name(o));
    const double v = PyFloat_AsDouble(p);
    if (v == -1.0 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) throw py::error_already_set();
        PyErr_Clear();
        raise_value(std::string(fn) + ": " + name + " is out of the float range");
    }
    return v;
}

bool flag_arg(const char* fn, const char* name, const py::handle& o) {
    if (o.ptr() == Py_True) return true;
    if (o.ptr() == Py_False) return false;
    static PyObject* np_bool = py::object(py::module_::import("numpy").attr("bool_")).release().ptr();  // kept
    if (PyObject_TypeCheck(o.ptr(), reinterpret_cast<PyTypeObject*>(np_bool))) return PyObject_IsTrue(o.ptr()) == 1;
    raise_type(std::string(fn) + ": " + name + " must be a bool, got " + type_name(o));
}

void require_writable(const py::array& a, const char* fn, const char* name) {
    if (!a.writeable()) raise_value(std::string(fn) + ": " + name + " is read-only");
    if (!c_contig(a) || !aligned(a))
        raise_value(std::string(fn) + ": " + name +
                    " must be C-contiguous and aligned: it is written in place, and a copy would lose the update");
}

void require_no_partial_overlap(const py::array& a, const char* an, const py::array& b, const char* bn,
                                const char* fn) {
    const auto* pa = static_cast<const char*>(a.data());
    const auto* pb = static_cast<const char*>(b.data());
    const bool overlap = a.nbytes() > 0 && b.nbytes() > 0 && pa < pb + b.nbytes() && pb < pa + a.nbytes();
    if (overlap && pa != pb)
        raise_value(std::string(fn) + ": " + an + " partially overlaps " + bn + " (only exact aliasing is allowed)");
}

// Byte extent [lo, hi) an array's elements span (any strides).
static std::pair<const char*, const char*> extent(const py::array& a) {
    const char* lo = static_cast<const char*>(a.data());
    const char* hi = lo;
    for (py::ssize_t i = 0; i < a.ndim(); ++i) {
        const py::ssize_t span = (a.shape(i) - 1) * a.strides(i);
        (span < 0 ? lo : hi) += span;
    }
    return {lo, hi + a.itemsize()};
}

// Disjoint extents decide it cheaply; interleaved views whose extents meet are settled exactly by
// numpy.shares_memory.
void require_no_overlap(const py::array& a, const char* an, const py::array& b, const char* bn, const char* fn) {
    if (a.size() == 0 || b.size() == 0) return;
    const auto ea = extent(a), eb = extent(b);
    if (ea.first >= eb.second || eb.first >= ea.second) return;
    const bool shares = py::module_::import("numpy").attr("shares_memory")(a, b).cast<bool>();
    if (shares) raise_value(std::string(fn) + ": " + an + " must not overlap " + bn);
}

void require_no_overlap(const py::array& a, const char* an,
                        std::initializer_list<std::pair<const py::array*, const char*>> others, const char* fn) {
    for (const auto& [b, bn] : others) require_no_overlap(a, an, *b, bn, fn);
}

// A new C-contiguous array of like's dtype and the given shape, through NumPy's C API: py::array(dtype, shape)
// builds shape and stride vectors and passes explicit strides that NumPy then re-checks, which made allocating
// the two outputs of a 100x10 softmax-CE call ~0.17 us (a third of its overhead) slower.
static py::array new_array(const py::array& like, std::size_t ndim, const py::ssize_t* shape) {
    auto& api = py::detail::npy_api::get();
    PyObject* descr = py::detail::array_proxy(like.ptr())->descr;
    Py_INCREF(descr);  // PyArray_NewFromDescr steals it
    PyObject* a = api.PyArray_NewFromDescr_(api.PyArray_Type_, descr, static_cast<int>(ndim),
                                            const_cast<Py_intptr_t*>(shape), nullptr, nullptr, 0, nullptr);
    if (!a) throw py::error_already_set();
    return py::reinterpret_steal<py::array>(a);
}

static std::string dims_str(std::size_t ndim, const py::ssize_t* shape) {
    std::ostringstream s;
    s << '(';
    for (std::size_t i = 0; i < ndim; ++i) s << (i ? ", " : "") << shape[i];
    s << (ndim == 1 ? ",)" : ")");
    return s.str();
}

py::array output(const py::handle& out_obj, const py::array& like, std::size_t ndim, const py::ssize_t* shape,
                 const char* fn, const char* name, const char* like_name) {
    if (out_obj.is_none()) return new_array(like, ndim, shape);
    py::array out = require_ndarray(out_obj, fn, name);
    float_dtype(out, fn, name);
    if (like_name) {
        require_same_dtype(like, like_name, out, name, fn);
        require_same_shape(like, like_name, out, name, fn);
    } else {
        if (out.dtype().num() != like.dtype().num())
            raise_type(std::string(fn) + ": dtype mismatch: " + name + " " + dtype_str(out) + ", expected " +
                       dtype_str(like));
        bool same = out.ndim() == static_cast<py::ssize_t>(ndim);
        for (py::ssize_t i = 0; same && i < out.ndim(); ++i) same = out.shape(i) == shape[i];
        if (!same)
            raise_value(std::string(fn) + ": shape mismatch: " + name + " " + shape_str(out) + ", expected " +
                        dims_str(ndim, shape));
    }
    require_writable(out, fn, name);
    if (like_name) require_no_partial_overlap(out, name, like, like_name, fn);
    return out;
}

Strided2D strided_2d(py::array a) {
    const py::ssize_t isz = a.itemsize();
    if (!aligned(a) || a.strides(0) % isz || a.strides(1) % isz)
        a = require_copy(a, py::array::c_style | py::array::forcecast);
    return {a, static_cast<std::ptrdiff_t>(a.strides(0) / isz), static_cast<std::ptrdiff_t>(a.strides(1) / isz)};
}

}  // namespace pybp::bind
