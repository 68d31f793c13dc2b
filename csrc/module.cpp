// The pybp._core module: each kernel family registers its bindings (bind_<family>.cpp).
#include <pybind11/pybind11.h>

namespace pybp {
namespace bind {
void init_runtime(pybind11::module_& m);
void init_elementwise(pybind11::module_& m);
void init_gemm(pybind11::module_& m);
void init_softmax_xent(pybind11::module_& m);
void init_optim(pybind11::module_& m);
void init_conv(pybind11::module_& m);
}  // namespace bind
}  // namespace pybp

PYBIND11_MODULE(_core, m) {
    m.doc() = "pybp compiled kernels (C++17). Use through pybp; see csrc/kernel_decls.inc for contracts.";
    pybp::bind::init_runtime(m);
    pybp::bind::init_elementwise(m);
    pybp::bind::init_gemm(m);
    pybp::bind::init_softmax_xent(m);
    pybp::bind::init_optim(m);
    pybp::bind::init_conv(m);
}
