// SPDX-License-Identifier: MIT
// The event loop behind multi_socket and coro: curl_multi_socket_action driven by epoll.
#include "fetch/socket_loop.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace concbench::fetch {
namespace {

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

constexpr int kMaxEvents = 256;

}  // namespace

SocketLoop::SocketLoop(int connections, int handles) {
  if (handles < 1 || handles > connections) throw std::invalid_argument("SocketLoop: 1 <= handles <= connections");
  // CLOEXEC: the fixture server, started by fork+exec, must never inherit it.
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) fail("epoll_create1");
  handles_.reserve(static_cast<size_t>(handles));  // no push_back throws with a multi in hand
  try {
    for (int k = 0; k < handles; ++k) {
      auto h = std::make_unique<Handle>(Handle{this, static_cast<uint32_t>(k), nullptr, std::nullopt, false});
      // Transfers are pinned round-robin, so handle k holds this many of them.
      h->multi = new_multi(even_share(connections, handles, k));
      curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, &SocketLoop::on_socket);
      curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h.get());
      curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, &SocketLoop::on_timer);
      curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h.get());
      handles_.push_back(std::move(h));
    }
  } catch (...) {
    for (auto& h : handles_) curl_multi_cleanup(h->multi);
    close(epoll_);
    throw;
  }
}

SocketLoop::~SocketLoop() {
  // Handles still registered (only after an exception) are taken out before the multi goes.
  for (Transfer* t : active_) curl_multi_remove_handle(home(*t).multi, t->easy());
  for (auto& h : handles_) curl_multi_cleanup(h->multi);  // closes the cached connections
  close(epoll_);
  // The transfers outlive the loop (their owners declare them first): no callback of theirs
  // may point at it.
  for (auto& [t, h] : home_) {
    curl_easy_setopt(t->easy(), CURLOPT_OPENSOCKETFUNCTION, nullptr);
    curl_easy_setopt(t->easy(), CURLOPT_CLOSESOCKETFUNCTION, nullptr);
  }
}

SocketLoop::Watch& SocketLoop::watch(curl_socket_t s) {
  const auto i = static_cast<size_t>(s);
  if (i >= watch_.size()) watch_.resize(std::max(i + 1, 2 * watch_.size()));
  return watch_[i];
}

// libcurl tells a kept connection's socket REMOVE when its transfer ends and IN again when the
// next transfer reuses it. Taking it out of the epoll set and putting it back cost two
// epoll_ctl calls a request, a third of the loop's system calls (perf stat at C = 1000).
// So a socket stays registered while libcurl does not watch it: run() drops its events (and
// takes it out then, should the server close it), and on_close takes it out before libcurl
// closes it. Not every socket is closed through on_close (libcurl 7.88 closes one whose
// connect never completed with a plain close), so on_open forgets whatever the table says of
// a descriptor number that comes back: a new socket is in no epoll set. Any other socket is
// forgotten at its REMOVE: one libcurl made elsewhere (its threaded resolver's socketpair,
// closed with a plain close once the name is resolved), and one of ours that was not reading.
// Kept, the table said {IN, handle} of a number the next lookup's socketpair gets, whose ADD
// was then skipped, and the lookup's end never seen.
int SocketLoop::on_socket(CURL*, curl_socket_t s, int what, void* handle, void*) {
  auto* h = static_cast<Handle*>(handle);
  Watch& w = h->loop->watch(s);
  if (what == CURL_POLL_REMOVE) {
    // A kept connection's transfer ends reading its answer. One that was not reading (a connect
    // that never completed, which libcurl closes with a plain close too) is not kept either.
    if (w.ours && (w.events & EPOLLIN) != 0) {
      w.wanted = false;
    } else {
      h->loop->unwatch(s);
    }
    return 0;
  }
  w.wanted = true;
  const uint32_t events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
  if (w.events == events && w.handle == h->index) return 0;
  epoll_event ev{};
  ev.events = events;
  // The event names the socket and the handle it belongs to.
  ev.data.u64 = (uint64_t{h->index} << 32) | static_cast<uint32_t>(s);
  const int epoll = h->loop->epoll_;
  int rc = 0;
  if (w.events != 0) {
    rc = epoll_ctl(epoll, EPOLL_CTL_MOD, s, &ev);
    if (rc != 0 && errno == ENOENT) rc = epoll_ctl(epoll, EPOLL_CTL_ADD, s, &ev);
  } else {
    rc = epoll_ctl(epoll, EPOLL_CTL_ADD, s, &ev);
    if (rc != 0 && errno == EEXIST) rc = epoll_ctl(epoll, EPOLL_CTL_MOD, s, &ev);
  }
  // Recorded only once registered, so a failed call is tried again at the next change.
  w.events = rc == 0 ? events : 0u;
  w.handle = h->index;
  w.wanted = true;
  return 0;
}

