// A coroutine that produces one value and may wait without holding a thread: what a request
// handler returns when it runs a command (the log makes the command durable meanwhile).
//
// Lazy: it starts when awaited (by another Task) or handed to start(), and it resumes its
// awaiter when it finishes, on whatever thread it finished on. Exceptions travel to the
// awaiter. Handlers that never wait stay plain functions; only what awaits is a Task.
#pragma once

#include <atomic>
#include <coroutine>
#include <exception>
#include <functional>
#include <optional>
#include <utility>

#include "frame_pool.hpp"

namespace keyledger::api {

template <class T>
class [[nodiscard]] Task {
 public:
  struct promise_type : frame_pool::Pooled {
    std::optional<T> value;
    std::exception_ptr error;
    std::coroutine_handle<> awaiter;

    Task get_return_object() { return Task(std::coroutine_handle<promise_type>::from_promise(*this)); }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct FinalAwaiter {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> self) noexcept {
        auto next = self.promise().awaiter;
        return next ? next : std::noop_coroutine();
      }
      void await_resume() noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }
    template <class U>
    void return_value(U&& v) {
      value.emplace(std::forward<U>(v));
    }
    void unhandled_exception() { error = std::current_exception(); }
  };

  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (handle_) handle_.destroy();
  }

  // Awaiting starts the task (symmetric transfer: no stack growth along a chain).
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    handle_.promise().awaiter = awaiter;
    return handle_;
  }
  T await_resume() {
    auto& promise = handle_.promise();
    if (promise.error) std::rethrow_exception(promise.error);
    return std::move(*promise.value);
  }

 private:
  explicit Task(std::coroutine_handle<promise_type> handle) : handle_(handle) {}
  std::coroutine_handle<promise_type> handle_;
};

// Awaits an operation that answers by callback: `start` gets the callback, which must be
// called exactly once, on any thread (the awaiter resumes there: hand it to an executor
// first where that matters), or within `start` itself (then the awaiter never suspends).
// Await it named, not as a temporary (see problem.hpp).
template <class T>
class Completion {
 public:
  using Callback = std::move_only_function<void(T)>;
  explicit Completion(std::move_only_function<void(Callback)> start) : start_(std::move(start)) {}
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;

  bool await_ready() const noexcept { return false; }
  // Whichever comes second, the answer or the end of await_suspend, goes on.
  bool await_suspend(std::coroutine_handle<> awaiter) {
    awaiter_ = awaiter;
    start_([this](T value) {
      value_.emplace(std::move(value));
      if (second_.exchange(true, std::memory_order_acq_rel)) awaiter_.resume();
    });
    return !second_.exchange(true, std::memory_order_acq_rel);
  }
  T await_resume() { return std::move(*value_); }

 private:
  std::move_only_function<void(Callback)> start_;
  std::optional<T> value_;
  std::coroutine_handle<> awaiter_;
  std::atomic<bool> second_{false};
};

namespace detail {
// A coroutine nobody awaits: it owns itself and is gone when it finishes.
struct Detached {
  struct promise_type : frame_pool::Pooled {
    Detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};
}  // namespace detail

// Runs `task` to its end and passes its value to `done`, on the
// thread the task finishes on: the caller's if it never waits. Neither may throw (a handler
// answers every exception itself, see Application).
template <class T, class Done>
detail::Detached start_detached(Task<T> task, Done done) {
  T value = co_await task;  // no temporary in the co_await expression (see problem.hpp)
  done(std::move(value));
}

}  // namespace keyledger::api
