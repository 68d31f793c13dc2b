// from_line: split a loop over [0, n) at the first 64-byte boundary of the array it writes. NumPy's large arrays
// start 16 bytes into a page, and a 64-byte vector there straddles two cache lines on every load and store; after
// the peel the store is line-aligned, and so are the loads of arrays at the same offset (the usual case: arrays
// allocated alike). Measured gains are where it is used (elementwise.cpp, bind_optim.cpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace pybp {

// f(i0, i1) over [0, n) in at most two calls: the elements before dst reaches a 64-byte boundary, then the rest.
// f should call a loop of its own (a function taking pointers and a count): loops written inside lambdas did not
// vectorise (elementwise.cpp).
template <class T, class F>
void from_line(const T* dst, std::size_t n, F&& f) {
    const std::size_t mis = std::size_t(reinterpret_cast<std::uintptr_t>(dst) % 64);
    const std::size_t head = mis == 0 || mis % sizeof(T) ? 0 : std::min(n, (64 - mis) / sizeof(T));
    if (head) f(std::size_t(0), head);
    f(head, n);
}

}  // namespace pybp
