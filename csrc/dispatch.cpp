// The public entry points pybp::<kernel><T>: each calls the ISA build active_isa() selects (cpu.hpp; PYBP_ISA
// for tests), generated from the kernel list. Compiled once, without ISA flags.
#include "cpu.hpp"
#include "kernels.hpp"

namespace pybp {

#if PYBP_BUILD_AVX512
#define PYBP_CASE_AVX512(name, args) \
    case Isa::avx512: return isa_avx512::name<T> args;
#else
#define PYBP_CASE_AVX512(name, args)
#endif
#if PYBP_BUILD_AVX2
#define PYBP_KERNEL(ret, name, params, args)                     \
    template <class T> ret name params {                         \
        switch (active_isa()) {                                  \
            PYBP_CASE_AVX512(name, args)                         \
            case Isa::avx2: return isa_avx2::name<T> args;       \
            default: return isa_generic::name<T> args;           \
        }                                                        \
    }
#else
#define PYBP_KERNEL(ret, name, params, args) \
    template <class T> ret name params { return isa_generic::name<T> args; }
#endif
#define PYBP_ORACLE(ret, name, params, args) \
    template <class T> ret name params { return isa_generic::name<T> args; }
#define PYBP_FAMILY(family) 1
#include "kernel_decls.inc"
#undef PYBP_KERNEL
#undef PYBP_ORACLE
#undef PYBP_CASE_AVX512

#define PYBP_KERNEL PYBP_INSTANTIATE_KERNEL
#define PYBP_ORACLE PYBP_INSTANTIATE_KERNEL
#include "kernel_decls.inc"
#undef PYBP_KERNEL
#undef PYBP_ORACLE
#undef PYBP_FAMILY

}  // namespace pybp
