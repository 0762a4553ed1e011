// SPDX-License-Identifier: MIT
// peak/raw_http: the floor under the fetch models. The same requests, checked the same way, from
// a minimal HTTP/1.1 client on plain sockets and one epoll loop, without libcurl: what any
// client must at least take against this fixture on these cores, so that a model's distance
// from the ideal splits into the machine's share (fixture, kernel, loopback) and its own.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fetch/model.h"
#include "fixtures/http_head.h"

namespace concbench::fetch {
namespace {

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string("raw_http: ") + what + ": " + std::strerror(errno));
}

// A response head longer than this is not the fixture's: the request fails.
constexpr size_t kMaxHead = 16 * 1024;
constexpr int kMaxEvents = 256;

// "http://HOST:PORT/target", HOST a numeric IPv4 address, as every fixture URL is. Anything else
// is the run's error, not a request's: this client exists for the fixture only.
struct Target {
  std::string_view authority;  // HOST:PORT: the connection's key and the Host header
  std::string_view path;
};

Target parse_target(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) throw std::runtime_error("raw_http speaks plain http:// only, got " + url);
  std::string_view rest(url);
  rest.remove_prefix(kScheme.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return {rest, "/"};
  return {rest.substr(0, slash), rest.substr(slash)};
}

sockaddr_in address_of(std::string_view authority) {
  const size_t colon = authority.rfind(':');
  sockaddr_in a{};
  a.sin_family = AF_INET;
  int port = 0;
  const std::string host(authority.substr(0, colon == std::string_view::npos ? 0 : colon));
  const std::string_view digits = authority.substr(colon + 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (colon == std::string_view::npos || inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1 ||
      ec != std::errc() || end != digits.data() + digits.size() || port < 1 || port > 65535)
    throw std::runtime_error("raw_http needs a numeric IPv4 HOST:PORT, got '" + std::string(authority) + "'");
  a.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

// One connection and the request on it, if any.
struct Slot {
  int fd = -1;
  std::string authority;  // where fd is connected
  bool connecting = false;
  bool writing = false;  // EPOLLOUT is in the interest set
  // The request in flight (nullptr: idle, its connection kept).
  const Request* request = nullptr;
  Outcome* out = nullptr;
  uint64_t seq = 0;  // which start this is, to tell stale deadline entries apart
  Clock::time_point start;
  std::string send;
  size_t sent = 0;
  std::string head;
  bool head_done = false;
  long status = 0;
  uint64_t length = 0;
  bool close_after = false;
  BodyCheck body;
};

class RawHttp final : public Model {
 public:
  explicit RawHttp(const ModelConfig& config)
      : client_(config.client), slots_(static_cast<size_t>(std::max(1, config.concurrency))), buffer_(64 * 1024) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);  // the fixture, started by fork+exec, must not inherit it
    if (epoll_ < 0) fail("epoll_create1");
  }
  ~RawHttp() override {
    for (Slot& s : slots_) disconnect(s);
    close(epoll_);
  }

  void run(std::span<const Request> requests, std::span<Outcome> outcomes) override {
    const Clock::time_point deadline = run_deadline(requests, static_cast<int>(slots_.size()), client_);
    // A run that ended by an exception may have left requests on slots: they go with their
    // connections.
    for (Slot& s : slots_)
      if (s.request != nullptr) {
        s.request = nullptr;
        disconnect(s);
      }
    idle_.clear();
    for (size_t i = slots_.size(); i-- > 0;) idle_.push_back(i);
    due_.clear();
    active_ = 0;
    size_t next = 0;
    epoll_event events[kMaxEvents];
    // Kept connections the server closed while idle since the last run (its idle timeout) say
    // so before any is reused, as libcurl checks a cached connection: every slot is idle here,
    // so on_event closes each one reported.
    for (int n = kMaxEvents; n == kMaxEvents;) {
      n = epoll_wait(epoll_, events, kMaxEvents, 0);
      for (int i = 0; i < n; ++i) on_event(slots_[events[i].data.u32], events[i].events);
    }
    while (next < requests.size() || active_ > 0) {
      Clock::time_point now = Clock::now();
      if (now >= deadline)
        throw std::runtime_error("raw_http passed the run's deadline with " + std::to_string(active_) +
                                 " requests in flight");
      // Every request that has arrived starts before the loop looks for answers: a batch sent
      // whole, its answers then read in full epoll batches, cost the least CPU (at N = C =
      // 10,000: 140 ms, against 285 ms when answers were read after every 64 sends).
      for (; !idle_.empty() && next < requests.size() && steady_time(requests[next].not_before) <= now; ++next) {
        const size_t k = idle_.back();
        idle_.pop_back();
        start(k, requests[next], outcomes[next]);
      }
      expire(Clock::now());
      // Sleep until an answer, the earliest request's timeout, or the next arrival if a slot
      // is free for it; not at all while arrived requests wait only for this turn to end.
      Clock::time_point wake = std::min(deadline, now + std::chrono::seconds(1));
      if (!due_.empty()) wake = std::min(wake, due_.front().first);
      if (next < requests.size() && !idle_.empty()) wake = std::min(wake, steady_time(requests[next].not_before));
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(wake - Clock::now()).count();
      const int n = epoll_wait(epoll_, events, kMaxEvents, static_cast<int>(std::max<int64_t>(0, left)));
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("epoll_wait");
      }
      for (int i = 0; i < n; ++i) on_event(slots_[events[i].data.u32], events[i].events);
    }
  }

 private:
  void start(size_t k, const Request& request, Outcome& out) {
    Slot& s = slots_[k];
    const Target target = parse_target(request.url);
    if (s.fd >= 0 && s.authority != target.authority) disconnect(s);
    s.request = &request;
    s.out = &out;
    s.seq = ++seq_;
    // Its own start, not its batch's: a batch of 1,000 takes 10-19 ms to send, and its last
    // request would otherwise be that much longer in its time and in peak_in_flight's overlap.
    s.start = Clock::now();
    s.send.assign("GET ").append(target.path).append(" HTTP/1.1\r\nHost: ").append(target.authority).append("\r\n\r\n");
    s.sent = 0;
    s.head.clear();
    s.head_done = false;
    s.status = 0;
    s.length = 0;
    s.close_after = !client_.keepalive;
    s.body = {};
    ++active_;
    // One timeout for the whole request, connecting included, as CURLOPT_TIMEOUT_MS is; all
    // requests share it, so deadlines come due in the order the requests started.
    due_.emplace_back(s.start + client_.timeout, std::make_pair(k, s.seq));
    if (s.fd < 0 && !connect_to(s, target.authority)) return;
    if (!s.connecting) send_some(s);
  }

  // Returns false if the request already ended (the connection was refused at once).
  bool connect_to(Slot& s, std::string_view authority) {
    const sockaddr_in address = address_of(authority);
    s.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0) fail("socket");
    s.authority.assign(authority);
    const int one = 1;
    setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s.connecting = connect(s.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0;
    if (s.connecting && errno != EINPROGRESS) {
      end(s, errno == ECONNREFUSED ? Failure::refused : Failure::transport);
      return false;
    }
    s.writing = s.connecting;
    epoll_event ev{};
    ev.events = EPOLLIN | (s.writing ? EPOLLOUT : 0u);
    ev.data.u32 = static_cast<uint32_t>(index_of(s));
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, s.fd, &ev) != 0) fail("epoll_ctl");
    return true;
  }

  void watch_output(Slot& s, size_t k, bool on) {
    if (s.writing == on) return;
    s.writing = on;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u32 = static_cast<uint32_t>(k);
    if (epoll_ctl(epoll_, EPOLL_CTL_MOD, s.fd, &ev) != 0) fail("epoll_ctl");
  }

  void send_some(Slot& s) {
    while (s.sent < s.send.size()) {
      const ssize_t n = ::send(s.fd, s.send.data() + s.sent, s.send.size() - s.sent, MSG_NOSIGNAL);
      if (n > 0) {
        s.sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        watch_output(s, index_of(s), true);
        return;
      }
      end(s, Failure::transport);
      return;
    }
    watch_output(s, index_of(s), false);
  }

  size_t index_of(const Slot& s) const { return static_cast<size_t>(&s - slots_.data()); }

  void on_event(Slot& s, uint32_t events) {
    if (s.fd < 0) return;  // closed earlier in this batch of events
    if (s.request == nullptr) {
      // A kept connection between requests has nothing to say: readable means the server
      // closed it (or broke the protocol), and the next request on this slot reconnects.
      disconnect(s);
      return;
    }
    if (s.connecting) {
      if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
      int error = 0;
      socklen_t len = sizeof error;
      getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &len);
      if (error != 0) {
        end(s, error == ECONNREFUSED ? Failure::refused : Failure::transport);
        return;
      }
      s.connecting = false;
      send_some(s);
      return;
    }
    if ((events & EPOLLOUT) != 0) {
      send_some(s);
      if (s.request == nullptr) return;
    }
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) receive(s);
  }

  // One read: level-triggered epoll says again if more is waiting.
  void receive(Slot& s) {
    const ssize_t n = recv(s.fd, buffer_.data(), buffer_.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) {
      end(s, Failure::transport);  // closed or reset before the answer was whole
      return;
    }
    const char* data = buffer_.data();
    size_t size = static_cast<size_t>(n);
    if (!s.head_done) {
      const size_t from = s.head.size();
      s.head.append(data, size);
      // The fixture's own scan, resumed where the last read's ended: linear however the head
      // arrives.
      const size_t head_len = fixture::find_head_end(s.head.data(), s.head.size(), from);
      if (head_len == 0) {
        if (s.head.size() > kMaxHead) end(s, Failure::transport);
        return;
      }
      const size_t body_in_head = s.head.size() - head_len;
      s.head.resize(head_len);
      // The scan also ends a head at a bare "\n\n"; this client reads CRLF heads only.
      if (!s.head.ends_with("\r\n\r\n")) {
        end(s, Failure::transport);
        return;
      }
      s.head.resize(head_len - 2);
      if (!parse_head(s)) {
        end(s, Failure::transport);
        return;
      }
      s.head_done = true;
      data += size - body_in_head;
      size = body_in_head;
    }
    // More than Content-Length says is not HTTP/1.1 from a server we sent one request to.
    if (s.body.received + size > s.length) {
      end(s, Failure::transport);
      return;
    }
    s.body.add(*s.request, data, size);
    if (s.body.received == s.length) end(s, answer_failure(*s.request, s.status, s.body));
  }

  // The status line and the headers this client needs; false if it cannot tell where the
  // answer ends (no Content-Length where a body may follow, or a chunked body).
  static bool parse_head(Slot& s) {
    std::string_view head(s.head);
    if (!head.starts_with("HTTP/1.") || head.size() < 12) return false;
    const auto [p, ec] = std::from_chars(head.data() + 9, head.data() + 12, s.status);
    if (ec != std::errc() || p != head.data() + 12) return false;
    bool has_length = false;
    size_t line = head.find("\r\n") + 2;
    while (line < head.size()) {
      const size_t eol = head.find("\r\n", line);
      const std::string_view field = head.substr(line, eol - line);
      line = eol + 2;
      const size_t colon = field.find(':');
      if (colon == std::string_view::npos) return false;
      const std::string_view name = field.substr(0, colon);
      std::string_view value = field.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      if (fixture::iequals(name, "content-length")) {
        const auto [q, e] = std::from_chars(value.data(), value.data() + value.size(), s.length);
        if (e != std::errc() || q != value.data() + value.size()) return false;
        has_length = true;
      } else if (fixture::iequals(name, "transfer-encoding")) {
        return false;
      } else if (fixture::iequals(name, "connection") && fixture::iequals(value, "close")) {
        s.close_after = true;
      }
    }
    // An interim 1xx answer is not followed here (the fixture never sends one): taken as the
    // answer, the real one would be read as the next request's. Without a length only the
    // bodiless 204 and 304 end.
    if (s.status < 200) return false;
    return has_length || s.status == 204 || s.status == 304;
  }

  void end(Slot& s, Failure failure) {
    Outcome& o = *s.out;
    const auto now = Clock::now();
    o.seconds = std::chrono::duration<double>(now - s.start).count();
    o.finished = std::chrono::duration<double>(now.time_since_epoch()).count();
    o.status = static_cast<int>(s.status);
    o.bytes = s.body.received;
    o.failure = failure;
    // A connection is kept only after a whole answer that did not ask to close it.
    const bool whole = failure == Failure::none || failure == Failure::status || failure == Failure::size ||
                       failure == Failure::content;
    if (!whole || s.close_after) disconnect(s);
    s.request = nullptr;
    --active_;
    idle_.push_back(index_of(s));
  }

  void disconnect(Slot& s) {
    if (s.fd >= 0) close(s.fd);  // closing also takes it out of the epoll set
    s.fd = -1;
    s.connecting = false;
    s.writing = false;
  }

  // Ends every request whose timeout has passed; entries of requests already ended are stale.
  void expire(Clock::time_point now) {
    while (!due_.empty()) {
      const auto& [when, who] = due_.front();
      Slot& s = slots_[who.first];
      if (s.request == nullptr || s.seq != who.second) {
        due_.pop_front();
        continue;
      }
      if (when > now) return;
      due_.pop_front();
      end(s, Failure::timeout);
    }
  }

  ClientOptions client_;
  std::vector<Slot> slots_;
  std::vector<char> buffer_;
  int epoll_ = -1;
  std::vector<size_t> idle_;
  // (deadline, (slot, seq)) in the order requests started.
  std::deque<std::pair<Clock::time_point, std::pair<size_t, uint64_t>>> due_;
  size_t active_ = 0;
  uint64_t seq_ = 0;
};

}  // namespace

std::unique_ptr<Model> make_raw_http(const ModelConfig& config) {
  return std::make_unique<RawHttp>(config);
}

}  // namespace concbench::fetch
