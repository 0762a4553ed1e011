// SPDX-License-Identifier: MIT
// The fixture server the fetch benchmarks talk to: started by the first one that runs.
#include "fetch/fixture.h"

#include <benchmark/benchmark.h>
#include <curl/curl.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <thread>

#include "common/flags.h"
#include "fetch/stats.h"
#include "fixtures/server_process.h"

namespace concbench::fetch {
namespace {

struct State {
  std::optional<fixture::ServerProcess> server;
  std::string base_url;
  std::string error;
};

State& state() {
  static State s;
  return s;
}

}  // namespace

void use_fixture_url(const std::string& url) {
  // A numeric 127.x.x.x only: the fixture listens on IPv4, and peak/raw_http, the client floor,
  // connects to a numeric IPv4 address without a resolver (localhost and [::1] made it fail).
  static const std::regex loopback(R"(http://127\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3}):([0-9]{1,5}))");
  std::smatch m;
  if (!std::regex_match(url, m, loopback))
    throw UsageError("--fixture_url: '" + url + "' is not http://127.x.x.x:PORT (a loopback address, numeric)");
  // A leading zero is octal to libcurl and glibc (127.0.0.010 is 127.0.0.8; 08 is a host name).
  auto check = [&](const std::ssub_match& part, int lo, int hi, const char* what) {
    const std::string digits = part.str();
    const int v = std::stoi(digits);
    if ((digits.size() > 1 && digits[0] == '0') || v < lo || v > hi)
      throw UsageError("--fixture_url: '" + url + "': " + digits + " is not " + what + " (" + std::to_string(lo) +
                       ".." + std::to_string(hi) + ", no leading zero)");
  };
  for (int octet = 1; octet <= 3; ++octet) check(m[octet], 0, 255, "an address byte");
  check(m[4], 1, 65535, "a port");
  state().base_url = url;
}

const std::string& fixture_base_url() {
  State& s = state();
  if (s.server && s.server->running()) return s.base_url;
  if (!s.server && !s.base_url.empty()) return s.base_url;  // --fixture_url: someone else's
  if (!s.error.empty()) throw std::runtime_error(s.error);
  // One that ended mid-run failed the benchmark it served; the later ones get a new one.
  if (s.server)
    std::cerr << "concbench: the fixture server ended during the run (" << s.server->describe_exit() << "); starting another\n";
  // Before the start: the server inherits the raised descriptor limit for C = 1000.
  raise_fd_limit();
  try {
    s.server = fixture::ServerProcess::start(CONCBENCH_FIXTURE_PATH);
    s.base_url = s.server->base_url();
  } catch (const std::exception& e) {
    s.error = e.what();
    throw;
  }
  return s.base_url;
}

std::optional<std::string> idle_fixture_url_or_skip(benchmark::State& state) {
  std::string url;
  try {
    url = fixture_base_url();
  } catch (const std::exception& e) {
    state.SkipWithError((std::string("cannot start the fixture server: ") + e.what()).c_str());
    return std::nullopt;
  }
  if (const std::string busy = wait_until_fixture_idle(url, std::chrono::seconds(10)); !busy.empty()) {
    state.SkipWithError(busy.c_str());
    return std::nullopt;
  }
  return url;
}

std::optional<FixtureStats> fixture_stats(const std::string& base_url) {
  std::unique_ptr<CURL, void (*)(CURL*)> easy(curl_easy_init(), curl_easy_cleanup);
  if (!easy) return std::nullopt;
  std::string body;
  const std::string url = base_url + "/stats";
  curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy.get(), CURLOPT_PROXY, "");  // loopback: never through a proxy
  curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION,
                   +[](char* p, size_t size, size_t n, void* out) {
                     static_cast<std::string*>(out)->append(p, size * n);
                     return size * n;
                   });
  curl_easy_setopt(easy.get(), CURLOPT_WRITEDATA, &body);
  long status = 0;
  if (curl_easy_perform(easy.get()) != CURLE_OK ||
      curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200)
    return std::nullopt;
  const auto field = [&body](std::string_view name) -> std::optional<double> {
    const std::string key = "\"" + std::string(name) + "\":";
    const size_t at = body.find(key);
    if (at == std::string::npos) return std::nullopt;
    const char* start = body.c_str() + at + key.size();
    char* end = nullptr;
    const double value = std::strtod(start, &end);
    if (end == start) return std::nullopt;
    return value;
  };
  const std::optional<double> cpu_s = field("cpu_s"), accepted = field("accepted"), open = field("connections");
  if (!cpu_s || !accepted || !open) return std::nullopt;
  return FixtureStats{*cpu_s, *accepted, *open, field("half_closed").value_or(0)};
}

std::string wait_until_fixture_idle(const std::string& base_url, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    const std::optional<FixtureStats> stats = fixture_stats(base_url);
    if (!stats) return "the fixture server at " + base_url + " did not answer /stats";
    // A client whose input has ended sends nothing more: an earlier benchmark's, gone while
    // its requests were delayed (a failed run), keeps its connection to the end of the delay,
    // up to ten minutes, and would fail every benchmark until then.
    const double others = stats->connections - stats->half_closed - 1;
    if (others <= 0) return "";
    if (std::chrono::steady_clock::now() >= deadline)
      return "the fixture server still held " + std::to_string(static_cast<long>(others)) +
             " connections of other clients after " + std::to_string(limit.count()) + " ms";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void stop_fixture() {
  State& s = state();
  if (s.server) s.server->stop();
  s.server.reset();
}

}  // namespace concbench::fetch
