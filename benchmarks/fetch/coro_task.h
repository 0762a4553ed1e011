// SPDX-License-Identifier: MIT
// A small lazy coroutine task and gather(): enough to write a fetch the way asyncio code reads.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

namespace concbench::fetch::coro {

namespace detail {

struct PromiseBase {
  // Where to go when the task ends: the coroutine awaiting it, or nowhere for a root task.
  std::coroutine_handle<> continuation = std::noop_coroutine();
  std::exception_ptr error;

  // Lazy: a task runs only once awaited (or started), so whoever awaits it is known before it
  // can finish.
  std::suspend_always initial_suspend() noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    // Symmetric transfer: the awaiting coroutine resumes as a tail call, so a chain of
    // finished tasks never grows the stack.
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> self) noexcept {
      return self.promise().continuation;
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }
  void rethrow_if_failed() const {
    if (error) std::rethrow_exception(error);
  }
};

template <typename T>
struct Promise : PromiseBase {
  std::optional<T> value;
  void return_value(T v) { value = std::move(v); }
  T result() {
    rethrow_if_failed();
    return std::move(*value);
  }
};

template <>
struct Promise<void> : PromiseBase {
  void return_void() noexcept {}
  void result() const { rethrow_if_failed(); }
};

}  // namespace detail

// A coroutine that produces a T. Owns its frame; `co_await task` runs it and yields its result
// (or rethrows its exception).
template <typename T = void>
class [[nodiscard]] Task {
 public:
  struct promise_type : detail::Promise<T> {
    Task get_return_object() {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
  };
  using Handle = std::coroutine_handle<promise_type>;

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

  auto operator co_await() noexcept {
    struct Awaiter {
      Handle task;
      bool await_ready() noexcept { return task.done(); }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) noexcept {
        task.promise().continuation = caller;
        return task;
      }
      T await_resume() { return task.promise().result(); }
    };
    return Awaiter{handle_};
  }

  // For a root task, which nothing awaits: runs it until its first suspension.
  void start() { handle_.resume(); }
  bool done() const { return handle_.done(); }
  T result() { return handle_.promise().result(); }

 private:
  explicit Task(Handle handle) : handle_(handle) {}
  Handle handle_;
};

namespace detail {

// A fire-and-forget coroutine: starts at once and frees its own frame when it ends.
struct Detached {
  struct promise_type {
    Detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }  // run_child catches everything
  };
};

struct GatherState {
  size_t remaining = 0;
  std::coroutine_handle<> parent;
  std::exception_ptr error;
};

inline Detached run_child(Task<void> task, GatherState& state) {
  try {
    co_await task;
  } catch (...) {
    if (!state.error) state.error = std::current_exception();
  }
  // The last child to end resumes gather(); nothing here touches `state` after that.
  if (--state.remaining == 0) state.parent.resume();
}

struct GatherAwaiter {
  std::vector<Task<void>>& tasks;
  GatherState& state;
  bool await_ready() const noexcept { return tasks.empty(); }
  bool await_suspend(std::coroutine_handle<> parent) {
    state.parent = parent;
    // One extra count held while starting, so a child that ends at once cannot resume the
    // parent before it has suspended.
    state.remaining = tasks.size() + 1;
    for (Task<void>& t : tasks) run_child(std::move(t), state);
    return --state.remaining != 0;  // false: all ended already, carry on without suspending
  }
  void await_resume() const noexcept {}
};

}  // namespace detail

// asyncio.gather: starts every task now (each runs to its first suspension) and ends when all
// have ended; rethrows the first exception any of them threw.
inline Task<void> gather(std::vector<Task<void>> tasks) {
  detail::GatherState state;
  co_await detail::GatherAwaiter{tasks, state};
  if (state.error) std::rethrow_exception(state.error);
}

}  // namespace concbench::fetch::coro
