// Run-time CPU facts and the ISA path the kernels dispatch to.
#pragma once

namespace pybp {

// Instruction-set paths this build can run. Ordered: a larger value needs more CPU features.
enum class Isa : int { generic = 0, avx2 = 1, avx512 = 2 };

// Best path the CPU and the OS support (AVX2 needs AVX2 + FMA with OS-enabled YMM state; AVX-512 needs F, DQ,
// BW, VL and FMA with OS-enabled ZMM state) among those this build has.
Isa detect_isa() noexcept;
// Path in use now: detect_isa() unless set_isa() lowered it.
Isa active_isa() noexcept;
// Select a path (for tests and comparisons). Returns false, changing nothing, if the CPU cannot run it.
bool set_isa(Isa isa) noexcept;
const char* isa_name(Isa isa) noexcept;
// Parse "generic" / "avx2" / "avx512"; returns false for an unknown name.
bool parse_isa(const char* name, Isa* out) noexcept;

// CPU feature flags as seen by the compiler runtime, for pybp.backend_info().
bool cpu_has(const char* feature) noexcept;


}  // namespace pybp
