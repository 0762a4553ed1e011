// SPDX-License-Identifier: MIT
// fetch/coro: C++20 coroutines over the multi_socket loop, `co_await session.get(request)`.
#include <coroutine>
#include <deque>
#include <stdexcept>
#include <vector>

#include "fetch/coro_task.h"
#include "fetch/model.h"
#include "fetch/socket_loop.h"

namespace concbench::fetch {
namespace {

using coro::Task;

// The aiohttp.ClientSession analogue: transfers run on a SocketLoop, at most `limit` at once
// (aiohttp's connector limit), easy handles reused. A request that finds every handle busy
// waits in FIFO order, so requests start in the order they were asked for.
class Session {
 public:
  class Get;
  class Arrival;

  Session(SocketLoop& loop, std::span<const std::unique_ptr<Transfer>> transfers) : loop_(loop) {
    for (auto it = transfers.rbegin(); it != transfers.rend(); ++it) idle_.push_back(it->get());
  }

  // `co_await session.get(request)` suspends until the request has been answered (or failed)
  // and yields its Outcome.
  Get get(const Request& request);
  // `co_await session.arrival(request)` suspends until an open-loop request arrives (at once
  // for a closed-loop one): asyncio.sleep on the loop's timer.
  Arrival arrival(const Request& request);

 private:
  // A handle just freed goes straight to the longest waiter.
  void release(Transfer& t);

  SocketLoop& loop_;
  std::vector<Transfer*> idle_;
  std::deque<Get*> waiting_;
};

class Session::Get : private Completion {
 public:
  Get(Session& session, const Request& request) : session_(session), request_(request) {}

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> caller) {
    caller_ = caller;
    if (session_.idle_.empty()) {
      session_.waiting_.push_back(this);
      return;
    }
    Transfer* t = session_.idle_.back();
    session_.idle_.pop_back();
    launch(*t);
  }
  Outcome await_resume() const noexcept { return outcome_; }

 private:
  friend class Session;

  void launch(Transfer& t) {
    t.begin(request_, outcome_);
    session_.loop_.start(t, *this);
  }

  // Runs inside SocketLoop::run, outside any libcurl callback, so the resumed coroutine may
  // start its next request right away. Nothing touches *this after resume(): the awaiter
  // lives in the coroutine's frame, which may be gone by then.
  void transfer_done(Transfer& t) override {
    session_.release(t);
    caller_.resume();
  }

  Session& session_;
  const Request& request_;
  Outcome outcome_;
  std::coroutine_handle<> caller_;
};

class Session::Arrival : private Wakeup {
 public:
  Arrival(Session& session, const Request& request) : loop_(session.loop_), request_(request) {}

  bool await_ready() const {
    return request_.not_before <= 0 || loop_.expired() || steady_time(request_.not_before) <= Clock::now();
  }
  void await_suspend(std::coroutine_handle<> caller) {
    caller_ = caller;
    loop_.at(steady_time(request_.not_before), *this);
  }
  void await_resume() const noexcept {}

 private:
  void wake() override { caller_.resume(); }

  SocketLoop& loop_;
  const Request& request_;
  std::coroutine_handle<> caller_;
};

Session::Get Session::get(const Request& request) { return Get(*this, request); }
Session::Arrival Session::arrival(const Request& request) { return Arrival(*this, request); }

void Session::release(Transfer& t) {
  if (waiting_.empty()) {
    idle_.push_back(&t);
    return;
  }
  Get* next = waiting_.front();
  waiting_.pop_front();
  next->launch(t);
}

// The seed's asyncio code, statement for statement:
//   async def fetch(session, url):
//       async with session.get(url) as response: return await response.read()
//   results = await asyncio.gather(*(fetch(session, url) for url in urls))
// (An open-loop request first waits for its arrival, as `await asyncio.sleep(...)` would.)
Task<> fetch(Session& session, const Request& request, Outcome& result) {
  co_await session.arrival(request);
  result = co_await session.get(request);
}

Task<> fetch_all(Session& session, std::span<const Request> requests, std::span<Outcome> results) {
  std::vector<Task<>> tasks;
  tasks.reserve(requests.size());
  for (size_t i = 0; i < requests.size(); ++i)
    tasks.push_back(fetch(session, requests[i], results[i]));
  co_await coro::gather(std::move(tasks));
}

class Coro final : public Model {
 public:
  explicit Coro(const ModelConfig& config) : client_(config.client), loop_(config.concurrency) {
    for (int i = 0; i < config.concurrency; ++i)
      transfers_.push_back(std::make_unique<Transfer>(config.client));
  }

  // Like asyncio.gather, every request's coroutine exists from the start (the waiting ones
  // hold a small frame each); at most C of them have a transfer in flight.
  void run(std::span<const Request> requests, std::span<Outcome> outcomes) override {
    loop_.reset();
    Session session(loop_, transfers_);
    Task<> all = fetch_all(session, requests, outcomes);
    all.start();
    const bool in_time =
        loop_.run(run_deadline(requests, static_cast<int>(transfers_.size()), client_));
    if (!all.done())
      throw std::runtime_error("coroutines still waiting after the event loop went idle");
    all.result();
    if (!in_time) throw std::runtime_error("the event loop passed the run's deadline");
  }

 private:
  ClientOptions client_;
  std::vector<std::unique_ptr<Transfer>> transfers_;
  SocketLoop loop_;  // after the transfers: destroyed before them, so it can unregister them
};

}  // namespace

std::unique_ptr<Model> make_coro(const ModelConfig& config) {
  return std::make_unique<Coro>(config);
}

}  // namespace concbench::fetch
