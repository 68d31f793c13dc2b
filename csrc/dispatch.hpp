// Run-time ISA dispatch for kernel families compiled once per ISA (see pybp_multi_isa in CMakeLists.txt).
//
// A family file defines its kernels as templates in namespace pybp::PYBP_ISA_NS; the build compiles it as
// isa_generic and isa_avx2. Only the generic build (PYBP_ISA_IS_generic) also defines the public entry points
// in namespace pybp, each a PYBP_DISPATCH over the ISA builds.
#pragma once

#include "cpu.hpp"
#include "kernels.hpp"

#ifndef PYBP_ISA_NS
#error "compile kernel family files through pybp_multi_isa() so that PYBP_ISA_NS is defined"
#endif

// PYBP_DISPATCH(name(args...)): call the ISA build selected at run time.
#define PYBP_DISPATCH(call)                                          \
    do {                                                             \
        switch (::pybp::active_isa()) {                              \
            case ::pybp::Isa::avx2: return ::pybp::isa_avx2::call;   \
            default: return ::pybp::isa_generic::call;               \
        }                                                            \
    } while (0)
