// The thread pool behind parallel_for (see threads.hpp for the design and why).
#include "threads.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define PYBP_HAVE_ATFORK 1
#endif
#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#include <immintrin.h>
#define PYBP_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__) && defined(__GNUC__)
#define PYBP_CPU_RELAX() __asm__ __volatile__("yield" ::: "memory")
#else
#define PYBP_CPU_RELAX() ((void)0)
#endif

namespace pybp {
namespace {

using Clock = std::chrono::steady_clock;

// The CPU the calling thread runs on, or -1 where unknown. Spinning on the CPU of the thread one waits for only
// delays it: a spinning worker would take the caller's time slice (TwoLayerNet's step loop 1.5x slower at load
// average 5), and a spinning caller the worker's.
inline int current_cpu() noexcept {
#if defined(__linux__)
    return sched_getcpu();
#else
    return -1;
#endif
}
inline bool same_cpu(int a, int b) noexcept { return a >= 0 && a == b; }

// How long an idle worker, and a caller waiting for the workers' last tasks, spin before blocking. A training step
// issues its parallel jobs tens of microseconds apart, so a worker that spins this long is still awake for the
// next one; longer spinning would take CPU time from other processes on a busy machine.
constexpr auto kWorkerSpin = std::chrono::microseconds(100);
constexpr auto kCallerSpin = std::chrono::microseconds(50);
// A job that had to wake workers is judged only when it is longer than this: a wake takes ~30 us here, and a short
// job after a serial phase (a ReLU after the first convolution) counted the wake as a failure, which made the next
// convolutions run serially (back-offs in 4-10% of a 2-thread DeepConvNet step's jobs; with this, 0-1%).
constexpr auto kWokenJudged = std::chrono::microseconds(200);
// After a job the workers barely helped with although they were awake (the OS ran something else on their CPUs),
// or one where the caller waited long for a worker's task (a worker preempted mid-task), the next jobs run serially
// for kBackoff << (failures - 1), at most kBackoff << kMaxBackoffShift; a job that goes well takes one failure
// back. On a busy machine pybp thus stays within a probe per ~0.1 s of single-threaded speed.
constexpr auto kBackoff = std::chrono::milliseconds(1);
constexpr int kMaxBackoffShift = 7;

// Job state in one 64-bit word, so that joining a job and claiming a task are single compare-and-swaps that fail
// once the job has moved on: generation (35 bits) | workers joined (9 bits) | next unclaimed task (20 bits).
constexpr int kTaskBits = 20, kJoinBits = 9;
constexpr std::uint64_t kTaskMask = (std::uint64_t(1) << kTaskBits) - 1;
constexpr std::uint64_t kJoinOne = std::uint64_t(1) << kTaskBits;
constexpr std::uint64_t kJoinMask = ((std::uint64_t(1) << kJoinBits) - 1) << kTaskBits;
constexpr int kGenShift = kTaskBits + kJoinBits;
static_assert(kMaxTasks == static_cast<std::ptrdiff_t>(kTaskMask), "task field width");
static_assert(kMaxThreads < (1 << kJoinBits), "join field width");

inline std::uint64_t gen_of(std::uint64_t s) { return s >> kGenShift; }
inline std::ptrdiff_t next_of(std::uint64_t s) { return static_cast<std::ptrdiff_t>(s & kTaskMask); }
inline int joined_of(std::uint64_t s) { return static_cast<int>((s & kJoinMask) >> kTaskBits); }

#if defined(__linux__)
class PlaceWorkers {
public:
    PlaceWorkers() noexcept {
        ok_ = sched_getaffinity(0, sizeof(allowed_), &allowed_) == 0 && CPU_COUNT(&allowed_) > 1;
    }
    // Called by worker i (< kMaxThreads) when it starts, and when it is about to block / has woken.
    void started(int i) noexcept { handle_[i] = pthread_self(); }
    void sleeping(int i, bool yes) noexcept {
        if (!ok_) return;
        if (yes) {
            asleep_[i].store(true, std::memory_order_release);
            return;
        }
        if (asleep_[i].exchange(false, std::memory_order_acq_rel) && moved_[i].exchange(false))
            pthread_setaffinity_np(pthread_self(), sizeof(allowed_), &allowed_);
    }
    // Before waking workers 0..n-1: those asleep may run anywhere but on `cpu` (the caller's). Best effort: a
    // refused call (the process's CPUs changed since) leaves the thread where the OS puts it.
    void keep_off(int cpu, int n) noexcept {
        if (!ok_ || cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed_)) return;
        cpu_set_t others = allowed_;
        CPU_CLR(cpu, &others);
        for (int i = 0; i < std::min(n, kMaxThreads); ++i)
            if (asleep_[i].load(std::memory_order_acquire) && !moved_[i].exchange(true))
                pthread_setaffinity_np(handle_[i], sizeof(others), &others);
    }

private:
    cpu_set_t allowed_{};
    bool ok_ = false;
    pthread_t handle_[kMaxThreads]{};
    std::atomic<bool> asleep_[kMaxThreads]{}, moved_[kMaxThreads]{};
};
#else
struct PlaceWorkers {
    void started(int) noexcept {}
    void sleeping(int, bool) noexcept {}
    void keep_off(int, int) noexcept {}
};
#endif

struct Pool {
    std::atomic<std::uint64_t> state{0};
    // The current job. Written by its caller before it publishes the job's generation in `state`; read by a
    // worker only after a successful join, when the job cannot finish (and these cannot change) before its tasks do.
    std::atomic<TaskFn> fn{nullptr};
    std::atomic<void*> ctx{nullptr};
    std::atomic<std::ptrdiff_t> ntasks{0};
    std::atomic<int> helpers{0};          // workers allowed to join
    std::atomic<std::ptrdiff_t> done{0};  // tasks finished
    std::atomic<bool> caller_blocked{false};
    std::atomic<int> caller_cpu{-1}, worker_cpu{-1};  // where the caller published the job, a worker last ran
    std::uint64_t gen = 0;                // last generation published (owner only)

