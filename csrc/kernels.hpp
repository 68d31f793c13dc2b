// Every compiled kernel of pybp, declared from the kernel list (kernel_decls.inc, which holds the contracts).
// No pybind11 here.
#pragma once

#include <cstddef>
#include <cstdint>

// PYBP_BUILD_AVX2 (set by CMake on x86-64): the AVX2+FMA builds of the kernel families exist. Without it only the
// generic build is compiled and the public entry points call it directly.
#ifndef PYBP_BUILD_AVX2
#define PYBP_BUILD_AVX2 0
#endif
// PYBP_BUILD_AVX512 (likewise): the AVX-512 (F, DQ, BW, VL + FMA) builds exist.
#ifndef PYBP_BUILD_AVX512
#define PYBP_BUILD_AVX512 0
#endif

// Explicit instantiation of one list entry for float and double (kernel_instances.inc, dispatch.cpp). The
// parameter list is written in terms of T, so it goes through an alias template: `template Sig<float> f<float>;`
// declares the instantiation without restating the parameters.
#define PYBP_INSTANTIATE_KERNEL(ret, name, params, args)                  \
    namespace signature {                                                 \
    template <class T> using name = ret params;                           \
    }                                                                     \
    template signature::name<float> name<float>;                          \
    template signature::name<double> name<double>;

#define PYBP_FAMILY(family) 1
#define PYBP_KERNEL(ret, name, params, args) template <class T> ret name params;
#define PYBP_ORACLE PYBP_KERNEL
namespace pybp {
// Public entry points: dispatch at run time to the best ISA build (dispatch.cpp).
#include "kernel_decls.inc"
namespace isa_generic {
#include "kernel_decls.inc"
}
#if PYBP_BUILD_AVX2
namespace isa_avx2 {
#include "kernel_decls.inc"
}
#endif
#if PYBP_BUILD_AVX512
namespace isa_avx512 {
#include "kernel_decls.inc"
}
#endif
}  // namespace pybp
#undef PYBP_FAMILY
#undef PYBP_KERNEL
#undef PYBP_ORACLE
