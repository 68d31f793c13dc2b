// pybp's own thread pool: the only place kernels get threads from. No pybind11 here.
//
// Why not OpenMP: its parallel region ends in a barrier that waits for every team member, so on a busy machine
// each region waits for a worker the OS has not scheduled yet (a time slice, ~3 ms, per region); its thread count
// is per calling thread; a child made by fork() hangs in the parent's team; and a failed thread creation exits the
// process. Here:
// - parallel_for's tasks are claimed one at a time from a shared counter, by the caller as well as the workers: a
//   worker that has not started yet claims nothing and costs nothing, and the caller only ever waits for tasks a
//   running worker has claimed;
// - idle workers spin briefly (a job often follows another within microseconds), then block;
// - the thread count is one atomic for the whole process; a forked child starts a fresh pool when it needs one;
// - a thread the OS refuses to create means fewer threads (set_num_threads reports it), never an exit.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <memory>
#include <new>

namespace pybp {

// The largest thread count set_num_threads accepts.
constexpr int kMaxThreads = 256;
// parallel_for runs jobs of more tasks than this serially (the task index shares a word with the job's state).
constexpr std::ptrdiff_t kMaxTasks = (std::ptrdiff_t(1) << 20) - 1;

// Threads kernels may use (the caller included). Default: the CPUs this process may run on, or OMP_NUM_THREADS
// / PYBP_NUM_THREADS when set (Dask and other process pools set OMP_NUM_THREADS=1 in their workers).
int get_num_threads() noexcept;
// Sets the process-wide thread count, 1 <= n <= kMaxThreads (the caller checks), and starts missing workers now.
// Returns the count now in effect: n, or fewer when the OS refused to create more threads.
int set_num_threads(int n) noexcept;

using TaskFn = void (*)(void* ctx, std::ptrdiff_t task);
// Runs fn(ctx, t) for every t in [0, ntasks) on at most `threads` threads (the caller is one of them) and returns
// when all are done. Tasks run in no particular order and must not throw. Serial when threads <= 1, when another
// thread is using the pool, inside a task, or when ntasks > kMaxTasks.
void parallel_for_raw(std::ptrdiff_t ntasks, int threads, TaskFn fn, void* ctx) noexcept;

template <class F>
void parallel_for(std::ptrdiff_t ntasks, int threads, F& f) noexcept {
    parallel_for_raw(ntasks, threads, [](void* c, std::ptrdiff_t t) { (*static_cast<F*>(c))(t); }, &f);
}

// This thread's place in the pool: 0 for any thread that is not a worker (the caller), 1 + k for worker k.
int pool_slot() noexcept;

// Calls body(task, item) for every item in [0, items) on `threads` tasks (0 <= task < threads). Each thread begins
// with its own contiguous share (the caller the first, worker k the (k+1)-th), then takes what is left of the
// others' shares, one item at a time: consecutive kernels split a batch alike, so a thread mostly reads what it
// wrote itself (in its own L2), and a late or preempted worker still leaves its share to the others. With one
// thread everything runs here, as task 0 outside any job: a body may then use the pool itself (the GEMM on a
// single large image) and its exceptions reach the caller (tasks of a job must not throw).
template <class F>
void for_items_home(std::ptrdiff_t items, int threads, F&& body) {
    struct alignas(64) Share {
        std::atomic<std::ptrdiff_t> next{0};
        std::ptrdiff_t end = 0;
    };
    const std::unique_ptr<Share[]> shares(threads > 1 ? new (std::nothrow) Share[std::size_t(threads)] : nullptr);
    if (!shares) {  // one thread, or no memory for the shares
        for (std::ptrdiff_t i = 0; i < items; ++i) body(std::ptrdiff_t(0), i);
        return;
    }
    for (int s = 0; s < threads; ++s) {
        shares[s].next.store(items * s / threads, std::memory_order_relaxed);
        shares[s].end = items * (s + 1) / threads;
    }
    auto task = [&](std::ptrdiff_t t) {
        const int home = pool_slot() % threads;
        for (int k = 0; k < threads; ++k) {
            Share& sh = shares[(home + k) % threads];
            for (std::ptrdiff_t i; (i = sh.next.fetch_add(1, std::memory_order_relaxed)) < sh.end;) body(t, i);
        }
    };
    parallel_for(threads, threads, task);
}

// Memory-bound kernels: input and output elements per thread below which a call stays on one thread (waking a
// worker costs more than it saves).
constexpr std::ptrdiff_t kElemsPerThread = std::ptrdiff_t(1) << 17;

// Runs body(i0, i1) over the items [0, items) in contiguous ranges, on several threads when the call moves
// `elems` elements (all items' input and output) enough to pay for waking them. More ranges than threads, taken
// as for_items_home does, so a preempted worker leaves most of its share to the others. When each item is
// computed alone, by the same code whichever range holds it, the results do not depend on the thread count.
template <class F>
void for_ranges(std::ptrdiff_t items, std::ptrdiff_t elems, F&& body) noexcept {
    const std::ptrdiff_t most = std::max<std::ptrdiff_t>(1, elems / kElemsPerThread);
    const int threads = static_cast<int>(std::min<std::ptrdiff_t>({get_num_threads(), items, most}));
    if (threads <= 1) {
        body(std::ptrdiff_t(0), items);
        return;
    }
    const std::ptrdiff_t ranges = std::min<std::ptrdiff_t>(items, 4 * std::ptrdiff_t(threads));
    for_items_home(ranges, threads, [&](std::ptrdiff_t, std::ptrdiff_t r) {
        body(items * r / ranges, items * (r + 1) / ranges);
    });
}

// Workers started so far in this process (for tests and pybp info).
int pool_workers() noexcept;
// Since the pool started: jobs run on several threads, jobs run serially because of a back-off, back-offs begun.
struct PoolStats {
    long long parallel = 0, backed_off = 0, backoffs = 0;
};
PoolStats pool_stats() noexcept;

}  // namespace pybp
