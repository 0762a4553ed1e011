// SPDX-License-Identifier: MIT
// The one request helper every fetch model uses: a configured libcurl easy handle and the checks.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>

namespace concbench::fetch {

using Clock = std::chrono::steady_clock;

// How every transfer of a run is made.
struct ClientOptions {
  std::chrono::milliseconds timeout{10'000};  // the whole transfer, queueing inside curl included
  std::chrono::milliseconds connect_timeout{5'000};
  bool keepalive = true;  // false: a new connection per request, closed after it
  // Real sites redirect (http -> https, trailing slashes); the fixture never does.
  bool follow_redirects = false;
  // The fixture is on loopback: an http_proxy in the environment must not capture it.
  bool use_env_proxy = false;
};

// One GET and what must come back. With `verify` the answer must be 2xx with exactly `bytes`
// bytes of fixture body `id`; without it (real URLs) any 2xx with any body is a success.
struct Request {
  std::string url;
  bool verify = false;
  uint64_t id = 0;
  uint64_t bytes = 0;
  // Open loop: when the request arrives, in seconds of the steady clock (as Outcome::finished);
  // no model issues it before then, and its latency counts from then, however late the model
  // gets round to it. 0: ready at once (closed loop).
  double not_before = 0;
};

enum class Failure : uint8_t {
  none,
  not_done,   // the model never reported this request (a bug or a dead worker)
  timeout,    // curl's timeout passed: a stalled server, or an overloaded client
  refused,    // nothing listens there
  status,     // answered with a status outside 2xx
  size,       // body length differs from the one requested
  content,    // body bytes differ from the fixture's body for this id
  transport,  // any other libcurl error
  lost,       // the worker process that took it died
};

// What happened to one request. Trivially copyable: the fork model sends it over a pipe.
struct Outcome {
  Failure failure = Failure::not_done;
  int status = 0;     // HTTP status, 0 when none arrived
  int curl_code = 0;  // CURLcode of the transfer
  uint64_t bytes = 0;
  double seconds = 0;  // from the request's start to its end, measured by whoever ran it
  // When it ended, in seconds of the steady clock (CLOCK_MONOTONIC, the same in every process
  // of the machine, so a forked worker's time compares with its parent's): latency counts
  // from when the request was ready, queue wait included, in every model alike.
  double finished = 0;
};

// A multi handle whose connection cache holds `connections` connections. libcurl's default
// keeps about four per easy handle added at the moment and closes the rest as handles finish,
// so an event loop that re-adds C handles one by one reconnected hundreds of times per thousand
// requests at C = 1000 (counted by the fixture), and keepalive:1 would not be true.
CURLM* new_multi(int connections);

// Now on the steady clock, in seconds, as Outcome::finished holds it.
inline double steady_seconds() {
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

// A steady-clock time in seconds (Request::not_before) as a time point.
inline Clock::time_point steady_time(double seconds) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
}

// Blocks until the request's arrival (at once for a closed-loop request).
void wait_for_arrival(const Request& request);

// Calls curl_global_init once. Every Transfer constructor calls it; call it early from the main
// thread too, because curl_global_init is not guaranteed thread-safe.
void init_curl();

// A response body checked as its bytes arrive, so no client buffers a body: with `verify`, the
// bytes up to the expected length are compared with the fixture's body; any past it make a
// size error and are only counted.
struct BodyCheck {
  uint64_t received = 0;
  bool content_ok = true;
  void add(const Request& request, const char* data, size_t n);
};

// What a complete answer with HTTP `status` and this body means for `request`: none, or a
// status, size or content failure.
Failure answer_failure(const Request& request, long status, const BodyCheck& body);

class Transfer;

// Told when a transfer driven by an event loop has finished (its outcome is filled in).
class Completion {
 public:
  virtual void transfer_done(Transfer& transfer) = 0;

 protected:
  ~Completion() = default;
};

// One easy handle, configured once and reused for every request it makes: reuse keeps its
// connection (keep-alive) and its buffers, so a model pays for a handle once, not per request.
// Not movable: libcurl holds pointers to it.
class Transfer {
 public:
  explicit Transfer(const ClientOptions& options);
  ~Transfer();
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  CURL* easy() const { return easy_; }
  static Transfer* of(CURL* easy);

  // Points the handle at `request` and starts its clock; finish() fills `out`.
  void begin(const Request& request, Outcome& out);
  // Classifies the finished transfer (status, size, content) into the outcome given to begin().
  void finish(CURLcode code);
  // begin() + the blocking curl_easy_perform + finish().
  void perform(const Request& request, Outcome& out);

  // For event loops: who to tell when the transfer ends.
  Completion* completion = nullptr;

 private:
  static size_t on_body(char* data, size_t size, size_t n, void* self);

  CURL* easy_;
  const Request* request_ = nullptr;
  Outcome* out_ = nullptr;
  BodyCheck body_;
  Clock::time_point start_;
};

// Takes every finished transfer off `multi` and hands it to on_done(Transfer&, CURLcode), which
// records the result: the loop both multi models end their transfers with. The message is
// read before the handle is removed, because removing it invalidates the message.
template <class OnDone>
void take_finished(CURLM* multi, OnDone&& on_done) {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    const CURLcode code = msg->data.result;
    curl_multi_remove_handle(multi, easy);
    on_done(*Transfer::of(easy), code);
  }
}

// "3 of 40 requests failed: 2 timed out, 1 status 500"; "" when every outcome is a success.
std::string describe_failures(std::span<const Outcome> outcomes);

}  // namespace concbench::fetch
