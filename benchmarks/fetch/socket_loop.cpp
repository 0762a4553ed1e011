// SPDX-License-Identifier: MIT
// The event loop behind multi_socket and coro: curl_multi_socket_action driven by epoll.
#include "fetch/socket_loop.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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

SocketLoop::SocketLoop(int connections) {
  // CLOEXEC: the fixture server, started by fork+exec, must never inherit it.
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) fail("epoll_create1");
  try {
    multi_ = new_multi(connections);
  } catch (...) {
    close(epoll_);
    throw;
  }
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &SocketLoop::on_socket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &SocketLoop::on_timer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
}

SocketLoop::~SocketLoop() {
  // Handles still registered (only after an exception) are taken out before the multi goes.
  for (Transfer* t : active_) curl_multi_remove_handle(multi_, t->easy());
  curl_multi_cleanup(multi_);
  close(epoll_);
}

int SocketLoop::on_socket(CURL*, curl_socket_t s, int what, void* self, void* socket_data) {
  auto* loop = static_cast<SocketLoop*>(self);
  if (what == CURL_POLL_REMOVE) {
    // libcurl says so before it closes the socket; the socket may already be gone (ENOENT,
    // EBADF), which is fine.
    epoll_ctl(loop->epoll_, EPOLL_CTL_DEL, s, nullptr);
    return 0;
  }
  epoll_event ev{};
  ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
  ev.data.fd = s;
  // socket_data marks a socket already in the epoll set, saving a failed ADD per change.
  if (socket_data == nullptr) {
    if (epoll_ctl(loop->epoll_, EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST)
      epoll_ctl(loop->epoll_, EPOLL_CTL_MOD, s, &ev);
    curl_multi_assign(loop->multi_, s, loop);
  } else {
    epoll_ctl(loop->epoll_, EPOLL_CTL_MOD, s, &ev);
  }
  return 0;
}

int SocketLoop::on_timer(CURLM*, long timeout_ms, void* self) {
  auto* loop = static_cast<SocketLoop*>(self);
  if (timeout_ms < 0) {
    loop->timer_due_.reset();
  } else {
    loop->timer_due_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
  }
  return 0;
}

void SocketLoop::start(Transfer& transfer, Completion& done) {
  transfer.completion = &done;
  if (expired_) {
    ended_early_.push_back(&transfer);
    return;
  }
  const CURLMcode rc = curl_multi_add_handle(multi_, transfer.easy());
  if (rc != CURLM_OK)
    throw std::runtime_error(std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc));
  active_.insert(&transfer);
}

void SocketLoop::at(Clock::time_point when, Wakeup& w) { timers_.emplace(when, timer_seq_++, &w); }

void SocketLoop::reset() {
  for (Transfer* t : active_) curl_multi_remove_handle(multi_, t->easy());
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

int SocketLoop::wait(epoll_event* events, int max, Clock::time_point until) {
  const auto left = std::max(Clock::duration::zero(), until - Clock::now());
  // epoll_pwait2 sleeps to the nanosecond, so an arrival 50 us away is not rounded up to a
  // millisecond (kernel 5.11 and later); where the kernel lacks it or a seccomp filter refuses
  // it, epoll_wait rounds up, never early.
  static std::atomic<bool> nanoseconds{true};
  if (nanoseconds.load(std::memory_order_relaxed)) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    const timespec ts = {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    const int n = epoll_pwait2(epoll_, events, max, &ts, nullptr);
    if (n >= 0 || (errno != ENOSYS && errno != EPERM)) return n;
    nanoseconds.store(false, std::memory_order_relaxed);
  }
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return epoll_wait(epoll_, events, max, static_cast<int>(ms));
}

void SocketLoop::socket_action(curl_socket_t s, int flags) {
  int running = 0;
  const CURLMcode rc = curl_multi_socket_action(multi_, s, flags, &running);
  if (rc != CURLM_OK)
    throw std::runtime_error(std::string("curl_multi_socket_action: ") + curl_multi_strerror(rc));
}

void SocketLoop::collect_finished() {
  take_finished(multi_, [this](Transfer& t, CURLcode code) {
    active_.erase(&t);
    t.finish(code);
    t.completion->transfer_done(t);
  });
}

void SocketLoop::expire_all() {
  expired_ = true;
  std::vector<Transfer*> stuck(active_.begin(), active_.end());
  for (Transfer* t : stuck) {
    curl_multi_remove_handle(multi_, t->easy());
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
    if (timer_due_) wake = std::min(wake, *timer_due_);
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
      socket_action(events[i].data.fd, flags);
    }
    // Checked after every wake-up, not only when epoll_wait times out, so libcurl's timers
    // (its timeouts, connection starts) fire even while sockets keep the loop busy.
    if (timer_due_ && Clock::now() >= *timer_due_) {
      timer_due_.reset();
      socket_action(CURL_SOCKET_TIMEOUT, 0);
    }
    collect_finished();
    wake_due(Clock::now());
  }
  return true;
}

}  // namespace concbench::fetch
