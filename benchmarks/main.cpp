// SPDX-License-Identifier: MIT
// The concbench binary: the suite's flags, then Google Benchmark's, then every registered workload.
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "common/context.h"
#include "common/flags.h"
#include "common/registry.h"
#include "common/suite.h"
#include "fetch/suite.h"
#include "sum/suite.h"

namespace {

bool has_flag(const std::vector<char*>& args, std::string_view prefix) {
  return std::any_of(args.begin() + 1, args.end(),
                     [&](const char* a) { return std::string_view(a).starts_with(prefix); });
}

std::string flag_value(const std::vector<char*>& args, std::string_view prefix) {
  std::string value;
  for (size_t i = 1; i < args.size(); ++i)
    if (std::string_view(args[i]).starts_with(prefix)) value = args[i] + prefix.size();
  return value;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// Google Benchmark 1.7.1's boolean words, in any case (empty is true): their value, or nullopt
// for a word it gives no meaning (and takes as true).
constexpr std::string_view kTruthWords = "true, false, yes, no, on, off, t, f, y, n, 1, 0";
std::optional<bool> truth_of(const std::string& word) {
  const std::string w = lower(word);
  if (w == "" || w == "true" || w == "yes" || w == "on" || w == "t" || w == "y" || w == "1") return true;
  if (w == "false" || w == "no" || w == "off" || w == "f" || w == "n" || w == "0") return false;
  return std::nullopt;
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// "BENCHMARK_OUT" for "--benchmark_out=x": the variable of a flag.
std::string variable_of(const std::string& flag) {
  std::string name = flag.substr(2, flag.find('=') - 2);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
  return name;
}

// Google Benchmark 1.7.1 takes each of its flags from the environment too when it is not given
// ($BENCHMARK_FILTER for --benchmark_filter), set even if empty (an empty boolean is true, an
// empty format its usage and exit 0). Such a variable is made its flag here, in front of the
// rest (but an empty $BENCHMARK_OUT, which is no file to Google Benchmark, is no flag): the
// checks below then read it, the suite's defaults do not replace it (BENCHMARK_REPETITIONS=5
// ran 3 repetitions) and a bad value is an error (BENCHMARK_FORMAT=bogus printed the usage and
// exited 0). $BENCHMARK_CONTEXT is read with the
// --benchmark_context pairs instead, and $V, a name too common to take for the verbosity, is not:
// Google Benchmark reads it before main (V=2 made its output verbose), so --v=0 is given in its
// place (a V it cannot read as a number still gets its one line then, before main).
std::vector<std::string> flags_from_environment(const std::vector<char*>& args) {
  static constexpr const char* kNames[] = {
      "benchmark_list_tests",      "benchmark_filter",          "benchmark_min_time",
      "benchmark_min_warmup_time", "benchmark_repetitions",     "benchmark_enable_random_interleaving",
      "benchmark_report_aggregates_only", "benchmark_display_aggregates_only", "benchmark_format",
      "benchmark_out_format",      "benchmark_out",             "benchmark_color",
      "benchmark_counters_tabular", "benchmark_perf_counters",  "benchmark_time_unit"};
  std::vector<std::string> flags;
  for (const char* name : kNames) {
    const std::string flag = std::string("--") + name;
    const char* value = std::getenv(variable_of(flag).c_str());
    const bool given = has_flag(args, flag + "=") || std::any_of(args.begin() + 1, args.end(), [&](const char* a) {
                         return a == flag;
                       });
    if (value != nullptr && !given && !(flag == "--benchmark_out" && *value == '\0')) flags.push_back(flag + "=" + value);
  }
  return flags;
}

// " (given as $BENCHMARK_FILTER)" when FLAG ("--benchmark_filter") was no flag but its
// variable (FROM_ENVIRONMENT, flags_from_environment's), for the end of an error that names
// it; "" when the user typed it.
std::string given_as(const std::vector<std::string>& from_environment, std::string_view flag) {
  for (const std::string& f : from_environment)
    if (f.starts_with(std::string(flag) + "=")) return " (given as $" + variable_of(f) + ")";
  return "";
}

// The file Google Benchmark writes its record to: the last --benchmark_out= (its variable is one
// by now, flags_from_environment).
std::optional<std::string> benchmark_out(const std::vector<char*>& args) {
  if (has_flag(args, "--benchmark_out=")) return flag_value(args, "--benchmark_out=");
  return std::nullopt;
}

// The temporary record while it exists, for the signal handler, and the process that made it.
std::atomic<const char*> g_temp_record{nullptr};
static_assert(std::atomic<const char*>::is_always_lock_free, "read in a signal handler");
pid_t g_record_owner = 0;

extern "C" void remove_temp_record(int sig) {
  // Forked workers inherit the handler; the file is the parent's to remove, not theirs.
  const char* temp = g_temp_record.load();
  if (temp != nullptr && getpid() == g_record_owner) unlink(temp);
  signal(sig, SIG_DFL);
  raise(sig);  // delivered when the handler returns: the process ends as it would have without it
}

void remove_on_stop_signals(const char* temp) {
  g_record_owner = getpid();
  g_temp_record.store(temp);
  // SIGHUP (the terminal closed) and SIGPIPE (`| head`) end a run as often as these two.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
    struct sigaction old {};
    sigaction(sig, nullptr, &old);
    // Ignored from the start stays ignored: a shell starts a background job with SIGINT ignored.
    if (old.sa_handler == SIG_IGN) continue;
    struct sigaction sa {};
    sa.sa_handler = remove_temp_record;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, nullptr);
  }
}

// Google Benchmark writes the record through an ofstream whose errors it never checks: a disk
// that filled or a file-size limit cut the record short, and the cut-off record replaced FILE
// with exit status 0. This file reporter is Google Benchmark's own for the format and says
// whether all it wrote reached the file.
class WriteCheck {
 public:
  virtual ~WriteCheck() = default;
  // "" when the record was finished and all of it reached the file, else why not.
  std::string problem() const {
    if (!finished_) return "Google Benchmark ended the run without finishing the record";
    return written_ ? "" : "writing the record failed part-way (no room on the disk, or a file-size limit?)";
  }

