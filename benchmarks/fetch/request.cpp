// SPDX-License-Identifier: MIT
// The one request helper every fetch model uses: a configured libcurl easy handle and the checks.
#include "fetch/request.h"

#include <time.h>

#include <cerrno>
#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "fixtures/protocol.h"

namespace concbench::fetch {

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("curl_global_init failed");
  });
}

CURLM* new_multi(int connections) {
  init_curl();
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) throw std::runtime_error("curl_multi_init failed");
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(connections));
  return multi;
}

Transfer::Transfer(const ClientOptions& options) {
  init_curl();
  easy_ = curl_easy_init();
  if (easy_ == nullptr) throw std::runtime_error("curl_easy_init failed");
  curl_easy_setopt(easy_, CURLOPT_PRIVATE, this);
  curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
  curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
  // Threads and timeouts: without NOSIGNAL, libcurl's timeouts use SIGALRM, which is
  // process-wide and unsafe with many threads.
  curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(easy_, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(easy_, CURLOPT_TCP_NODELAY, 1L);
  if (options.keepalive) {
    // libcurl drops a connection idle for 118 s by default; a slot idles while the others finish
    // their last requests, up to the longest delay (10 minutes at most), and keepalive:1 must
    // not reconnect inside the timed runs. A minute past the request timeout (which is past
    // the longest delay) covers that; the fixture keeps its side as long (http_fixture.cpp).
    curl_easy_setopt(easy_, CURLOPT_MAXAGE_CONN, static_cast<long>(options.timeout.count() / 1000 + 60));
  } else {
    // Both: FRESH_CONNECT refuses a cached connection, FORBID_REUSE closes this one after use,
    // so every request pays for its own TCP handshake and teardown.
    curl_easy_setopt(easy_, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(easy_, CURLOPT_FORBID_REUSE, 1L);
  }
  if (options.follow_redirects) {
    curl_easy_setopt(easy_, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy_, CURLOPT_MAXREDIRS, 5L);
  }
  if (!options.use_env_proxy) curl_easy_setopt(easy_, CURLOPT_PROXY, "");
}

Transfer::~Transfer() { curl_easy_cleanup(easy_); }

Transfer* Transfer::of(CURL* easy) {
  char* self = nullptr;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, &self);
  return reinterpret_cast<Transfer*>(self);
}

void Transfer::begin(const Request& request, Outcome& out) {
  request_ = &request;
  out_ = &out;
  body_ = {};
  curl_easy_setopt(easy_, CURLOPT_URL, request.url.c_str());
  start_ = Clock::now();
}

void BodyCheck::add(const Request& r, const char* data, size_t n) {
  if (r.verify && content_ok && received < r.bytes) {
    const size_t check = static_cast<size_t>(std::min<uint64_t>(n, r.bytes - received));
    content_ok = fixture::verify_body(r.id, data, check, received);
  }
  received += n;
}

Failure answer_failure(const Request& request, long status, const BodyCheck& body) {
  if (status < 200 || status > 299) return Failure::status;
  if (request.verify && body.received != request.bytes) return Failure::size;
  if (request.verify && !body.content_ok) return Failure::content;
  return Failure::none;
}

size_t Transfer::on_body(char* data, size_t, size_t n, void* self) {
  auto* t = static_cast<Transfer*>(self);
  t->body_.add(*t->request_, data, n);
  return n;
}

void Transfer::finish(CURLcode code) {
  Outcome& o = *out_;
  const auto now = Clock::now();
  o.seconds = std::chrono::duration<double>(now - start_).count();
  o.finished = std::chrono::duration<double>(now.time_since_epoch()).count();
  o.curl_code = code;
  o.bytes = body_.received;
  long status = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
  o.status = static_cast<int>(status);
  if (code == CURLE_OPERATION_TIMEDOUT) {
    o.failure = Failure::timeout;
  } else if (code == CURLE_COULDNT_CONNECT) {
    long os_errno = 0;
    curl_easy_getinfo(easy_, CURLINFO_OS_ERRNO, &os_errno);
    o.failure = os_errno == ECONNREFUSED ? Failure::refused : Failure::transport;
  } else if (code != CURLE_OK) {
    o.failure = Failure::transport;
  } else {
    o.failure = answer_failure(*request_, status, body_);
  }
}

void wait_for_arrival(const Request& request) {
  if (request.not_before <= 0) return;
  // steady_clock is CLOCK_MONOTONIC: sleep to the absolute time, so waking late never adds up.
  const double whole = std::floor(request.not_before);
  const timespec at = {static_cast<time_t>(whole), static_cast<long>((request.not_before - whole) * 1e9)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr) == EINTR) {
  }
}

void Transfer::perform(const Request& request, Outcome& out) {
  begin(request, out);
  finish(curl_easy_perform(easy_));
}

std::string describe_failures(std::span<const Outcome> outcomes) {
  // Keyed by (kind, detail) so "status 500" and "status 503" stay apart, in a stable order.
  std::map<std::pair<Failure, int>, size_t> groups;
  size_t failed = 0;
  for (const Outcome& o : outcomes) {
    if (o.failure == Failure::none) continue;
    ++failed;
    int detail = o.failure == Failure::status      ? o.status
                 : o.failure == Failure::transport ? o.curl_code
                                                   : 0;
    ++groups[{o.failure, detail}];
  }
  if (failed == 0) return "";
  std::string s =
      std::to_string(failed) + " of " + std::to_string(outcomes.size()) + " requests failed: ";
  bool first = true;
  for (const auto& [key, count] : groups) {
    if (!first) s += ", ";
    first = false;
    s += std::to_string(count) + " ";
    switch (key.first) {
      case Failure::none:
        break;
      case Failure::not_done:
        s += "never completed";
        break;
      case Failure::timeout:
        s += "timed out";
        break;
      case Failure::refused:
        s += "connection refused";
        break;
      case Failure::status:
        s += "status " + std::to_string(key.second);
        break;
      case Failure::size:
        s += "wrong body size";
        break;
      case Failure::content:
        s += "wrong body content";
        break;
      case Failure::transport:
        // 0: a client without libcurl (peak/raw_http) says only that the exchange broke.
        s += key.second == 0 ? std::string("transport error (no usable HTTP answer)")
                             : "curl error " + std::to_string(key.second) + " (" +
                                   curl_easy_strerror(static_cast<CURLcode>(key.second)) + ")";
        break;
      case Failure::lost:
        s += "lost with their worker process";
        break;
    }
  }
  return s;
}

}  // namespace concbench::fetch
