// Bindings of the optimizer updates (csrc/optim.cpp).
#include "bind_common.hpp"

#include <initializer_list>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels.hpp"

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
}  // namespace

void init_optim(py::module_& m) {
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

}  // namespace pybp::bind