    std::atomic<bool> owned{false};  // a caller is running a job
    Clock::time_point serial_until{};  // back-off (owner only)
    int failures = 0;
    std::atomic<long long> jobs_parallel{0}, jobs_backed_off{0}, backoffs{0};  // pool_stats()
    std::atomic<int> sleepers{0};
    // Where a woken worker may run (Linux). A VM reports its idle vCPUs as preempted, so the scheduler wakes a
    // sleeping worker on the caller's busy CPU; it then shares that CPU with the caller until the load balancer
    // moves one of them (ms), and the job runs at one-thread speed. The caller therefore keeps sleeping workers
    // off its CPU while it wakes them; a woken worker takes back every CPU the pool started with.
    PlaceWorkers place;
    std::mutex mu;  // workers block on cv for a new generation
    std::condition_variable cv;
    std::mutex done_mu;  // the caller blocks on done_cv for the last task
    std::condition_variable done_cv;

    std::mutex grow_mu;
    std::vector<std::thread> workers;
    std::atomic<int> nworkers{0};
    std::atomic<bool> refused{false};  // the OS refused a thread: kernels stop asking (set_num_threads retries)

    // Grows the pool to `want` workers; returns how many exist (fewer if the OS refuses threads).
    int grow(int want) noexcept;
    void worker_loop(int index) noexcept;
    // Claims the next task of generation g; -1 when none is left or the job has moved on.
    std::ptrdiff_t claim(std::uint64_t g, std::ptrdiff_t n) noexcept;
    void finish_one(std::ptrdiff_t n) noexcept;
};

thread_local bool tl_in_task = false;
thread_local int tl_slot = 0;  // pool_slot()

int default_threads() noexcept {
    for (const char* var : {"PYBP_NUM_THREADS", "OMP_NUM_THREADS"}) {
        const char* v = std::getenv(var);
        if (!v || !*v) continue;
        char* end = nullptr;
        const long n = std::strtol(v, &end, 10);  // OMP_NUM_THREADS may be a list ("4,2"): its first level counts
        if (end != v && n >= 1) return static_cast<int>(std::min<long>(n, kMaxThreads));
    }
    int n = 0;
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);  // taskset and cgroup cpusets
#endif
    if (n < 1) n = static_cast<int>(std::thread::hardware_concurrency());
    return std::clamp(n, 1, kMaxThreads);
}

