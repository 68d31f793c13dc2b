// Run-time information and control (csrc/cpu.cpp: ISA path and CPU features; csrc/threads.cpp: threads), the peak-FLOP/s probe
// (csrc/probe.cpp) and build_info.
#include "bind_common.hpp"

#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "cpu.hpp"
#include "kernels.hpp"
#include "threads.hpp"
#include "vexp.hpp"

namespace pybp::bind {

namespace {
// ExpConst<T> as a dict of Python floats (exact: float widens to double without rounding).
template <class T> py::dict exp_constants() {
    using E = vexp_detail::ExpConst<T>;
    py::dict d;
    d["lo"] = double(E::lo), d["hi"] = double(E::hi), d["magic"] = double(E::magic), d["log2e"] = double(E::log2e);
    d["ln2_hi"] = double(E::ln2_hi), d["ln2_lo"] = double(E::ln2_lo);
    py::list poly;
    for (const T c : E::poly) poly.append(double(c));
    d["poly"] = py::tuple(poly);
    return d;
}
}  // namespace
void init_runtime(py::module_& m) {
    m.def("detect_isa", [] { return std::string(pybp::isa_name(pybp::detect_isa())); },
          "Best ISA path this CPU supports.");
    m.def("active_isa", [] { return std::string(pybp::isa_name(pybp::active_isa())); }, "ISA path in use.");
    m.def("set_isa", [](const std::string& name) {
        pybp::Isa isa;
        if (!pybp::parse_isa(name.c_str(), &isa))
            raise_value("set_isa: unknown ISA path '" + name + "', expected one of 'generic', 'avx2', 'avx512'");
        if ((!PYBP_BUILD_AVX2 && isa == pybp::Isa::avx2) || (!PYBP_BUILD_AVX512 && isa == pybp::Isa::avx512))
            raise_value("set_isa: the '" + name + "' path is not built into this extension (x86-64 only)");
        if (!pybp::set_isa(isa))
            raise_value("set_isa: this CPU cannot run the '" + name + "' path (best: " +
                        pybp::isa_name(pybp::detect_isa()) + ")");
    }, py::arg("name"), "Select an ISA path (for tests and benchmarks).");
    m.def("get_num_threads", &pybp::get_num_threads, "Threads (process-wide) for kernels large enough to split.");
    m.def("set_num_threads", [](int n) {
        if (n < 1 || n > pybp::kMaxThreads)
            raise_value("set_num_threads: n must be >= 1 and <= " + std::to_string(pybp::kMaxThreads) + ", got " +
                        std::to_string(n));
        return pybp::set_num_threads(n);
    }, py::arg("n"), "Sets the process-wide thread count; returns the count in effect (fewer if the OS refused).");
    m.def("pool_workers", &pybp::pool_workers, "Worker threads started so far in this process.");
    m.def("pool_stats", [] {
        const pybp::PoolStats s = pybp::pool_stats();
        py::dict d;
        d["parallel"] = s.parallel;
        d["backed_off"] = s.backed_off;
        d["backoffs"] = s.backoffs;
        return d;
    }, "Jobs run on several threads, jobs run on one because of a back-off, back-offs begun (this process).");
    m.attr("MAX_THREADS") = pybp::kMaxThreads;
    m.def("peak_gflops", [](const std::string& dtype, double seconds) {
        if (!(seconds > 0 && seconds <= 10)) raise_value("peak_gflops: seconds must be in (0, 10]");
        if (dtype != "float32" && dtype != "float64")
            raise_value("peak_gflops: dtype must be 'float32' or 'float64', got '" + dtype + "'");
        py::gil_scoped_release nogil;
        return dtype == "float32" ? pybp::peak_gflops<float>(seconds) : pybp::peak_gflops<double>(seconds);
    }, py::arg("dtype"), py::arg("seconds") = 0.2,
          "Measured single-thread peak GFLOP/s of the active ISA path (FMA chains), for % of peak.");
    m.def("cpu_has", [](const std::string& f) { return pybp::cpu_has(f.c_str()); }, py::arg("feature"));
    m.def("_exp_constants", [](const std::string& dtype) {
        if (dtype != "float32" && dtype != "float64")
            raise_value("_exp_constants: dtype must be 'float32' or 'float64', got '" + dtype + "'");
        return dtype == "float32" ? exp_constants<float>() : exp_constants<double>();
    }, py::arg("dtype"), "The exp kernels' constants (vexp.hpp), for the test that pybp._numba uses the same.");
    py::dict info;
    info["compiler"] = std::string(
#if defined(__clang__)
        "clang " __clang_version__
#elif defined(__GNUC__)
        "gcc " __VERSION__
#elif defined(_MSC_VER)
        "msvc " + std::to_string(_MSC_FULL_VER)
#else
        "unknown"
#endif
    );
    std::vector<std::string> paths{"generic"};
    if (PYBP_BUILD_AVX2) paths.push_back("avx2");
    if (PYBP_BUILD_AVX512) paths.push_back("avx512");
    info["isa_paths"] = paths;
    info["pybind11"] = std::to_string(PYBIND11_VERSION_MAJOR) + "." + std::to_string(PYBIND11_VERSION_MINOR) +
                       "." + std::to_string(PYBIND11_VERSION_PATCH);
#ifdef NDEBUG
    info["build_type"] = "release";
#else
    info["build_type"] = "debug";
#endif
#if defined(__SANITIZE_ADDRESS__)
    info["sanitizers"] = "address,undefined";
#else
    info["sanitizers"] = "none";
#endif
    m.attr("build_info") = info;
}

}  // namespace pybp::bind