// CURLOPT_OPENSOCKETFUNCTION of every transfer on this loop: libcurl makes its sockets here.
curl_socket_t SocketLoop::on_open(void* loop, curlsocktype, curl_sockaddr* address) {
  // CLOEXEC: a fixture server started by fork+exec must not inherit the client's connections.
  const int s = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (s < 0) return CURL_SOCKET_BAD;
  static_cast<SocketLoop*>(loop)->watch(s) = {.ours = true};
  return s;
}

// Takes s out of the epoll set if the table says it is there, and forgets it.
void SocketLoop::unwatch(curl_socket_t s) {
  const auto i = static_cast<size_t>(s);
  if (i >= watch_.size()) return;
  if (watch_[i].events != 0) epoll_ctl(epoll_, EPOLL_CTL_DEL, s, nullptr);
  watch_[i] = {};
}

// CURLOPT_CLOSESOCKETFUNCTION of every transfer on this loop: libcurl closes its sockets here,
// out of the set first: a copy of the descriptor in a forked child would keep the registration
// after the close, and the number may come back for another socket.
int SocketLoop::on_close(void* loop, curl_socket_t s) {
  static_cast<SocketLoop*>(loop)->unwatch(s);
  return close(s);
}

int SocketLoop::on_timer(CURLM*, long timeout_ms, void* handle) {
  auto* h = static_cast<Handle*>(handle);
  if (timeout_ms < 0) {
    h->timer_due.reset();
  } else {
    h->timer_due = Clock::now() + std::chrono::milliseconds(timeout_ms);
  }
  return 0;
}

SocketLoop::Handle& SocketLoop::home(Transfer& t) {
  auto [it, fresh] = home_.try_emplace(&t, nullptr);
  if (fresh) {
    it->second = handles_[(home_.size() - 1) % handles_.size()].get();
    // The connections this transfer opens live in its handle's cache, so in this loop's life;
    // ~SocketLoop takes the callbacks off again.
    curl_easy_setopt(t.easy(), CURLOPT_OPENSOCKETFUNCTION, &SocketLoop::on_open);
    curl_easy_setopt(t.easy(), CURLOPT_OPENSOCKETDATA, this);
    curl_easy_setopt(t.easy(), CURLOPT_CLOSESOCKETFUNCTION, &SocketLoop::on_close);
    curl_easy_setopt(t.easy(), CURLOPT_CLOSESOCKETDATA, this);
  }
  return *it->second;
}

void SocketLoop::start(Transfer& transfer, Completion& done) {
  transfer.completion = &done;
  if (expired_) {
    ended_early_.push_back(&transfer);
    return;
  }
  Handle& h = home(transfer);
  const CURLMcode rc = curl_multi_add_handle(h.multi, transfer.easy());
  if (rc != CURLM_OK)
    throw std::runtime_error(std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc));
  active_.insert(&transfer);
}

void SocketLoop::at(Clock::time_point when, Wakeup& w) { timers_.emplace(when, timer_seq_++, &w); }

void SocketLoop::reset() {
  for (Transfer* t : active_) curl_multi_remove_handle(home(*t).multi, t->easy());
  active_.clear();
  timers_ = {};
  ended_early_.clear();
  expired_ = false;
}

void SocketLoop::wake_due(Clock::time_point now) {
  // A wake-up may ask for another: only those due now run in this pass.
  while (!timers_.empty() && std::get<0>(timers_.top()) <= now) {
    Wakeup* w = std::get<2>(timers_.top());
    timers_.pop();
    w->wake();
  }
}

const std::string& precise_wait_problem() {
  static const std::string problem = [] {
    const int probe = epoll_create1(EPOLL_CLOEXEC);
    if (probe < 0) return std::string("epoll_create1: ") + std::strerror(errno);
    epoll_event event{};
    const timespec now{};
    const int n = epoll_pwait2(probe, &event, 1, &now, nullptr);
    const int error = errno;
    close(probe);
    return n >= 0 ? std::string() : std::string(std::strerror(error));
  }();
  return problem;
}