 protected:
  bool finished_ = false, written_ = false;
};

template <typename Format>
class CheckedFileReporter final : public Format, public WriteCheck {
 public:
  using Format::Format;
  void Finalize() override {
    Format::Finalize();
    this->GetOutputStream().flush();
    finished_ = true;
    written_ = !this->GetOutputStream().fail();  // an earlier failed write stays failed
  }
};

BENCHMARK_DISABLE_DEPRECATED_WARNING  // the CSV reporter: Google Benchmark's own, still there
// Google Benchmark's CSV reporter takes its columns from the counters of the first benchmark it
// reports, and at a later one with a counter that first one lacked (sum's bare_s, only at the
// worker sweep's n; fetch's and peak's own) it aborts (a CHECK, which Debian's debug build keeps).
// This one keeps the runs and reports them in one batch at the end, whose counters together
// make the columns; a benchmark without one of them leaves its cell empty.
class WholeCsvReporter : public benchmark::CSVReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override { runs_.insert(runs_.end(), runs.begin(), runs.end()); }
  void Finalize() override {
    if (!runs_.empty()) CSVReporter::ReportRuns(runs_);
    runs_.clear();
    CSVReporter::Finalize();
  }

 private:
  std::vector<Run> runs_;
};
BENCHMARK_RESTORE_DEPRECATED_WARNING

// The file reporter for --benchmark_out_format (checked: console, json or csv; json if none).
std::unique_ptr<benchmark::BenchmarkReporter> checked_file_reporter(const std::string& format) {
  if (format == "console")
    return std::make_unique<CheckedFileReporter<benchmark::ConsoleReporter>>(benchmark::ConsoleReporter::OO_None);
  if (format == "csv") return std::make_unique<CheckedFileReporter<WholeCsvReporter>>();
  return std::make_unique<CheckedFileReporter<benchmark::JSONReporter>>();
}

// The record of --benchmark_out=FILE, which appears only whole. Google Benchmark writes it in
// place as the run goes, so a run stopped by SIGINT or SIGTERM left a cut-off record at FILE and
// had emptied an earlier one when it began. It is given FILE.tmp.PID beside FILE instead, renamed
// onto FILE when the run is over and removed when one of those signals stops the process. Any
// other end (SIGKILL, a crash) leaves the cut-off FILE.tmp.PID and an earlier FILE as it was;
// scripts/run_isolated.py reads what the process finished from there, and the next run that
// writes FILE removes it.
class RecordFile {
 public:
  RecordFile() = default;
  RecordFile(const RecordFile&) = delete;
  RecordFile& operator=(const RecordFile&) = delete;
  ~RecordFile() { discard(); }

