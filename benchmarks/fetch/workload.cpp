// SPDX-License-Identifier: MIT
// What a fetch run asks for: the request lists, their lower-bound time, the --fetch_urls file.
#include "fetch/workload.h"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>

#include "common/flags.h"
#include "fixtures/protocol.h"

namespace concbench::fetch {

Request fixture_request(const std::string& base_url, const fixture::RequestSpec& spec) {
  return {base_url + fixture::request_target(spec), true, spec.id, fixture::expected_body_bytes(spec)};
}

std::vector<Request> fixture_requests(const std::string& base_url, std::span<const int> delays_ms,
                                      uint64_t bytes) {
  std::vector<Request> requests;
  requests.reserve(delays_ms.size());
  for (size_t i = 0; i < delays_ms.size(); ++i)
    requests.push_back(fixture_request(base_url, {.bytes = bytes, .delay_ms = static_cast<uint64_t>(delays_ms[i]), .id = i}));
  return requests;
}

std::vector<Request> warm_round(const std::string& base_url, size_t count, uint64_t bytes) {
  std::vector<Request> requests;
  requests.reserve(count);
  for (size_t i = 0; i < count; ++i) requests.push_back(fixture_request(base_url, {.bytes = bytes, .id = i, .gate = count}));
  return requests;
}

std::vector<int> uniform_delays(int n, int delay_ms) { return std::vector<int>(n, delay_ms); }

std::vector<int> seed_profile_delays() {
  std::vector<int> delays;
  for (int round = 0; round < kSeedRequestsPerSite; ++round)
    delays.insert(delays.end(), kSeedSiteDelaysMs.begin(), kSeedSiteDelaysMs.end());
  return delays;
}

std::vector<double> arrival_offsets(int n, double rate, bool poisson) {
  std::vector<double> out(static_cast<size_t>(std::max(0, n)));
  std::mt19937_64 rng(0x636f6e63u + static_cast<uint64_t>(n));
  std::exponential_distribution<double> gap(rate);
  double t = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = poisson ? t : static_cast<double>(i) / rate;
    t += gap(rng);
  }
  // Stretched to the even schedule's span, (n - 1) / rate: the seeded draws alone came out
  // 2-4% off it (1,034 a second for a label of 1,000), so a Poisson point offered another load
  // than its name and than the even point beside it. Scaled, the times are those of a Poisson
  // process given n arrivals in that span (uniform order statistics), at exactly the rate.
  if (poisson && out.size() > 1 && out.back() > 0) {
    const double scale = static_cast<double>(out.size() - 1) / rate / out.back();
    for (double& x : out) x *= scale;
  }
  return out;
}

double gap_cv(std::span<const double> times) {
  if (times.size() < 2) return 0;
  const double n = static_cast<double>(times.size() - 1);
  double sum = 0, sum_sq = 0;
  for (size_t i = 1; i < times.size(); ++i) {
    const double g = times[i] - times[i - 1];
    sum += g;
    sum_sq += g * g;
  }
  const double mean = sum / n;
  if (mean <= 0) return 0;
  return std::sqrt(std::max(0.0, sum_sq / n - mean * mean)) / mean;
}

std::vector<Request> url_requests(std::span<const std::string> urls, int n) {
  std::vector<Request> requests;
  requests.reserve(n);
  for (int i = 0; i < n; ++i) requests.push_back({urls[i % urls.size()], false, 0, 0});
  return requests;
}

double ideal_makespan(std::span<const int> delays_ms, int slots) {
  std::vector<int64_t> d(delays_ms.begin(), delays_ms.end());
  if (d.empty()) return 0;
  std::sort(d.begin(), d.end(), std::greater<>());
  std::vector<int64_t> prefix(d.size() + 1, 0);  // prefix[i]: the i longest, summed
  for (size_t i = 0; i < d.size(); ++i) prefix[i + 1] = prefix[i] + d[i];
  const auto c = static_cast<size_t>(std::max(1, slots));
  double bound = std::max(static_cast<double>(d[0]), static_cast<double>(prefix.back()) / static_cast<double>(c));
  for (size_t k = 1; k * c < d.size(); ++k)  // d[k*C] is the (k*C + 1)-th longest
    bound = std::max(bound, static_cast<double>(prefix[k * c + 1] - prefix[k * c - k]));
  return bound / 1000.0;
}

ClientOptions fixture_client_options(int max_delay_ms, uint64_t bytes, bool keepalive) {
  ClientOptions o;
  // 10 s beyond the delay, and 1 ms per KiB on top (1 MiB bodies at 1 MiB/s would still pass):
  // loose enough for C = 1000 on two busy cores, tight enough that a stall costs seconds.
  // The warm-up round's gate gives up first, so its 503 with a reason arrives, not a timeout.
  static_assert(fixture::kGateTimeoutMs < 10'000);
  o.timeout = std::chrono::milliseconds(max_delay_ms + 10'000 + static_cast<int64_t>(bytes / 1024));
  o.connect_timeout = std::chrono::milliseconds(5'000);
  o.keepalive = keepalive;
  return o;
}

ClientOptions url_client_options() {
  ClientOptions o;
  o.timeout = std::chrono::milliseconds(30'000);
  o.connect_timeout = std::chrono::milliseconds(10'000);
  o.follow_redirects = true;
  o.use_env_proxy = true;  // real sites: a proxy the environment names is how they are reached
  return o;
}

namespace {

// Why `url` is not an absolute http(s) URL with a host, or "".
std::string url_problem(const std::string& url) {
  if (url.find_first_of(" \t\r\v\f") != std::string::npos) return "contains white space";
  // libcurl would take a URL cut at a NUL, the string up to it.
  if (has_control_char(url)) return "contains a control character";
  std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), curl_url_cleanup);
  if (!u) return "cannot be parsed (out of memory)";
  if (curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK)
    return url.find("://") == std::string::npos ? "is not a URL (it needs http:// or https://)"
                                                : "is not a URL";
  char* scheme = nullptr;
  if (curl_url_get(u.get(), CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) return "has no scheme";
  const std::string s = scheme;
  curl_free(scheme);
  if (s != "http" && s != "https") return "is not http:// or https://";
  char* host = nullptr;
  if (curl_url_get(u.get(), CURLUPART_HOST, &host, 0) != CURLUE_OK) return "has no host";
  curl_free(host);
  return "";
}

}  // namespace

std::vector<std::string> parse_url_list(std::string_view text, const std::string& source) {
  std::vector<std::string> urls;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    ++line_no;
    const std::string_view entry = listing_entry(line);
    if (entry.empty()) continue;
    const std::string url(entry);
    if (std::string why = url_problem(url); !why.empty()) {
      const std::string shown = url.size() > 80 ? url.substr(0, 77) + "..." : url;
      throw UsageError("--fetch_urls: " + source + ":" + std::to_string(line_no) + ": '" + shown +
                       "' " + why);
    }
    urls.push_back(url);
  }
  if (urls.empty())
    throw UsageError("--fetch_urls: " + source +
                     " lists no URLs (one per line; # starts a comment)");
  return urls;
}

std::vector<std::string> read_url_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw UsageError("--fetch_urls: '" + path + "' is a directory, not a file of URLs");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("--fetch_urls: cannot read '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw UsageError("--fetch_urls: error reading '" + path + "'");
  return parse_url_list(text.str(), path);
}

}  // namespace concbench::fetch
