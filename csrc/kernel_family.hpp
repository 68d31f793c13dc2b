// Included first by every kernel family file (csrc/<family>.cpp). CMake (pybp_multi_isa) compiles a family file
// once per ISA build with PYBP_ISA_NS naming its namespace (isa_generic, isa_avx2, isa_avx512), PYBP_ISA_IS_<isa> and
// PYBP_FAMILY_IS_<family>; the file defines its kernels as templates in pybp::PYBP_ISA_NS and ends with
// #include "kernel_instances.inc". The public entry points (dispatch.cpp) pick an ISA build at run time.
#pragma once

#include "compiler.hpp"  // PYBP_ALWAYS_INLINE, PYBP_UNROLL, ...: attributes and pragmas per compiler
#include "cpu.hpp"
#include "kernels.hpp"

#ifndef PYBP_ISA_NS
#error "compile kernel family files through pybp_multi_isa() so that PYBP_ISA_NS is defined"
#endif