  // Makes the temporary file for `path`, which is how a record that cannot be written is found
  // (access(W_OK) says yes to root even where no file can be made, as in /proc). Returns what
  // is wrong, or "".
  std::string create(const std::string& path) {
    struct stat st {};
    const bool exists = stat(path.c_str(), &st) == 0;
    // A name too long (ENAMETOOLONG) or a path through a file (ENOTDIR) would have its temporary
    // file made, cut short, and fail only at the rename after the run.
    if (!exists && errno != ENOENT) return std::string("cannot write it (") + std::strerror(errno) + ")";
    if (exists && !S_ISREG(st.st_mode)) {
      // A device or FIFO (/dev/null, /dev/stdout) is written as it is: a rename would put a
      // file in its place. Not opened to check it: closing a FIFO gives its reader end-of-file.
      if (access(path.c_str(), W_OK) != 0) return std::string("cannot write it (") + std::strerror(errno) + ")";
      target_ = path;
      return "";
    }
    if (exists) {
      // Opened to see that it may be written, which truncates nothing: an existing record that
      // may not be written is not replaced either.
      const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) return std::string("cannot write it (") + std::strerror(errno) + ")";
      close(fd);
    } else if (struct stat link {}; lstat(path.c_str(), &link) == 0) {
      return "a symbolic link to a missing file";
    }
    // A symbolic link's file is replaced, not the link.
    target_ = path;
    if (char* real = exists ? realpath(path.c_str(), nullptr) : nullptr) {
      target_ = real;
      std::free(real);
    }
    temp_ = temp_prefix() + std::to_string(getpid());
    remove_on_stop_signals(temp_.c_str());  // before the file exists: no moment leaves it behind
    int fd = open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    // Left by an earlier process of this pid (pids repeat, in containers above all). Removed
    // rather than opened: it could be a link to another file.
    if (fd < 0 && errno == EEXIST && unlink(temp_.c_str()) == 0)
      fd = open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
      const int err = errno;
      g_temp_record.store(nullptr);
      temp_.clear();
      return "cannot create a file in " + directory_of(target_) + " (" + std::strerror(err) + ")";
    }
    if (exists) fchmod(fd, st.st_mode & 07777);  // the record keeps the permissions of the one it replaces
    flock(fd, LOCK_EX | LOCK_NB);  // held while this run lives: see remove_left_by_the_dead
    lock_fd_ = fd;
    remove_left_by_the_dead();
    return "";
  }

  // The name Google Benchmark is to write.
  const std::string& write_path() const { return temp_.empty() ? target_ : temp_; }

  // Renames the record, whole, onto the file. Returns "", or why not: the record then stays
  // where it is, which the message names, rather than be lost. One that is not whole (UNWHOLE
  // says why) is removed, and FILE stays as it was.
  std::string keep(const std::string& unwhole) {
    if (temp_.empty()) return "";
    if (!unwhole.empty()) {
      discard();
      return unwhole + "; the file is as it was";
    }
    std::string problem;
    if (rename(temp_.c_str(), target_.c_str()) != 0)
      problem = std::string("cannot rename the record onto it (") + std::strerror(errno) + "); it is in " + temp_;
    g_temp_record.store(nullptr);
    temp_.clear();
    unlock();
    return problem;
  }

  // Removes the temporary file: a run that ended early or a listing leaves the file as it was.
  void discard() {
    if (temp_.empty()) return;
    unlink(temp_.c_str());
    g_temp_record.store(nullptr);
    temp_.clear();
    unlock();
  }

 private:
  void unlock() {
    if (lock_fd_ >= 0) close(lock_fd_);
    lock_fd_ = -1;
  }

  // The FILE.tmp.PID files beside this one whose process is gone (SIGKILL, a crash): a run that
  // writes FILE again removes them, so a crash's litter lasts until the next run, not for good.
  // One whose pid is alive is kept: it may be a run writing FILE now (scripts/run_isolated.py
  // reads a killed process's file before it starts the next), or a pid in use again, so unsure.
  // So is one another process holds locked: each run holds a lock on its own while it lives,
  // and a run in another pid namespace (a container sharing the folder) has a pid this one
  // cannot see.
  void remove_left_by_the_dead() const {
    const std::string path = temp_prefix();
    const std::string prefix = path.substr(path.rfind('/') + 1);
    const std::string dir = directory_of(target_);
    DIR* d = opendir(dir.c_str());
    if (!d) return;
    while (const dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string digits = name.substr(prefix.size());
      if (digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
        continue;
      const pid_t pid = static_cast<pid_t>(std::stol(digits));
      if (pid <= 0 || pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH) continue;
      const std::string file = dir + "/" + name;
      const int fd = open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) continue;
      if (flock(fd, LOCK_EX | LOCK_NB) == 0) unlink(file.c_str());
      close(fd);
    }
    closedir(d);
  }

  // FILE.tmp., with FILE's name cut short enough that ".tmp." and a pid of up to 9 digits still
  // make a name its directory can hold (NAME_MAX bytes): else a FILE whose name is within 5 bytes
  // plus the pid's digits of the limit could never be written, for want of a temporary name. The
  // cut falls between UTF-8 characters, not inside one (a name some file systems refuse). Two
  // such long FILEs alike in their first 241 bytes share the prefix: a run that writes one also
  // tidies a dead run's leftover of the other, as it does its own.
  std::string temp_prefix() const {
    constexpr size_t kTail = std::string_view(".tmp.").size() + 9;
    const size_t slash = target_.rfind('/');
    const size_t start = slash == std::string::npos ? 0 : slash + 1;
    size_t keep = std::min(target_.size() - start, NAME_MAX - kTail);
    while (keep > 0 && start + keep < target_.size() && (static_cast<unsigned char>(target_[start + keep]) & 0xC0) == 0x80)
      --keep;  // target_[start + keep], the first byte cut off, continues a character: cut before it
    return target_.substr(0, start + keep) + ".tmp.";
  }

  std::string target_;
  std::string temp_;  // empty: no temporary file (none made, or written in place)
  int lock_fd_ = -1;  // the temporary file, open and locked while this run lives
};

