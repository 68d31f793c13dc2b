// Bindings of softmax and the fused softmax-cross-entropy (csrc/softmax_xent.cpp).
#include "bind_common.hpp"

#include <algorithm>
#include <cstdint>
#include <new>
#include <string>

#include "kernels.hpp"

namespace pybp::bind {
namespace {

py::array softmax(const py::handle& x_obj, const py::handle& out_obj) {
    Unary a = unary_args("softmax", x_obj, out_obj, 1);
    const auto c = static_cast<std::size_t>(a.x.shape(a.x.ndim() - 1));
    const std::size_t rows = c ? static_cast<std::size_t>(a.x.size()) / c : 0;
    with_dtype(a.dt, [&](auto tag) {
        using T = decltype(tag);
        call_nogil(pybp::softmax<T>, ptr<T>(a.out), cptr<T>(a.x), rows, c);
    });
    return a.out;
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
            ti = require_copy(t, py::array::c_style);
            if (ti.dtype().num() != py::dtype::of<std::int64_t>().num() || !native_order(ti))
                ti = py::reinterpret_steal<py::array>(ti.attr("astype")("int64").release());
            ti = require_copy(ti, py::array::c_style);
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
        return c_contig(t) && aligned(t) ? t : require_copy(t, py::array::c_style);
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
        require_no_overlap(y, "y", {{&x, "x"}, {&t_orig, "t"}}, fn);
    }
    if (dx_given) {
        require_no_overlap(dx, "dx", {{&x, "x"}, {&t_orig, "t"}}, fn);
    }
    if (y_given && dx_given) require_no_overlap(y, "y", dx, "dx", fn);
    const auto n = static_cast<std::size_t>(x.shape(0)), c = static_cast<std::size_t>(x.shape(1));
    double loss = 0.0;
    with_dtype(dt, [&](auto tag) {
        using T = decltype(tag);
        if (index)
            loss = call_nogil(pybp::softmax_xent_index<T>, ptr<T>(y), ptr<T>(dx), cptr<T>(x), cptr<std::int64_t>(t),
                              n, c);
        else
            loss = call_nogil(pybp::softmax_xent_onehot<T>, ptr<T>(y), ptr<T>(dx), cptr<T>(x), cptr<T>(t), n, c);
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

}  // namespace

void init_softmax_xent(py::module_& m) {
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

}  // namespace pybp::bind
