// SPDX-License-Identifier: MIT
// peak/wrk: the fixture's own capacity, drawn by wrk (a C load generator on its own event loop),
// the bound the fetch models are measured against. A wrk run's rate counts its start: the C
// connections opened and the first responses ramping up in its time (at C = 1000, a 1 s run's
// rate was a median 11% and 28% below the steady one in two sets of runs on a 2-CPU VM). The
// steady rate is what a 3 s run drew beyond a 1 s run, over the time it ran beyond it: the two
// starts cancel.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/process.h"
#include "fetch/fixture.h"
#include "fetch/wrk.h"
#include "fixtures/protocol.h"

namespace concbench::fetch {
namespace {

// Runs wrk and returns its standard output; throws with the reason when it cannot run or fails.
std::string run_wrk_once(const std::vector<std::string>& args, int seconds) {
  // Made before the fork: the child of a process with other threads (tbb's, openmp's workers
  // live on) may only make async-signal-safe calls until it execs, and malloc is none.
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::string error;
  const ForkedChild child = fork_with_pipe(error);
  if (child.pid < 0) throw std::runtime_error(error);
  if (child.pid == 0) {
    dup2(child.fd, STDOUT_FILENO);
    execvp(argv[0], argv.data());
    _exit(127);  // not found: the parent says how to install it
  }
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(seconds + 20);
  std::string out;
  char buf[4096];
  while (true) {
    pollfd p{child.fd, POLLIN, 0};
    const int left = poll_ms_until(deadline);
    if (left == 0) break;
    const int ready = poll(&p, 1, left);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    const ssize_t got = read(child.fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  close(child.fd);
  // It has closed its output: it is exiting, or the deadline passed and it is killed.
  const int status = reap(child.pid, Clock::now() + std::chrono::seconds(2));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    throw std::runtime_error("wrk is not installed (apt-get install wrk; scripts/install_deps.sh does)");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("wrk " + describe_wait_status(status));
  return out;
}

}  // namespace

WrkResult parse_wrk_output(const std::string& out) {
  static const std::regex total(R"((\d+) requests in ([0-9.]+)(us|ms|s|m),)");
  std::smatch m;
  if (!std::regex_search(out, m, total)) throw std::runtime_error("wrk printed no request count");
  const double scale = m[3] == "us" ? 1e-6 : m[3] == "ms" ? 1e-3 : m[3] == "m" ? 60 : 1;
  WrkResult r{std::stod(m[1]), std::stod(m[2]) * scale};
  // wrk's summary line ("0 requests in 1.00s, 0.00B read"), for the messages below
  const size_t at = static_cast<size_t>(m.position(0));
  const std::string summary = out.substr(at, out.find('\n', at) - at);
  // Anything but a clean 200 on every request is a broken bound, not a measurement. Checked
  // first: with no request made, these say why (a smoke run under the sanitizers once said only
  // "wrk made no requests").
  for (const char* bad : {"Socket errors", "Non-2xx or 3xx responses"}) {
    if (const size_t where = out.find(bad); where != std::string::npos)
      throw std::runtime_error("wrk: " + out.substr(where, out.find('\n', where) - where) + " (" + summary + ")");
  }
  if (r.seconds <= 0 || r.requests <= 0) throw std::runtime_error("wrk made no requests (" + summary + ")");
  return r;
}

WrkResult beyond(const WrkResult& shorter, const WrkResult& longer) {
  const WrkResult more{longer.requests - shorter.requests, longer.seconds - shorter.seconds};
  if (more.seconds <= 0 || more.requests <= 0) {
    char what[160];
    std::snprintf(what, sizeof what, "wrk's longer run drew no more requests, or ran no longer, than its shorter "
                  "one (%.0f in %.2f s against %.0f in %.2f s)", longer.requests, longer.seconds, shorter.requests,
                  shorter.seconds);
    throw std::runtime_error(what);
  }
  return more;
}

std::vector<std::string> wrk_command(const std::string& base_url, int conc, int delay_ms, int64_t bytes,
                                     int seconds) {
  fixture::RequestSpec spec;
  spec.bytes = static_cast<uint64_t>(bytes);
  spec.delay_ms = static_cast<uint64_t>(delay_ms);
  return {"wrk", "-t1", "-c" + std::to_string(conc), "-d" + std::to_string(seconds) + "s",
          base_url + fixture::request_target(spec)};
}

void run_wrk(benchmark::State& state, int conc, int delay_ms, int64_t bytes) {
  // Idle matters most here: wrk has no untimed round to absorb a server still closing the
  // connections of the benchmark before (peak/raw_http's 10,000), nor its own shorter run's.
  const std::optional<std::string> url = idle_fixture_url_or_skip(state);
  if (!url) return;
  WrkResult all;
  const auto idle = [&url](const char* after) {
    if (const std::string busy = wait_until_fixture_idle(*url, std::chrono::seconds(10)); !busy.empty())
      throw std::runtime_error(busy + ", after " + after);
  };
  bool first = true;
  for (auto _ : state) {
    try {
      if (!first) idle("wrk's 3 s run");  // a second iteration (a long --benchmark_min_time)
      first = false;
      const WrkResult shorter = parse_wrk_output(run_wrk_once(wrk_command(*url, conc, delay_ms, bytes, 1), 1));
      idle("wrk's 1 s run");
      const WrkResult longer = parse_wrk_output(run_wrk_once(wrk_command(*url, conc, delay_ms, bytes, 3), 3));
      const WrkResult more = beyond(shorter, longer);
      all.requests += more.requests;
      all.seconds += more.seconds;
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      break;
    }
  }
  // Over wrk's own measured time: the benchmark's real time also holds wrk's starts and exits.
  if (all.seconds > 0) state.counters["requests_per_second"] = all.requests / all.seconds;
}

}  // namespace concbench::fetch