// Google Benchmark 1.7.1 takes these values without a word and then aborts
// (--benchmark_repetitions=-1 throws std::length_error), runs nothing and exits 0 (=0), or
// answers on two lines (=x); an --benchmark_out it cannot open ends the run with exit 1 in its
// own words, after the context. A time unit it does not know gets its usage text and exit 0,
// even with --benchmark_list_tests, whose caller then reads the usage as benchmark names; any
// word but false/no/off counts as true for a boolean (so =maybe is true), a negative warm-up as
// none. Returns what is wrong with the flags as given, or "".
std::string benchmark_flag_problem(const std::vector<char*>& args) {
  // An empty one too: Google Benchmark answers it with its usage text and exit code 0.
  for (std::string_view flag : {"--benchmark_format=", "--benchmark_out_format="}) {
    const std::string f = flag_value(args, flag);
    if (has_flag(args, flag) && f != "console" && f != "json" && f != "csv")
      return std::string(flag) + f + ": unknown output format (console, json or csv)";
  }
  if (has_flag(args, "--benchmark_time_unit=")) {
    const std::string unit = flag_value(args, "--benchmark_time_unit=");  // empty: unset
    if (unit != "" && unit != "ns" && unit != "us" && unit != "ms" && unit != "s")
      return "--benchmark_time_unit=" + unit + ": not one of ns, us, ms, s";
  }
  for (std::string_view flag : {"--benchmark_color=", "--benchmark_list_tests=",
                                "--benchmark_enable_random_interleaving=", "--benchmark_report_aggregates_only=",
                                "--benchmark_display_aggregates_only=", "--benchmark_counters_tabular="}) {
    const std::string v = flag_value(args, flag);
    const bool color = flag == "--benchmark_color=";
    // An empty color is Google Benchmark's usage text and exit 0, not "true".
    if (has_flag(args, flag) && (!truth_of(v) || (color && v.empty())) && !(color && lower(v) == "auto"))
      return std::string(flag) + v + ": not one of " + std::string(kTruthWords) + (color ? ", auto" : "");
  }
  // Debian's Google Benchmark is built without libpfm: asked for counters, it printed "Performance
  // counters not supported." before each benchmark, without a newline, and counted nothing.
  if (const std::string v = flag_value(args, "--benchmark_perf_counters="); !v.empty())
    return "--benchmark_perf_counters=" + v + ": this Google Benchmark reads no performance counters "
           "(built without libpfm); perf stat reads them from outside";
  if (has_flag(args, "--v=")) {
    const std::string v = flag_value(args, "--v=");
    char* end = nullptr;
    errno = 0;
    const long level = std::strtol(v.c_str(), &end, 10);
    // Google Benchmark reads it as an int32: a larger one got its own message and a second line
    if (v.empty() || *end != '\0' || errno == ERANGE || level < INT32_MIN || level > INT32_MAX)
      return "--v=" + v + ": not a whole number of 32 bits (a verbosity level)";
  }
  if (has_flag(args, "--benchmark_min_warmup_time=")) {
    const std::string v = flag_value(args, "--benchmark_min_warmup_time=");
    char* end = nullptr;
    const double t = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(t) || t < 0)
      return "--benchmark_min_warmup_time=" + v + ": not a number of seconds of at least 0";
  }
  if (has_flag(args, "--benchmark_repetitions=")) {
    const std::string v = flag_value(args, "--benchmark_repetitions=");
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || errno != 0 || n < 1 || n > INT_MAX)
      return "--benchmark_repetitions=" + v + ": not a whole number of at least 1";
  }
  if (has_flag(args, "--benchmark_min_time=")) {
    const std::string v = flag_value(args, "--benchmark_min_time=");
    char* end = nullptr;
    const double t = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(t) || t <= 0)
      return "--benchmark_min_time=" + v + ": not a positive number of seconds" +
             (v.ends_with('s') ? " (Google Benchmark 1.7.1 takes plain seconds: 0.05, not 0.05s)" : "");
  }
  if (const std::optional<std::string> out = benchmark_out(args)) {
    if (out->empty()) return "--benchmark_out= needs a file name";
    const std::string dir = directory_of(*out);
    struct stat st {};
    if (stat(out->c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return "--benchmark_out=" + *out + ": is a directory";
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return "--benchmark_out=" + *out + ": no directory " + dir;
  }
  return "";
}

// A boolean flag of Google Benchmark 1.7.1 (e.g. "benchmark_list_tests") as it will read it: the
// last --FLAG (true) or --FLAG=WORD (its variable is one by now, flags_from_environment).
bool benchmark_bool_flag(const std::vector<char*>& args, const std::string& name) {
  const std::string flag = "--" + name;
  bool on = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string_view a(args[i]);
    if (a == flag) on = true;
    if (a.starts_with(flag + "=")) on = truth_of(std::string(a.substr(flag.size() + 1))).value_or(true);
  }
  return on;
}

