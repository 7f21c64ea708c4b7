// Result<T, E>: a value or a typed error, the decode path's return type (no exceptions).
#pragma once

#include <cstdlib>
#include <type_traits>
#include <utility>
#include <variant>

namespace nva::bgp {

// Wraps an error so that Result<T, E> stays unambiguous when T and E could
// convert into each other.
template <class E>
struct Unexpected {
  E error;
};

template <class E>
Unexpected<std::decay_t<E>> unexpected(E&& e) {
  return {std::forward<E>(e)};
}

// A small std::expected (C++23) stand-in. Reading the value of an error (or
// the error of a value) is a programming error and aborts; nothing on the
// wire can cause it.
template <class T, class E>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Unexpected<E> e) : v_(std::in_place_index<1>, std::move(e.error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    if (!ok()) std::abort();
    return *std::get_if<0>(&v_);
  }
  const T& value() const& {
    if (!ok()) std::abort();
    return *std::get_if<0>(&v_);
  }
  T&& value() && {
    if (!ok()) std::abort();
    return std::move(*std::get_if<0>(&v_));
  }
  const E& error() const {
    if (ok()) std::abort();
    return *std::get_if<1>(&v_);
  }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, E> v_;
};

}  // namespace nva::bgp