int SocketLoop::wait(epoll_event* events, int max, Clock::time_point until) {
  const auto left = std::max(Clock::duration::zero(), until - Clock::now());
  // epoll_pwait2 sleeps to the nanosecond, so an arrival 50 us away is not rounded up to a
  // millisecond; without it, epoll_wait rounds up, never early.
  if (precise_wait_problem().empty()) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    const timespec ts = {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    return epoll_pwait2(epoll_, events, max, &ts, nullptr);
  }
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return epoll_wait(epoll_, events, max, static_cast<int>(ms));
}

void SocketLoop::socket_action(Handle& h, curl_socket_t s, int flags) {
  if (!h.touched) {
    h.touched = true;
    touched_.push_back(&h);
  }
  int running = 0;
  const CURLMcode rc = curl_multi_socket_action(h.multi, s, flags, &running);
  if (rc != CURLM_OK)
    throw std::runtime_error(std::string("curl_multi_socket_action: ") + curl_multi_strerror(rc));
}

// Only handles called into since the last pass can have finished transfers. A completion may
// start a transfer on any handle, which only arms that handle's timer.
void SocketLoop::collect_finished() {
  while (!touched_.empty()) {
    Handle* h = touched_.back();
    touched_.pop_back();
    h->touched = false;
    take_finished(h->multi, [this](Transfer& t, CURLcode code) {
      active_.erase(&t);
      t.finish(code);
      t.completion->transfer_done(t);
    });
  }
}

void SocketLoop::expire_all() {
  expired_ = true;
  std::vector<Transfer*> stuck(active_.begin(), active_.end());
  for (Transfer* t : stuck) {
    curl_multi_remove_handle(home(*t).multi, t->easy());
    active_.erase(t);
    t->finish(CURLE_OPERATION_TIMEDOUT);
    t->completion->transfer_done(*t);
  }
  // Completions and wake-ups may start more transfers; those end at once, and so may start
  // more or ask for more wake-ups, each from the requests that remain, so this ends.
  while (!ended_early_.empty() || !timers_.empty()) {
    if (ended_early_.empty()) {
      Wakeup* w = std::get<2>(timers_.top());
      timers_.pop();
      w->wake();
      continue;
    }
    Transfer* t = ended_early_.back();
    ended_early_.pop_back();
    t->finish(CURLE_OPERATION_TIMEDOUT);
    t->completion->transfer_done(*t);
  }
}

bool SocketLoop::run(Clock::time_point deadline) {
  expired_ = false;
  epoll_event events[kMaxEvents];
  while (!active_.empty() || !timers_.empty()) {
    Clock::time_point now = Clock::now();
    if (now >= deadline) {
      expire_all();
      return false;
    }
    // Sleep until a socket is ready, libcurl's timer or a wake-up is due, or a second passes
    // and the deadline is checked again.
    Clock::time_point wake = std::min(deadline, now + std::chrono::seconds(1));
    for (const auto& h : handles_)
      if (h->timer_due) wake = std::min(wake, *h->timer_due);
    if (!timers_.empty()) wake = std::min(wake, std::get<0>(timers_.top()));
    const int n = wait(events, kMaxEvents, wake);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      const uint32_t e = events[i].events;
      int flags = 0;
      if (e & (EPOLLIN | EPOLLHUP)) flags |= CURL_CSELECT_IN;
      if (e & EPOLLOUT) flags |= CURL_CSELECT_OUT;
      if (e & EPOLLERR) flags |= CURL_CSELECT_ERR;
      const uint64_t data = events[i].data.u64;
      const auto s = static_cast<curl_socket_t>(static_cast<uint32_t>(data));
      if (Watch& w = watch(s); !w.wanted) {
        // A kept connection between transfers: the server closed it or sent what nobody asked
        // for. libcurl sees that when it next tries to reuse it; until then it stays quiet,
        // out of the set (still ours: its next transfer adds it again).
        epoll_ctl(epoll_, EPOLL_CTL_DEL, s, nullptr);
        w.events = 0;
        continue;
      }
      socket_action(*handles_[data >> 32], s, flags);
    }
    // Checked after every wake-up, not only when epoll_wait times out, so libcurl's timers
    // (its timeouts, connection starts) fire even while sockets keep the loop busy.
    now = Clock::now();
    for (const auto& h : handles_) {
      if (h->timer_due && now >= *h->timer_due) {
        h->timer_due.reset();
        socket_action(*h, CURL_SOCKET_TIMEOUT, 0);
      }
    }
    collect_finished();
    wake_due(Clock::now());
  }
  return true;
}

}  // namespace concbench::fetch
