// SPDX-License-Identifier: MIT
// The fixture server the fetch benchmarks talk to: started by the first one that runs.
#include "fetch/fixture.h"

#include <optional>
#include <regex>
#include <stdexcept>

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
  static const std::regex loopback(R"(http://(127\.[0-9]+\.[0-9]+\.[0-9]+|localhost|\[::1\]):[0-9]{1,5})");
  if (!std::regex_match(url, loopback))
    throw UsageError("--fixture_url: '" + url +
                     "' is not http://HOST:PORT on a loopback host (127.x.x.x, localhost, [::1])");
  state().base_url = url;
}

const std::string& fixture_base_url() {
  State& s = state();
  if (s.server && s.server->running()) return s.base_url;
  if (!s.server && !s.base_url.empty()) return s.base_url;  // --fixture_url: someone else's
  if (!s.error.empty()) throw std::runtime_error(s.error);
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

void stop_fixture() {
  State& s = state();
  if (s.server) s.server->stop();
  s.server.reset();
}

}  // namespace concbench::fetch
