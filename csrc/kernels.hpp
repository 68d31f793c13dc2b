// Every compiled kernel of pybp with its contract (see kernel_decls.inc). No pybind11 here.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pybp {
// Public entry points: dispatch at run time to the best ISA build (dispatch.hpp).
#include "kernel_decls.inc"
namespace isa_generic {
#include "kernel_decls.inc"
}
namespace isa_avx2 {
#include "kernel_decls.inc"
}
}  // namespace pybp
