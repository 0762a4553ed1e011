// SPDX-License-Identifier: MIT
// Parsing of the suite's flags and of the lists they take.
#include "common/flags.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iomanip>

namespace concbench {

void FlagSet::add(std::string name, std::string value_hint, std::string help,
                  std::function<void(const std::string&)> set) {
  flags_.push_back({std::move(name), std::move(value_hint), std::move(help), std::move(set), false});
}

void FlagSet::add_switch(std::string name, std::string help, std::function<void()> set) {
  flags_.push_back({std::move(name), "", std::move(help),
                    [set = std::move(set)](const std::string&) { set(); }, true});
}

void FlagSet::parse(int* argc, char** argv) const {
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    std::string_view arg = argv[i];
    bool consumed = false;
    if (arg.starts_with("--") && !arg.starts_with("--benchmark_") && !arg.starts_with("--v=") &&
        arg != "--help") {
      std::string_view body = arg.substr(2);
      auto eq = body.find('=');
      std::string_view name = body.substr(0, eq);
      for (const Flag& f : flags_) {
        if (f.name != name) continue;
        if (f.is_switch && eq != std::string_view::npos)
          throw UsageError("--" + f.name + " takes no value");
        if (!f.is_switch && eq == std::string_view::npos)
          throw UsageError("--" + f.name + " needs a value: --" + f.name + "=" + f.value_hint);
        f.set(f.is_switch ? std::string() : std::string(body.substr(eq + 1)));
        consumed = true;
        break;
      }
      if (!consumed) throw UsageError("unknown flag '" + std::string(arg) + "' (see --help)");
    }
    if (!consumed) argv[out++] = argv[i];
  }
  *argc = out;
  argv[out] = nullptr;
}

void FlagSet::print_help(std::ostream& out) const {
  for (const Flag& f : flags_) {
    std::string left = "  --" + f.name + (f.is_switch ? "" : "=" + f.value_hint);
    out << std::left << std::setw(34) << left << ' ' << f.help << '\n';
  }
}

namespace {

std::vector<std::string_view> split_commas(std::string_view flag, std::string_view text) {
  std::vector<std::string_view> parts;
  if (text.empty()) throw UsageError("--" + std::string(flag) + " needs a comma-separated list");
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view part = text.substr(start, comma - start);
    if (part.empty())
      throw UsageError("--" + std::string(flag) + ": empty item in '" + std::string(text) + "'");
    parts.push_back(part);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return parts;
}

}  // namespace

bool test_switch(const char* variable) {
  const char* text = std::getenv(variable);
  if (text == nullptr || *text == 0) return false;
  if (std::string_view(text) != "1") throw UsageError(std::string(variable) + ": '" + text + "' is not 1");
  return true;
}

std::vector<int> parse_int_list(std::string_view flag, std::string_view text, int lo, int hi) {
  std::vector<int> values;
  for (std::string_view part : split_commas(flag, text)) {
    int v = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (ec != std::errc() || end != part.data() + part.size() || v < lo || v > hi)
      throw UsageError("--" + std::string(flag) + ": '" + std::string(part) +
                       "' is not a whole number in " + std::to_string(lo) + ".." +
                       std::to_string(hi));
    values.push_back(v);
  }
  return values;
}

std::vector<int64_t> parse_size_list(std::string_view flag, std::string_view text, int64_t hi) {
  std::vector<int64_t> values;
  for (std::string_view part : split_commas(flag, text)) {
    // Accept 1e8 as well as 100000000, but only when it names an exact integer.
    std::string s(part);
    char* end = nullptr;
    errno = 0;
    double d = std::strtod(s.c_str(), &end);
    // strtod also reads hex (0x10), "inf" and "nan"; only decimal digits and an exponent
    // are sizes here.
    bool decimal = s.find_first_not_of("0123456789.eE+") == std::string::npos;
    bool ok = decimal && !s.empty() && end == s.c_str() + s.size() && errno == 0 &&
              std::isfinite(d) && d >= 0 && d <= static_cast<double>(hi) && std::floor(d) == d &&
              (std::isdigit(static_cast<unsigned char>(s[0])) != 0);
    if (!ok)
      throw UsageError("--" + std::string(flag) + ": '" + s +
                       "' is not a size (a whole number from 0 to " + std::to_string(hi) +
                       ", e.g. 1000 or 1e6)");
    values.push_back(static_cast<int64_t>(d));
  }
  return values;
}

std::string_view listing_entry(std::string_view line) {
  const size_t first = line.find_first_not_of(" \t\r");
  if (first == std::string_view::npos || line[first] == '#') return {};
  return line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
}

bool has_control_char(std::string_view text) {
  for (const unsigned char c : text)
    if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) return true;
  return false;
}

std::string printable(std::string_view text) {
  std::string out;
  for (const unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
    }
  }
  return out;
}

}  // namespace concbench
