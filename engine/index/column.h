// File: column.h
//
// Column<T> is one column of a FirmStore: either owned (a std::vector, while a store is built or
// when a snapshot's column had to be converted) or a read-only view into a mapped snapshot file,
// kept alive by a shared handle — so a loaded snapshot is used in place, without copying its
// columns. Reads go through the const interface (data/size/[]/begin/end); the mutating
// interface of std::vector first turns a view into an owned copy (the build path only ever
// mutates owned columns).
#ifndef POLMATCH_INDEX_COLUMN_H_
#define POLMATCH_INDEX_COLUMN_H_

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "absl/types/span.h"

namespace polmatch {

template <typename T>
class Column {
 public:
  Column() = default;
  Column(std::vector<T> v) : own_(std::move(v)) {}  // NOLINT: a vector is a column
  // A moved-from column is empty (not a view of memory it no longer keeps alive).
  Column(Column&& o) noexcept
      : own_(std::move(o.own_)), view_(std::exchange(o.view_, nullptr)), n_(std::exchange(o.n_, 0)),
        keep_(std::move(o.keep_)) {}
  Column& operator=(Column&& o) noexcept {
    own_ = std::move(o.own_);
    view_ = std::exchange(o.view_, nullptr);
    n_ = std::exchange(o.n_, 0);
    keep_ = std::move(o.keep_);
    return *this;
  }
  Column(const Column&) = delete;
  Column& operator=(const Column&) = delete;
  Column& operator=(std::vector<T> v) {
    own_ = std::move(v);
    view_ = nullptr;
    n_ = 0;
    keep_.reset();
    return *this;
  }

  // Makes the column a view of `n` values at `p`, valid while `keep` is held.
  void SetView(const T* p, size_t n, std::shared_ptr<const void> keep) {
    std::vector<T>().swap(own_);
    view_ = p;
    n_ = n;
    keep_ = std::move(keep);
  }
  bool is_view() const { return view_ != nullptr; }

  // Reading.
  const T* data() const { return view_ != nullptr ? view_ : own_.data(); }
  size_t size() const { return view_ != nullptr ? n_ : own_.size(); }
  bool empty() const { return size() == 0; }
  const T& operator[](size_t i) const { return data()[i]; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size(); }
  const T& front() const { return data()[0]; }
  const T& back() const { return data()[size() - 1]; }
  absl::Span<const T> span() const { return absl::Span<const T>(data(), size()); }

  // Writing (owned columns; a view is copied first).
  std::vector<T>& vec() {
    if (view_ != nullptr) {
      own_.assign(view_, view_ + n_);
      view_ = nullptr;
      n_ = 0;
      keep_.reset();
    }
    return own_;
  }
  T* data() { return vec().data(); }
  T& operator[](size_t i) { return vec()[i]; }
  typename std::vector<T>::iterator begin() { return vec().begin(); }
  typename std::vector<T>::iterator end() { return vec().end(); }
  T& back() { return vec().back(); }
  void push_back(const T& v) { vec().push_back(v); }
  void resize(size_t n) { vec().resize(n); }
  void resize(size_t n, const T& v) { vec().resize(n, v); }
  void reserve(size_t n) { vec().reserve(n); }
  void clear() { vec().clear(); }
  template <typename... Args>
  void assign(Args&&... args) {
    vec().assign(std::forward<Args>(args)...);
  }
  template <typename... Args>
  auto insert(Args&&... args) {
    return vec().insert(std::forward<Args>(args)...);
  }

 private:
  std::vector<T> own_;
  const T* view_ = nullptr;
  size_t n_ = 0;
  std::shared_ptr<const void> keep_;
};

}  // namespace polmatch

#endif  // POLMATCH_INDEX_COLUMN_H_
