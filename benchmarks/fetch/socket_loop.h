// SPDX-License-Identifier: MIT
// The event loop behind multi_socket and coro: curl_multi_socket_action driven by epoll.
#pragma once

#include <curl/curl.h>
#include <sys/epoll.h>

#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fetch/request.h"

namespace concbench::fetch {

// Share k of `total` split into `parts` nearly equal ones: the first total % parts get one more.
// How multi_threads splits connections over its loops, and a loop over its multi handles.
inline int even_share(int total, int parts, int k) { return total / parts + (k < total % parts ? 1 : 0); }

// Told when the time it asked SocketLoop::at for has come.
class Wakeup {
 public:
  virtual void wake() = 0;

 protected:
  ~Wakeup() = default;
};

// "" when epoll_pwait2 works here, and the event loops wake for an arrival to the nanosecond;
// else why not (ENOSYS before kernel 5.11, EPERM under a seccomp filter), and they wait with
// epoll_wait, to the millisecond: up to 1 ms late, which open-loop latencies at L = 10 ms would
// count as the model's. Probed once; the record says which (event_wait).
const std::string& precise_wait_problem();

// One thread's loop over any number of transfers. libcurl tells it which sockets to watch
// (CURLMOPT_SOCKETFUNCTION) and when to wake up without socket activity
// (CURLMOPT_TIMERFUNCTION); the loop waits in epoll and tells libcurl exactly which socket
// is ready, so each wake-up costs O(ready sockets), not O(transfers) as curl_multi_perform does.
//
// The loop drives `handles` multi handles (one unless asked), all on its one epoll set. libcurl
// 7.88 walks a multi handle's whole connection cache for every transfer, so a handle's cost per
// request grows with the connections it holds; several handles, each holding a share, keep
// that walk short on one thread. A transfer stays on the handle it first started on, and so
// among that handle's connections. Handle k holds every handles-th transfer in the order they
// first start: at most `connections` distinct transfers may ever start on one loop, or a
// handle's cache would be smaller than its transfers.
class SocketLoop {
 public:
  // `connections`: how many connections libcurl keeps open between transfers (new_multi), split
  // evenly over `handles` multi handles.
  explicit SocketLoop(int connections, int handles = 1);
  ~SocketLoop();
  SocketLoop(const SocketLoop&) = delete;
  SocketLoop& operator=(const SocketLoop&) = delete;

  // Starts a transfer that begin() has pointed at its request. `done` is told when it ends,
  // always from inside run() and never from inside a libcurl callback, so it may start the
  // next transfer (on the same handle or another).
  void start(Transfer& transfer, Completion& done);

  // Calls w.wake() from inside run() once `when` has come, never before: an open-loop model
  // waits so for its next arrival. run() goes on while a wake-up is pending.
  void at(Clock::time_point when, Wakeup& w);

  // Runs until no transfer is in flight and no wake-up pending. If `deadline` passes first,
  // every transfer in flight (and any started after) ends as a timeout, its completion runs,
  // pending wake-ups are woken at once, and run() returns false: whatever goes wrong, run()
  // returns and leaves no transfer registered (kept connections' sockets stay in the epoll
  // set: on_socket says why).
  bool run(Clock::time_point deadline);

  size_t in_flight() const { return active_.size(); }
  // Forgets what a run that ended by an exception left behind (transfers still registered,
  // wake-ups pointing into frames that are gone, transfers queued after an expiry): every
  // model's run() starts here.
  void reset();
  // The run passed its deadline: whatever starts now ends at once as a timeout, so an
  // open-loop model stops waiting for arrivals.
  bool expired() const { return expired_; }

 private:
  // One multi handle, its timer, and whether a call into it since the last collect_finished()
  // may have ended transfers.
  struct Handle {
    SocketLoop* loop;
    uint32_t index;
    CURLM* multi = nullptr;
    // libcurl's timer, kept here and turned into the epoll wait's timeout rather than a
    // timerfd: libcurl re-arms its timer two or three times per request, and with a timerfd
    // each re-arm is a system call and each expiry a wake-up and a read (measured at delay 0,
    // C = 10: 23k requests/s with a timerfd, 43k without).
    std::optional<Clock::time_point> timer_due;
    bool touched = false;
  };

  // What the epoll set holds for one socket: the events and the handle it is registered with
  // (events 0: not registered), and whether libcurl watches it now (on_socket).
  struct Watch {
    uint32_t events = 0;
    uint32_t handle = 0;
    bool wanted = false;
    bool ours = false;  // made by on_open: a connection, which may be kept
  };

  static int on_socket(CURL* easy, curl_socket_t s, int what, void* handle, void* socket_data);
  static int on_timer(CURLM* multi, long timeout_ms, void* handle);
  static curl_socket_t on_open(void* loop, curlsocktype purpose, curl_sockaddr* address);
  static int on_close(void* loop, curl_socket_t s);
  Watch& watch(curl_socket_t s);
  void unwatch(curl_socket_t s);
  Handle& home(Transfer& t);
  void socket_action(Handle& h, curl_socket_t s, int flags);
  void collect_finished();
  void expire_all();
  void wake_due(Clock::time_point now);
  int wait(epoll_event* events, int max, Clock::time_point until);

  int epoll_ = -1;
  std::vector<Watch> watch_;  // by descriptor
  std::vector<std::unique_ptr<Handle>> handles_;  // by address in libcurl's callbacks
  std::unordered_map<Transfer*, Handle*> home_;   // where each transfer started first
  std::vector<Handle*> touched_;
  bool expired_ = false;
  std::unordered_set<Transfer*> active_;
  std::vector<Transfer*> ended_early_;  // started after expiry: they end without running
  // Pending wake-ups, earliest first; the sequence number keeps equal times in order.
  using Timer = std::tuple<Clock::time_point, uint64_t, Wakeup*>;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  uint64_t timer_seq_ = 0;
};

}  // namespace concbench::fetch