// The Google Benchmark flags the suite sets unless given, then with --quick: main inserts them,
// the help states them, and scripts/run_isolated.py (DEFAULT_FLAGS) knows a run that gives them
// is still the suite as it runs by default (tests/test_isolation.py compares it with the help).
constexpr const char* kDefaultFlags[] = {"--benchmark_min_time=0.1", "--benchmark_repetitions=3"};
constexpr const char* kQuickFlags[] = {"--benchmark_min_time=0.02", "--benchmark_repetitions=1"};

void print_usage(const concbench::FlagSet& flags) {
  std::cout << "usage: concbench [suite flags] [Google Benchmark flags]\n\n"
               "Times concurrency models on CPU-bound (sum) and IO-bound (fetch) work.\n"
               "Benchmark names carry every argument, e.g. sum/tbb/range/workers:4/n:100000000,\n"
               "so --benchmark_filter selects on any of them.\n\n"
            << "Built from commit " << concbench::build_commit() << " (uncommitted changes: "
            << concbench::build_dirty() << ").\n\n"
            << "Suite flags:\n";
  flags.print_help(std::cout);
  std::cout << "\nDefaults the suite sets unless given:";
  for (const char* flag : kDefaultFlags) std::cout << ' ' << flag;
  std::cout << "\n(--quick:";
  for (const char* flag : kQuickFlags) std::cout << ' ' << flag;
  std::cout << ").\n\nGoogle Benchmark flags:\n";
}

// The line filter_overflowed() prints, made before the matching: a handler may not allocate.
const char* g_overflow_line = nullptr;

extern "C" void filter_overflowed(int) {
  if (const char* temp = g_temp_record.load()) unlink(temp);
  ssize_t ignored = write(STDERR_FILENO, g_overflow_line, std::strlen(g_overflow_line));
  (void)ignored;
  _exit(2);
}

struct MatchJob {
  const std::string& filter;
  std::vector<std::string> selected;
  std::exception_ptr error;
};

// Runs the job with an alternate signal stack, where filter_overflowed() runs when the thread's
// own stack has no room left.
extern "C" void* match_with_signal_stack(void* arg) {
  auto& job = *static_cast<MatchJob*>(arg);
  std::vector<char> handler_stack(64 << 10);
  stack_t own{}, old{};
  own.ss_sp = handler_stack.data();
  own.ss_size = handler_stack.size();
  sigaltstack(&own, &old);
  try {
    job.selected = concbench::matching_names(job.filter);
  } catch (...) {  // a UsageError: not a regular expression
    job.error = std::current_exception();
  }
  sigaltstack(&old, nullptr);
  return nullptr;
}