std::atomic<int> g_threads{0};  // 0: not yet read from the environment
// The pool of this process. Never destroyed: workers block in it until the process ends, and a forked child
// drops its copy (the parent's workers do not exist there, its mutexes may be held) and builds a new one.
std::atomic<Pool*> g_pool{nullptr};
std::mutex g_pool_mu;

#if PYBP_HAVE_ATFORK
void after_fork_in_child() {
    g_pool.store(nullptr, std::memory_order_relaxed);  // the copy leaks: destroying it would touch dead threads
    new (&g_pool_mu) std::mutex();  // it may have been held by a parent thread at the fork
}
#endif

Pool* get_pool() noexcept {
    Pool* p = g_pool.load(std::memory_order_acquire);
    if (p) return p;
    std::lock_guard<std::mutex> lk(g_pool_mu);
    p = g_pool.load(std::memory_order_relaxed);
    if (!p) {
#if PYBP_HAVE_ATFORK
        static const bool registered = pthread_atfork(nullptr, nullptr, after_fork_in_child) == 0;
        (void)registered;
#endif
        p = new (std::nothrow) Pool();
        g_pool.store(p, std::memory_order_release);
    }
    return p;
}

int Pool::grow(int want) noexcept {
    const int have = nworkers.load(std::memory_order_acquire);
    if (have >= want || refused.load(std::memory_order_relaxed)) return std::min(have, want);
    std::lock_guard<std::mutex> lk(grow_mu);
    try {
        workers.reserve(static_cast<std::size_t>(want));
        while (static_cast<int>(workers.size()) < want) {
            const int index = static_cast<int>(workers.size());
            workers.emplace_back([this, index] { worker_loop(index); });
            nworkers.store(static_cast<int>(workers.size()), std::memory_order_release);
        }
    } catch (const std::exception&) {  // std::system_error (no more threads) or bad_alloc: keep what started
        refused.store(true, std::memory_order_relaxed);
    }
    return static_cast<int>(workers.size());
}

std::ptrdiff_t Pool::claim(std::uint64_t g, std::ptrdiff_t n) noexcept {
    std::uint64_t s = state.load(std::memory_order_relaxed);
    while (gen_of(s) == g && next_of(s) < n)
        if (state.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_relaxed))
            return next_of(s);
    return -1;
}

void Pool::finish_one(std::ptrdiff_t n) noexcept {
    if (done.fetch_add(1, std::memory_order_seq_cst) + 1 == n && caller_blocked.load(std::memory_order_seq_cst)) {
        std::lock_guard<std::mutex> lk(done_mu);
        done_cv.notify_one();
    }
}

