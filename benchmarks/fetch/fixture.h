// SPDX-License-Identifier: MIT
// The fixture server the fetch benchmarks talk to: started by the first one that runs.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace benchmark {
class State;
}

namespace concbench::fetch {

// "http://127.0.0.1:PORT" of the fixture server, starting it (on a free port) on the first
// call, so a run whose filter selects no fetch benchmark never starts it. Throws
// std::runtime_error with the reason when it cannot start; later calls throw the same reason
// without trying again. Call from the main thread: the server dies with the thread that
// started it.
const std::string& fixture_base_url();

// fixture_base_url() for a benchmark body, once the server holds no other client's connection
// (wait_until_fixture_idle, up to 10 s): an earlier benchmark's clients may have closed thousands
// it has yet to close, work that would slow this benchmark's first runs and count in its
// server_cpu_util. When the server cannot start or stays busy, the benchmark is marked as
// errored with the reason and nullopt comes back.
std::optional<std::string> idle_fixture_url_or_skip(benchmark::State& state);

// Talk to the fixture server at `url` ("http://127.0.0.1:PORT") instead of starting one.
// Throws UsageError when it is not http://127.x.x.x:PORT: benchmarks send load only to this
// machine.
void use_fixture_url(const std::string& url);

// What the fixture server has done since it started, from its /stats line.
struct FixtureStats {
  double cpu_s = 0;        // its CPU time, seconds
  double accepted = 0;     // connections accepted, the query that read this one included
  double connections = 0;  // connections open now, the query's own included
  double half_closed = 0;  // of those, whose client's input has ended: a client gone, or one that
                           // only shut down its writing, whose answer waits for its delay
};

// The /stats of the fixture server at `base_url`, read in one query (a connection of its own),
// or nullopt when the server does not answer or its line lacks a field.
std::optional<FixtureStats> fixture_stats(const std::string& base_url);

// Waits, at most `limit`, until the fixture server at `base_url` holds no connection but the
// one asking and those whose clients' input has ended (half_closed): an earlier benchmark's
// clients may have closed thousands it has yet to close (a capacity measured then would be of
// a busy server). Returns "", or why it is not idle.
std::string wait_until_fixture_idle(const std::string& base_url, std::chrono::milliseconds limit);

// Stops the server if it runs (idempotent). main() calls it after the benchmarks.
void stop_fixture();

}  // namespace concbench::fetch