// std::regex compiles and matches by recursion: a frame per term of an alternative as it
// compiles, a frame per state it goes through as it matches. 120,000 characters with no |, or
// (a*){16000}, which makes 16,000 copies of a*, went past the end of the stack (SIGSEGV), here or
// when Google Benchmark matched the same names after this. So the filter is compiled and
// matched in a thread with a quarter of the main thread's stack, and one that runs out of it
// ends the process with one line. Google Benchmark's frames (Debian's library) took twice ours a
// state, so a filter this matches it matches too, on the main thread's whole stack.
std::vector<std::string> matching_names_in_stack(const std::string& filter, const std::string& given) {
  static constexpr size_t kShare = 4;
  const std::string line = "concbench: --benchmark_filter=" + concbench::printable(filter.substr(0, 200)) +
                           (filter.size() > 200 ? "..." : "") +
                           ": std::regex ran out of stack for it (it recurses through every state, and a "
                           "repeat such as (a*){16000} copies its group): simplify it, or raise ulimit -s" +
                           given + "\n";
  g_overflow_line = line.c_str();
  struct sigaction on_overflow {}, old_action {};
  on_overflow.sa_handler = filter_overflowed;
  on_overflow.sa_flags = SA_ONSTACK;
  sigemptyset(&on_overflow.sa_mask);
  sigaction(SIGSEGV, &on_overflow, &old_action);
  // An unlimited main stack grows as far as Google Benchmark's matching needs: a gigabyte's quarter here.
  rlimit stack{};
  const size_t main_stack = getrlimit(RLIMIT_STACK, &stack) != 0 ? size_t{8} << 20
                            : stack.rlim_cur == RLIM_INFINITY  ? size_t{1} << 30
                                                               : static_cast<size_t>(stack.rlim_cur);
  MatchJob job{filter, {}, nullptr};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_t thread;
  const bool started = pthread_attr_setstacksize(&attr, std::max<size_t>(main_stack / kShare, 256 << 10)) == 0 &&
                       pthread_create(&thread, &attr, match_with_signal_stack, &job) == 0;
  pthread_attr_destroy(&attr);
  if (started)
    pthread_join(thread, nullptr);
  else  // no thread to be had (ulimit -u): on this one's stack, the handler still in place
    match_with_signal_stack(&job);
  sigaction(SIGSEGV, &old_action, nullptr);
  g_overflow_line = nullptr;
  if (job.error) std::rethrow_exception(job.error);
  return std::move(job.selected);
}