void Pool::worker_loop(int index) noexcept {
    place.started(index);
    tl_slot = index + 1;
    tl_in_task = true;  // a kernel a task calls must not start a nested job
    std::uint64_t seen = gen_of(state.load(std::memory_order_acquire));
    for (;;) {
        std::uint64_t s = state.load(std::memory_order_acquire);
        if (gen_of(s) == seen && !same_cpu(current_cpu(), caller_cpu.load(std::memory_order_relaxed))) {
            const auto until = Clock::now() + kWorkerSpin;
            for (int i = 0; gen_of(s) == seen; ++i) {
                PYBP_CPU_RELAX();
                s = state.load(std::memory_order_acquire);
                // No sched_yield here: under EEVDF (Linux 6.6+) each yield pushes the thread's deadline a slice
                // later, and a worker that yielded through its spin then waited hundreds of ms for the CPU while
                // holding a task the caller needed (steps of 0.1-1.2 s in bench_contention.py's busy runs).
                if ((i & 63) == 63 && Clock::now() > until) break;
            }
        }
        if (gen_of(s) == seen) {
            place.sleeping(index, true);
            sleepers.fetch_add(1, std::memory_order_seq_cst);
            {
                std::unique_lock<std::mutex> lk(mu);
                cv.wait(lk, [&] { return gen_of(s = state.load(std::memory_order_seq_cst)) != seen; });
            }
            sleepers.fetch_sub(1, std::memory_order_relaxed);
            place.sleeping(index, false);
        }
        seen = gen_of(s);
        // Join if the job still has unclaimed tasks and room for a helper.
        const std::ptrdiff_t n = ntasks.load(std::memory_order_relaxed);
        const int max_helpers = helpers.load(std::memory_order_relaxed);
        bool joined = false;
        while (!joined && gen_of(s) == seen && next_of(s) < n && joined_of(s) < max_helpers)
            joined = state.compare_exchange_weak(s, s + kJoinOne, std::memory_order_acq_rel, std::memory_order_acquire);
        if (!joined) continue;
        const TaskFn f = fn.load(std::memory_order_relaxed);
        void* c = ctx.load(std::memory_order_relaxed);
        for (std::ptrdiff_t t; (t = claim(seen, n)) >= 0;) {
            f(c, t);
            finish_one(n);
        }
        worker_cpu.store(current_cpu(), std::memory_order_relaxed);
    }
}

void run_serial(std::ptrdiff_t ntasks, TaskFn fn, void* ctx) {
    for (std::ptrdiff_t t = 0; t < ntasks; ++t) fn(ctx, t);
}

}  // namespace

int get_num_threads() noexcept {
    int n = g_threads.load(std::memory_order_relaxed);
    if (n == 0) {
        int expected = 0;
        g_threads.compare_exchange_strong(expected, default_threads(), std::memory_order_relaxed);
        n = g_threads.load(std::memory_order_relaxed);
    }
    return n;
}

int set_num_threads(int n) noexcept {
    n = std::clamp(n, 1, kMaxThreads);
    if (n > 1) {
        Pool* p = get_pool();
        if (p) p->refused.store(false, std::memory_order_relaxed);
        n = p ? std::min(n, p->grow(n - 1) + 1) : 1;
    }
    g_threads.store(n, std::memory_order_relaxed);
    return n;
}

PoolStats pool_stats() noexcept {
    Pool* p = g_pool.load(std::memory_order_acquire);
    if (!p) return {};
    return {p->jobs_parallel.load(std::memory_order_relaxed), p->jobs_backed_off.load(std::memory_order_relaxed),
            p->backoffs.load(std::memory_order_relaxed)};
}

int pool_slot() noexcept { return tl_slot; }

int pool_workers() noexcept {
    Pool* p = g_pool.load(std::memory_order_acquire);
    return p ? p->nworkers.load(std::memory_order_relaxed) : 0;
}

