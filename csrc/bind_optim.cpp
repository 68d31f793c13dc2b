// Bindings of the optimizer updates (csrc/optim.cpp).
#include "bind_common.hpp"

#include <initializer_list>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels.hpp"
#include "line_peel.hpp"

namespace pybp::bind {
namespace {

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
    py::array grad = c_contig(g) && aligned(g) ? g : require_copy(g, py::array::c_style);
    return UpdateArrays{dt, std::move(param), std::move(grad), std::move(states)};
}

// Checks the scalars (real_arg, first, as the Python backends do), then the arrays, then calls
// kernel(p, state, g, n, k) for the arrays' dtype T with the GIL released; state[i] is the i-th state array's data
// (T*), k[i] the i-th scalar (double). In two calls (from_line, line_peel.hpp): the elements before p's next 64-byte
// boundary, then the rest from it. With NumPy's arrays 16 bytes past a line, Adam over 1M float32 parameters took
// 1.93x the time of line-aligned arrays (265 against 138 us), 1.45x in float64, 1.32x over 50K float32 (one
// thread). Elementwise updates: the same bits either way.
template <class Kernel>
void run_update(const char* fn, const py::handle& param, const py::handle& grad,
                std::initializer_list<std::pair<const char*, py::handle>> state,
                std::initializer_list<std::pair<const char*, py::handle>> scalars, Kernel&& kernel) {
    double k[4] = {0, 0, 0, 0};
    std::size_t i = 0;
    for (const auto& kv : scalars) k[i++] = real_arg(fn, kv.first, kv.second);
    UpdateArrays u = update_args(fn, param, grad, state);
    with_dtype(u.dt, [&](auto tag) {
        using T = decltype(tag);
        T* st[2] = {nullptr, nullptr};
        for (std::size_t j = 0; j < u.state.size(); ++j) st[j] = ptr<T>(u.state[j]);
        T* p = ptr<T>(u.param);
        const T* g = cptr<T>(u.grad);
        const auto n = static_cast<std::size_t>(u.param.size());
        py::gil_scoped_release nogil;
        from_line(p, n, [&](std::size_t i0, std::size_t i1) {
            T* const at[2] = {st[0] ? st[0] + i0 : nullptr, st[1] ? st[1] + i0 : nullptr};
            kernel(p + i0, at, g + i0, i1 - i0, k);
        });
    });
}

// Scalars are rounded to the arrays' dtype here, once, as NumPy rounds a Python float meeting a float32 array;
// Python-level scalar expressions of the reference ((1+momentum)*lr, 1-beta1, ...) are evaluated in double first.
}  // namespace

void init_optim(py::module_& m) {
    using H = const py::handle&;
#define PYBP_UPDATE_KERNEL(body) \
    [](auto* p, auto* const* s, const auto* g, std::size_t n, const double* k) { \
        using T = std::remove_pointer_t<decltype(p)>; \
        (void)s; \
        body; \
    }
    m.def("sgd_update", [](H param, H grad, H lr) {
        run_update("sgd_update", param, grad, {}, {{"lr", lr}},
                   PYBP_UPDATE_KERNEL(pybp::sgd_update<T>(p, g, n, T(k[0]))));
    }, py::arg("param"), py::arg("grad"), py::arg("lr"), "param -= lr * grad.");
    m.def("momentum_update", [](H param, H grad, H v, H lr, H momentum) {
        run_update("momentum_update", param, grad, {{"v", v}}, {{"lr", lr}, {"momentum", momentum}},
                   PYBP_UPDATE_KERNEL(pybp::momentum_update<T>(p, s[0], g, n, T(k[0]), T(k[1]))));
    }, py::arg("param"), py::arg("grad"), py::arg("v"), py::arg("lr"), py::arg("momentum"),
       "v = momentum * v - lr * grad; param += v.");
    m.def("nesterov_update", [](H param, H grad, H v, H lr, H momentum) {
        run_update("nesterov_update", param, grad, {{"v", v}}, {{"lr", lr}, {"momentum", momentum}},
                   PYBP_UPDATE_KERNEL(pybp::nesterov_update<T>(p, s[0], g, n, T(k[0]), T(k[1]), T(k[1] * k[1]),
                                                               T((1 + k[1]) * k[0]))));
    }, py::arg("param"), py::arg("grad"), py::arg("v"), py::arg("lr"), py::arg("momentum"),
       "The book's Nesterov (2021 fix): param += momentum**2*v - (1+momentum)*lr*grad, then v = momentum*v - lr*grad.");
    m.def("adagrad_update", [](H param, H grad, H h, H lr, H eps) {
        run_update("adagrad_update", param, grad, {{"h", h}}, {{"lr", lr}, {"eps", eps}},
                   PYBP_UPDATE_KERNEL(pybp::adagrad_update<T>(p, s[0], g, n, T(k[0]), T(k[1]))));
    }, py::arg("param"), py::arg("grad"), py::arg("h"), py::arg("lr"), py::arg("eps"),
       "h += g*g; param -= lr * g / (sqrt(h) + eps).");
    m.def("rmsprop_update", [](H param, H grad, H h, H lr, H decay_rate, H eps) {
        run_update("rmsprop_update", param, grad, {{"h", h}}, {{"lr", lr}, {"decay_rate", decay_rate}, {"eps", eps}},
                   PYBP_UPDATE_KERNEL(pybp::rmsprop_update<T>(p, s[0], g, n, T(k[0]), T(k[1]), T(1 - k[1]), T(k[2]))));
    }, py::arg("param"), py::arg("grad"), py::arg("h"), py::arg("lr"), py::arg("decay_rate"), py::arg("eps"),
       "h = decay*h + (1-decay)*g*g; param -= lr * g / (sqrt(h) + eps).");
    m.def("adam_update", [](H param, H grad, H mm, H v, H lr_t, H beta1, H beta2, H eps) {
        run_update("adam_update", param, grad, {{"m", mm}, {"v", v}},
                   {{"lr_t", lr_t}, {"beta1", beta1}, {"beta2", beta2}, {"eps", eps}},
                   PYBP_UPDATE_KERNEL(pybp::adam_update<T>(p, s[0], s[1], g, n, T(k[0]), T(1 - k[1]), T(1 - k[2]),
                                                           T(k[3]))));
    }, py::arg("param"), py::arg("grad"), py::arg("m"), py::arg("v"), py::arg("lr_t"), py::arg("beta1"),
       py::arg("beta2"), py::arg("eps"), "m += (1-b1)(g-m); v += (1-b2)(g*g-v); param -= lr_t * m / (sqrt(v) + eps).");
#undef PYBP_UPDATE_KERNEL
}

}  // namespace pybp::bind