// matching_names under a time limit. std::regex backtracks: a filter such as (.*)*zz takes time
// exponential in a name's length (still matching after 20 s here), and Google Benchmark
// matches with the same engine after this. Every name of the suite takes microseconds, so
// after kFilterSeconds the process gives up with an error, its temporary record removed,
// rather than hang. GIVEN ends the error (given_as).
std::vector<std::string> matching_names_in_time(const std::string& filter, const std::string& given) {
  static constexpr int kFilterSeconds = 5;
  struct Watchdog {  // stopped and joined however the matching ends, a UsageError included
    std::mutex mutex;
    std::condition_variable finished;
    bool done = false;
    std::thread thread;
    ~Watchdog() {
      {
        std::lock_guard lock(mutex);
        done = true;
      }
      finished.notify_one();
      if (thread.joinable()) thread.join();
    }
  } watchdog;
  try {
    watchdog.thread = std::thread([&watchdog, &filter, &given] {
      std::unique_lock lock(watchdog.mutex);
      if (watchdog.finished.wait_for(lock, std::chrono::seconds(kFilterSeconds), [&] { return watchdog.done; }))
        return;
      std::fprintf(stderr, "concbench: --benchmark_filter=%s: still matching after %d s (a pattern such as (.*)*x "
                   "backtracks without end): simplify it%s\n", concbench::printable(filter).c_str(), kFilterSeconds,
                   given.c_str());
      if (const char* temp = g_temp_record.load()) unlink(temp);
      std::_Exit(2);
    });
  } catch (const std::system_error&) {
    // No thread to be had (a pids cgroup, ulimit -u): it matches without a time limit rather
    // than end the run with std::terminate; the models then say what they could not start.
  }
  return matching_names_in_stack(filter, given);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace concbench;
  if (const std::string problem = native_cpu_problem(); !problem.empty()) {
    std::cerr << "concbench: " << problem << '\n';
    return 2;
  }
  Suite suite{false, usable_cpus()};
  sum::Options sum_options;
  fetch::Options fetch_options;

  std::optional<Progress> progress;

  FlagSet flags;
  flags.add_switch("quick", "fewer sizes and workers, one repetition: a first look in a minute",
                   [&] { suite.quick = true; });
  flags.add("progress", "K/N",
            "number this process's first benchmark K of N in the [k/N] progress (./bench "
            "runs each model in a process of its own)",
            [&](const std::string& v) { progress = parse_progress(v); });
  sum::add_flags(flags, sum_options);
  fetch::add_flags(flags, fetch_options);

  const bool help = std::any_of(argv + 1, argv + argc, [](const char* a) {
    return std::strcmp(a, "--help") == 0 || std::strcmp(a, "-h") == 0;
  });
  if (help) {
    print_usage(flags);
    benchmark::PrintDefaultHelp();
    return 0;
  }
  try {
    flags.parse(&argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "concbench: " << e.what() << '\n';
    return 2;
  }

  // The suite's defaults go in front, so a flag the user gave, or its variable, still wins.
  std::vector<char*> args(argv, argv + argc);
  std::vector<std::string> from_environment = flags_from_environment(args);
  for (std::string& flag : from_environment) args.insert(args.begin() + 1, flag.data());
  std::vector<std::string> defaults(std::begin(kDefaultFlags), std::end(kDefaultFlags));
  if (suite.quick) defaults.assign(std::begin(kQuickFlags), std::end(kQuickFlags));
  for (std::string& flag : defaults) {
    const std::string_view name = std::string_view(flag).substr(0, flag.find('=') + 1);
    if (!has_flag(args, name)) args.insert(args.begin() + 1, flag.data());
  }
  static std::string quiet = "--v=0";  // over $V (flags_from_environment says why)
  if (std::getenv("V") != nullptr && !has_flag(args, "--v=")) args.insert(args.begin() + 1, quiet.data());
  // Read before Initialize, which removes the flags it knows from argv.
  const std::string format = flag_value(args, "--benchmark_format=");
  const std::string out_format = flag_value(args, "--benchmark_out_format=");
  const std::string color = lower(flag_value(args, "--benchmark_color="));
  // The counters in columns unless told otherwise (=false was taken and ignored)
  const bool tabular = !has_flag(args, "--benchmark_counters_tabular=") ||
                       truth_of(flag_value(args, "--benchmark_counters_tabular=")).value_or(true);
  if (std::string problem = benchmark_flag_problem(args); !problem.empty()) {
    problem += given_as(from_environment, problem.substr(0, problem.find('=')));  // every problem names its flag first
    std::cerr << "concbench: " << printable(problem) << '\n';
    return 2;
  }
  // The user's context. Google Benchmark read $BENCHMARK_CONTEXT before main and adds it in
  // Initialize, before the binary's own entries, and would add every --benchmark_context's pairs
  // there too, where they would keep a key over the binary's: the flags are taken from it, and
  // their pairs added after the binary's entries (add_user_context refuses a clash).
  try {
    const char* env = std::getenv(kContextVariable);
    std::vector<UserContext> pairs = parse_context_pairs(env != nullptr ? env : "", kContextVariable);
    for (size_t i = 1; i < args.size(); ++i)
      if (const std::string_view a(args[i]); a.starts_with("--benchmark_context="))
        for (UserContext& u : parse_context_pairs(a.substr(a.find('=') + 1), "--benchmark_context"))
          pairs.push_back(std::move(u));
    expect_user_context(std::move(pairs));
  } catch (const UsageError& e) {
    std::cerr << "concbench: " << e.what() << '\n';
    return 2;
  }
  std::erase_if(args, [](const char* a) { return std::string_view(a).starts_with("--benchmark_context="); });
  // Whether the record can be written is found by making its temporary file, before any
  // benchmark runs; the file is removed again on every way out of main before the run.
  const std::optional<std::string> out = benchmark_out(args);
  const std::string out_given = given_as(from_environment, "--benchmark_out");
  RecordFile record;
  std::string record_flag;
  if (out) {
    if (const std::string problem = record.create(*out); !problem.empty()) {
      std::cerr << "concbench: --benchmark_out=" << *out << ": " << problem << out_given << '\n';
      return 2;
    }
    // Last, so it is the one Google Benchmark reads (and over $BENCHMARK_OUT).
    record_flag = "--benchmark_out=" + record.write_path();
    args.push_back(record_flag.data());
  }
  // Listing runs nothing: ./bench lists what it will run with the flags it runs each process with.
  const bool listing = benchmark_bool_flag(args, "benchmark_list_tests");
  const bool interleaved = benchmark_bool_flag(args, "benchmark_enable_random_interleaving") && !listing;
  args.push_back(nullptr);
  int count = static_cast<int>(args.size()) - 1;
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 2;
  args.resize(count + 1);

  try {
    sum::register_benchmarks(sum::make_sweep(suite, sum_options));
    fetch::register_benchmarks(fetch::make_sweep(suite, fetch_options));
  } catch (const UsageError& e) {
    std::cerr << "concbench: " << e.what() << '\n';
    return 2;
  }
  add_run_context();
  try {
    add_user_context();
  } catch (const UsageError& e) {
    std::cerr << "concbench: " << e.what() << '\n';
    return 2;
  }

  const std::string filter = benchmark::GetBenchmarkFilter();
  const std::string filter_given = given_as(from_environment, "--benchmark_filter");
  std::vector<std::string> selected;
  try {
    selected = matching_names_in_time(filter, filter_given);
  } catch (const UsageError& e) {  // the filter is no regular expression
    std::cerr << "concbench: " << e.what() << filter_given << '\n';
    return 2;
  }
  const size_t total = selected.size();
  if (total == 0) {
    std::cerr << "concbench: no benchmark matches --benchmark_filter=" << printable(filter)
              << " (--benchmark_list_tests lists them)" << filter_given << '\n';
    return 2;
  }
  if (progress && progress->first + total - 1 > progress->total) {  // it printed [12/3]
    std::cerr << "concbench: --progress=" << progress->first << '/' << progress->total << ": the " << total
              << " benchmarks selected would be numbered " << progress->first << " to "
              << progress->first + total - 1 << ", past " << progress->total << '\n';
    return 2;
  }
  // Each workload frees what it keeps (arrays, models, MPI) when a benchmark of another starts,
  // so that none runs beside another's memory and processes. Interleaved, the workloads would
  // take turns: sum/mpi failed after its first repetition (MPI cannot start again once
  // finalized), and every turn would rebuild the others' models and arrays.
  if (interleaved) {
    std::vector<std::string> workloads;
    for (const std::string& name : selected) {
      const std::string w = name.substr(0, name.find('/'));
      if (std::find(workloads.begin(), workloads.end(), w) == workloads.end()) workloads.push_back(w);
    }
    if (workloads.size() > 1) {
      std::cerr << "concbench: --benchmark_enable_random_interleaving would mix the " << workloads[0] << " and "
                << workloads[1] << " workloads in one process: filter one workload, or run ./bench, which "
                << "runs each model in a process of its own"
                << given_as(from_environment, "--benchmark_enable_random_interleaving") << '\n';
      return 2;
    }
  }

  // The "[k/N]" progress prefix only makes sense on the plain console format.
  std::unique_ptr<benchmark::BenchmarkReporter> reporter;
  if (format.empty() || format == "console") {
    // "auto" as Google Benchmark 1.7.1 decides it: stdout a terminal whose TERM is one of those it
    // knows to take colour (TERM=dumb got colour codes here when only the terminal was asked).
    static constexpr std::string_view kColorTerms[] = {"xterm", "xterm-color", "xterm-256color", "screen",
                                                       "screen-256color", "tmux", "tmux-256color", "rxvt-unicode",
                                                       "rxvt-unicode-256color", "linux", "cygwin"};
    const char* term = std::getenv("TERM");
    bool use_color = isatty(STDOUT_FILENO) != 0 && term != nullptr &&
                     std::find(std::begin(kColorTerms), std::end(kColorTerms), std::string_view(term)) !=
                         std::end(kColorTerms);
    if (!color.empty() && color != "auto") use_color = *truth_of(color);  // checked above: a word it knows
    reporter = make_progress_reporter(progress.value_or(Progress{1, total}), use_color, tabular);
  } else if (format == "csv") {
    reporter = std::make_unique<WholeCsvReporter>();
  }
  std::unique_ptr<benchmark::BenchmarkReporter> file_reporter;
  if (out && !listing) file_reporter = checked_file_reporter(out_format);
  benchmark::RunSpecifiedBenchmarks(reporter.get(), file_reporter.get());  // null: Google Benchmark's own
  // The record is whole once the run has returned and its writes succeeded; a listing writes none.
  std::string unkept;
  if (listing)
    record.discard();
  else if (file_reporter)
    unkept = record.keep(dynamic_cast<const WriteCheck&>(*file_reporter).problem());
  sum::finish();    // stops the last model's threads and worker processes
  fetch::finish();  // stops the fixture server if a fetch benchmark started it
  benchmark::Shutdown();
  if (!unkept.empty()) {  // said last: ./bench reports a process's last line
    std::cerr << "concbench: --benchmark_out=" << *out << ": " << unkept << out_given << '\n';
    return 1;
  }
  // Google Benchmark's own binaries exit 0 whatever erred; a script or shell that checks the
  // status (`concbench ... && plot`) must not take a run that measured nothing for one that did.
  if (const auto& erred = erred_names(); !listing && !erred.empty()) {
    std::cerr << "concbench: " << erred.size() << " of " << total << " benchmarks erred (";
    if (erred.size() > 1) std::cerr << "the first ";
    std::cerr << erred[0] << "); each one's result says why\n";
    return 3;
  }
  return 0;
}