void parallel_for_raw(std::ptrdiff_t ntasks, int threads, TaskFn fn, void* ctx) noexcept {
    if (ntasks <= 0) return;
    threads = static_cast<int>(std::min<std::ptrdiff_t>({threads, get_num_threads(), ntasks}));
    Pool* p = threads > 1 && ntasks <= kMaxTasks && !tl_in_task ? get_pool() : nullptr;
    bool expected = false;
    if (!p || !p->owned.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
        run_serial(ntasks, fn, ctx);  // one job at a time: a second calling thread runs its own tasks
        return;
    }
    const auto t0 = Clock::now();
    const bool backing_off = t0 < p->serial_until;
    const int helpers = backing_off ? 0 : std::min(threads - 1, p->grow(threads - 1));
    if (helpers < 1) {
        if (backing_off) p->jobs_backed_off.fetch_add(1, std::memory_order_relaxed);
        p->owned.store(false, std::memory_order_release);
        run_serial(ntasks, fn, ctx);
        return;
    }
    p->fn.store(fn, std::memory_order_relaxed);
    p->ctx.store(ctx, std::memory_order_relaxed);
    p->ntasks.store(ntasks, std::memory_order_relaxed);
    p->helpers.store(helpers, std::memory_order_relaxed);
    p->done.store(0, std::memory_order_relaxed);
    p->caller_blocked.store(false, std::memory_order_relaxed);
    const int my_cpu = current_cpu();
    p->caller_cpu.store(my_cpu, std::memory_order_relaxed);
    const std::uint64_t g = ++p->gen & ((std::uint64_t(1) << (64 - kGenShift)) - 1);
    p->state.store(g << kGenShift, std::memory_order_seq_cst);
    const int asleep = p->sleepers.load(std::memory_order_seq_cst);
    if (asleep > 0) {
        p->place.keep_off(my_cpu, p->nworkers.load(std::memory_order_relaxed));
        { std::lock_guard<std::mutex> lk(p->mu); }  // a worker between its check and its wait sees the new state
        if (helpers >= asleep)
            p->cv.notify_all();
        else
            for (int i = 0; i < helpers; ++i) p->cv.notify_one();
    }
    // The caller works too, and never waits for a task nobody has claimed.
    tl_in_task = true;
    std::ptrdiff_t mine = 0;
    for (std::ptrdiff_t t; (t = p->claim(g, ntasks)) >= 0; ++mine) fn(ctx, t);
    tl_in_task = false;
    const auto t1 = Clock::now();
    if (p->done.fetch_add(mine, std::memory_order_seq_cst) + mine != ntasks) {
        const auto until = same_cpu(my_cpu, p->worker_cpu.load(std::memory_order_relaxed)) ? t1 : t1 + kCallerSpin;
        for (int i = 0; p->done.load(std::memory_order_acquire) != ntasks; ++i) {
            PYBP_CPU_RELAX();
            if ((i & 63) == 63 && Clock::now() > until) {
                p->caller_blocked.store(true, std::memory_order_seq_cst);
                std::unique_lock<std::mutex> lk(p->done_mu);
                p->done_cv.wait(lk, [&] { return p->done.load(std::memory_order_seq_cst) == ntasks; });
                break;
            }
        }
    }
    // Close the job before its fields are reused: a worker that read this generation's state before, and the next
    // job's fields after, cannot join or claim (its compare-and-swap expects the old word).
    p->state.store((g << kGenShift) | kTaskMask, std::memory_order_release);
    // Did the workers help? Judged over jobs long enough for an awake worker to join (it checks every few hundred
    // nanoseconds): helpers that took less than a quarter of the tasks were not running (their CPUs ran other
    // programs, or waking them took longer than the job: then waking them only cost time). A long wait for a
    // worker's task (preempted while holding it) counts always.
    // Failures add up and a good job takes one back, so on a busy machine the back-off stays long even when
    // some probes go well.
    const auto t2 = Clock::now();
    const std::ptrdiff_t helped = ntasks - mine;
    const bool judged = t1 - t0 > (asleep > 0 ? kWokenJudged : kCallerSpin);
    const bool stalled = mine > 0 && t2 - t1 > 2 * (t1 - t0) / mine + kCallerSpin;
    p->jobs_parallel.fetch_add(1, std::memory_order_relaxed);
    if (stalled || (judged && helped * 4 < ntasks)) {
        p->backoffs.fetch_add(1, std::memory_order_relaxed);
        p->failures = std::min(p->failures + 1, kMaxBackoffShift + 1);
        p->serial_until = t2 + kBackoff * (1 << (p->failures - 1));
    } else if (judged && p->failures > 0) {
        --p->failures;
    }
    p->owned.store(false, std::memory_order_release);
}

}  // namespace pybp
