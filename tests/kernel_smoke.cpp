// The compiled kernels checked from C++ alone, for builds whose Python module cannot be imported here: .ci/run
// cross-builds it for aarch64 (cmake -DPYBP_KERNEL_SMOKE=ON) and runs it under QEMU. Each kernel is compared with
// a plain formula evaluated in double on the same inputs; exits 1 and names every failed check.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

#include "cpu.hpp"
#include "kernels.hpp"
#include "threads.hpp"

namespace {

int g_checks = 0, g_failed = 0;

void check(bool ok, const char* what, const char* dtype, double got, double want) {
    ++g_checks;
    if (ok) return;
    ++g_failed;
    std::printf("FAILED %s (%s): got %.17g, want %.17g\n", what, dtype, got, want);
}

// Deterministic inputs in [-scale, scale) (64-bit LCG; no <random>: identical on every platform).
template <class T>
std::vector<T> inputs(std::size_t n, double scale, std::uint64_t seed) {
    std::vector<T> v(n);
    for (auto& x : v) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        x = T((double(seed >> 11) * 0x1.0p-53 * 2 - 1) * scale);
    }
    return v;
}

template <class T>
void check_gemm(const char* dt, std::size_t m, std::size_t n, std::size_t k, bool trans_a) {
    const auto a = inputs<T>(m * k, 1, 1 + m), b = inputs<T>(k * n, 1, 2 + n);
    const std::ptrdiff_t rsa = trans_a ? 1 : std::ptrdiff_t(k), csa = trans_a ? std::ptrdiff_t(m) : 1;
    std::vector<T> c(m * n, T(7)), want(m * n);
    pybp::gemm<T>(c.data(), n, a.data(), rsa, csa, b.data(), n, 1, m, n, k, T(1), T(0));
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double s = 0, sabs = 0;
            for (std::size_t p = 0; p < k; ++p) {
                const double t = double(a[i * rsa + p * csa]) * double(b[p * n + j]);
                s += t;
                sabs += std::fabs(t);
            }
            const double tol = 2.0 * double(k) * std::numeric_limits<T>::epsilon() * sabs;
            if (std::fabs(double(c[i * n + j]) - s) > tol) {
                check(false, trans_a ? "gemm A^T" : "gemm", dt, double(c[i * n + j]), s);
                return;
            }
        }
    check(true, "gemm", dt, 0, 0);
}

template <class T>
void check_elementwise_softmax_adam(const char* dt) {
    const double eps = std::numeric_limits<T>::epsilon();
    const std::size_t n = 1003;  // vector bodies and scalar tails
    const auto x = inputs<T>(n, 30, 3);
    std::vector<T> out(n);
    std::vector<unsigned char> mask(n);
    pybp::relu_forward<T>(out.data(), mask.data(), x.data(), n);
    bool relu_ok = true;
    for (std::size_t i = 0; i < n; ++i) relu_ok &= out[i] == (x[i] <= 0 ? T(0) : x[i]) && mask[i] == (x[i] <= 0);
    check(relu_ok, "relu_forward", dt, 0, 0);

    pybp::sigmoid_forward<T>(out.data(), x.data(), n);
    double worst = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double want = 1 / (1 + std::exp(-double(x[i])));
        worst = std::fmax(worst, std::fabs(double(out[i]) - want) / want);
    }
    check(worst <= 4 * eps, "sigmoid_forward rel. error", dt, worst, 4 * eps);

    const std::size_t rows = 37, cols = 10;
    const auto z = inputs<T>(rows * cols, 8, 4);
    std::vector<T> y(rows * cols), dx(rows * cols);
    std::vector<std::int64_t> t(rows);
    for (std::size_t r = 0; r < rows; ++r) t[r] = std::int64_t((r * 7) % cols);
    const double loss = pybp::softmax_xent_index<T>(y.data(), dx.data(), z.data(), t.data(), rows, cols);
    double want_loss = 0, worst_y = 0, worst_dx = 0;
    for (std::size_t r = 0; r < rows; ++r) {
        double mx = -INFINITY, s = 0;
        for (std::size_t j = 0; j < cols; ++j) mx = std::fmax(mx, double(z[r * cols + j]));
        for (std::size_t j = 0; j < cols; ++j) s += std::exp(double(z[r * cols + j]) - mx);
        want_loss += std::log(s) + mx - double(z[r * cols + std::size_t(t[r])]);
        for (std::size_t j = 0; j < cols; ++j) {
            const double p = std::exp(double(z[r * cols + j]) - mx) / s;
            const double g = (p - (std::size_t(t[r]) == j ? 1.0 : 0.0)) / double(rows);
            worst_y = std::fmax(worst_y, std::fabs(double(y[r * cols + j]) - p));
            worst_dx = std::fmax(worst_dx, std::fabs(double(dx[r * cols + j]) - g));
        }
    }
    want_loss /= double(rows);
    check(std::fabs(loss - want_loss) <= 16 * eps * std::fabs(want_loss), "softmax_xent_index loss", dt, loss,
          want_loss);
    check(worst_y <= 8 * eps, "softmax_xent_index y abs. error", dt, worst_y, 8 * eps);
    check(worst_dx <= 8 * eps / double(rows), "softmax_xent_index dx abs. error", dt, worst_dx, 8 * eps / rows);

    // Adam: the contract's operation order in T, so the result is exact.
    auto p = inputs<T>(n, 1, 5), mm = inputs<T>(n, 0.1, 6), v = inputs<T>(n, 0.1, 7);
    for (auto& e : v) e = e * e;
    const auto g = inputs<T>(n, 1, 8);
    auto p2 = p, m2 = mm, v2 = v;
    const T lr_t = T(1e-3), omb1 = T(0.1), omb2 = T(0.001), e7 = T(1e-7);
    pybp::adam_update<T>(p.data(), mm.data(), v.data(), g.data(), n, lr_t, omb1, omb2, e7);
    bool adam_ok = true;
    for (std::size_t i = 0; i < n; ++i) {
        m2[i] = m2[i] + omb1 * (g[i] - m2[i]);
        v2[i] = v2[i] + omb2 * (g[i] * g[i] - v2[i]);
        p2[i] = p2[i] - (lr_t * m2[i]) / (std::sqrt(v2[i]) + e7);
        adam_ok &= p[i] == p2[i] && mm[i] == m2[i] && v[i] == v2[i];
    }
    check(adam_ok, "adam_update (bit-exact)", dt, 0, 0);
}

template <class T>
void run_all(const char* dt) {
    for (bool ta : {false, true}) {
        check_gemm<T>(dt, 7, 13, 5, ta);
        check_gemm<T>(dt, 100, 50, 784, ta);
        check_gemm<T>(dt, 61, 300, 520, ta);
    }
    check_elementwise_softmax_adam<T>(dt);
}

}  // namespace

int main() {
    // Every ISA path this CPU runs (only generic off x86-64): the paths are ordered, each needs more than the last.
    for (int i = 0; i <= static_cast<int>(pybp::detect_isa()); ++i) {
        const pybp::Isa isa = static_cast<pybp::Isa>(i);
        pybp::set_isa(isa);
        const int before = g_failed;
        run_all<float>("float32");
        run_all<double>("float64");
        std::printf("kernel smoke, isa %s, %d thread(s): %d failed\n", pybp::isa_name(isa), pybp::get_num_threads(),
                    g_failed - before);
    }
    std::printf("kernel smoke: %d checks, %d failed\n", g_checks, g_failed);
    return g_failed == 0 ? 0 : 1;
}
