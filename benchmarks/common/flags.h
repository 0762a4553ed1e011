// SPDX-License-Identifier: MIT
// The suite's own command-line flags, taken out of argv before Google Benchmark parses the rest.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace concbench {

// `text` with every byte outside printable ASCII as \xNN: an error message quotes bad input
// whole on one line (a NUL would end it, a newline split it) and never sends the terminal a
// control sequence.
std::string printable(std::string_view text);

// Thrown for bad command-line input; main() prints its message and exits 2. The message is
// made printable here, so every one stays one line whatever input it quotes.
struct UsageError : std::runtime_error {
  explicit UsageError(std::string_view message) : std::runtime_error(printable(message)) {}
};

class FlagSet {
 public:
  // A flag written --name=VALUE; `set` throws UsageError on a value it cannot take.
  void add(std::string name, std::string value_hint, std::string help,
           std::function<void(const std::string&)> set);
  // A flag written --name alone.
  void add_switch(std::string name, std::string help, std::function<void()> set);

  // Applies and removes the suite's flags from argv. Leaves --benchmark_*, --v= and
  // --help for Google Benchmark; anything else that starts with "--" is a UsageError.
  void parse(int* argc, char** argv) const;
  void print_help(std::ostream& out) const;

 private:
  struct Flag {
    std::string name, value_hint, help;
    std::function<void(const std::string&)> set;
    bool is_switch;
  };
  std::vector<Flag> flags_;
};

// "1,2,4" -> {1, 2, 4}; each in [lo, hi].
std::vector<int> parse_int_list(std::string_view flag, std::string_view text, int lo, int hi);
// "1e3,1000000,1e8" -> sizes; exact non-negative integers only, each <= hi.
std::vector<int64_t> parse_size_list(std::string_view flag, std::string_view text, int64_t hi);

// A test hook's on/off variable (never set by ./bench): unset or empty is off, "1" on, anything
// else a UsageError that names it.
bool test_switch(const char* variable);

// Files that list one entry a line (--fetch_urls, --mpi_hosts): a line's entry, blanks around it
// trimmed, or empty for a blank line or a comment (# first).
std::string_view listing_entry(std::string_view line);
// Whether `text` holds a control character (below 0x20, or DEL) other than a tab or a CR: in a
// listing it means a binary file, or a NUL that would cut the entry short where C reads it.
bool has_control_char(std::string_view text);
}  // namespace concbench
