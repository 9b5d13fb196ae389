// loadtest/maskbench.cc — MaskBench (JSONSchemaBench's mask benchmark) run
// with inferd's grammar engine: conformance (does every valid instance get
// through the masks, is every invalid one stopped) and speed (TBM: time to
// compute one token mask and commit the token; TTFM: compile time).
//
//   build/maskbench DIR [--limit N] [--filter SUBSTR] [--timeout-s S]
//       [--jobs 1] [--chunk N] [--mem-limit-gb 8] [--tokenizer DIR]
//       [--json OUT] [--failures OUT.jsonl] [--max-features 40]
//       [--max-errors 30] [--compact] [--shuffle SEED] [--cpu-clock]
//
// DIR holds MaskBench's data/*.json files (github:guidance-ai/jsonschemabench,
// maskbench/data; never part of this repository). The protocol per file is
// the reference harness's (maskbench_schema_run.h). Schemas run in forked
// children: by default one child per job for all its schemas, so the
// grammar engine's caches stay warm across schemas, as in a long-running
// server and in the reference harness (one process for every schema);
// --chunk N starts a fresh child every N schemas (cold caches each time:
// with 64, TBM p99 is about 1.5x higher). A crash costs one schema (counted,
// with its id) and not the run: a new child takes the schemas after it. A
// child silent for longer than the timeout is killed and its schema counted
// as a timeout. --jobs 1 (the default) measures single-threaded, as the
// published figures are; more jobs run children side by side and make the
// timings noisier.
//
// --shuffle runs the files in a seeded random order (the reference
// harness shuffles too), so a run stopped early — SIGINT or SIGTERM: the
// children are killed and the report covers the schemas finished, marked
// partial — is a uniform sample of the set, not its alphabetical head.
//
// --failures writes one JSON line per schema that did not pass: the compile
// error (and whether JsonSchemaToGbnf or CompileGbnf gave it), or each
// failing instance with its text, the refused token and the prefix the
// masks accepted before it.
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/structured_output/token_vocabulary.h"
#include "engine/tokenizer/tokenizer.h"
#include "loadtest/maskbench_report.h"
#include "loadtest/maskbench_schema_run.h"

namespace {

using Clock = std::chrono::steady_clock;
using inferd::loadtest::SchemaOutcome;
using inferd::loadtest::SchemaResult;

struct Options {
  std::string dir;
  int64_t limit = -1;
  std::string filter;
  double timeout_s = 60;
  int jobs = 1;
  int chunk = 0;  // schemas per child; 0: all of a job's in one child
  double mem_limit_gb = 8;
  std::string tokenizer = "../shared/tokenizers/llama3";
  std::string json_out;
  std::string failures_out;
  int max_features = 40;
  int max_errors = 30;
  bool compact = false;       // JSON whitespace not allowed (default: allowed, as MaskBench)
  bool cpu_clock = false;     // TBM by the thread's CPU clock (A/B runs on a shared machine)
  int64_t shuffle_seed = -1;  // -1: sorted order
  std::string crash_on;       // test hook (--test-crash-on SUBSTR)
};

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: maskbench DIR [--limit N] [--filter SUBSTR] [--timeout-s S] [--jobs N] "
               "[--chunk N] [--mem-limit-gb G] [--tokenizer DIR] [--json OUT] "
               "[--failures OUT.jsonl] [--max-features N] [--max-errors N] [--compact] "
               "[--shuffle SEED] [--cpu-clock]\n");
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  if (const char* shared = std::getenv("INFERD_SHARED_DIR"); shared != nullptr && *shared) {
    o.tokenizer = std::string(shared) + "/tokenizers/llama3";
  }
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    auto integer = [&]() {
      int64_t v = 0;
      if (!absl::SimpleAtoi(next(), &v)) Usage();
      return v;
    };
    auto real = [&]() {
      double v = 0;
      if (!absl::SimpleAtod(next(), &v)) Usage();
      return v;
    };
    if (a == "--limit") {
      o.limit = integer();
    } else if (a == "--filter") {
      o.filter = next();
    } else if (a == "--timeout-s") {
      o.timeout_s = real();
    } else if (a == "--jobs") {
      o.jobs = static_cast<int>(std::max<int64_t>(1, integer()));
    } else if (a == "--chunk") {
      o.chunk = static_cast<int>(std::max<int64_t>(0, integer()));
    } else if (a == "--mem-limit-gb") {
      o.mem_limit_gb = real();
    } else if (a == "--tokenizer") {
      o.tokenizer = next();
    } else if (a == "--json") {
      o.json_out = next();
    } else if (a == "--failures") {
      o.failures_out = next();
    } else if (a == "--max-features") {
      o.max_features = static_cast<int>(integer());
    } else if (a == "--max-errors") {
      o.max_errors = static_cast<int>(integer());
    } else if (a == "--shuffle") {
      o.shuffle_seed = integer();
    } else if (a == "--compact") {
      o.compact = true;
    } else if (a == "--cpu-clock") {
      o.cpu_clock = true;
    } else if (a == "--test-crash-on") {
      o.crash_on = next();
    } else if (!a.empty() && a[0] == '-') {
      Usage();
    } else if (o.dir.empty()) {
      o.dir = a;
    } else {
      Usage();
    }
  }
  if (o.dir.empty() || o.timeout_s <= 0) Usage();
  return o;
}

std::string DumpLine(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif
#else
constexpr bool kSanitizerBuild = false;
#endif

// A child: runs files [begin, end) and writes one JSON line per file.
[[noreturn]] void ChildMain(const std::vector<std::string>& files, size_t begin, size_t end,
                            const inferd::loadtest::SchemaRunOptions& run, int fd,
                            double mem_limit_gb) {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  // A sanitizer's shadow memory is terabytes of reserved address space, so
  // an address-space limit would make its first mmap fail: the limit is left
  // off in those builds (they are for correctness, not for the full corpus).
  if (mem_limit_gb > 0 && !kSanitizerBuild) {
    const auto bytes = static_cast<rlim_t>(mem_limit_gb * 1024.0 * 1024.0 * 1024.0);
    const rlimit lim = {bytes, bytes};
    setrlimit(RLIMIT_AS, &lim);
  }
  for (size_t i = begin; i < end; ++i) {
    const SchemaResult r = inferd::loadtest::RunSchemaFile(files[i], run);
    const std::string line = DumpLine(SchemaResultToJson(r, /*with_samples=*/true)) + "\n";
    size_t off = 0;
    while (off < line.size()) {
      const ssize_t n = write(fd, line.data() + off, line.size() - off);
      if (n <= 0) _exit(3);
      off += static_cast<size_t>(n);
    }
  }
  _exit(0);
}

volatile std::sig_atomic_t g_stop = 0;
void OnStop(int) { g_stop = 1; }

struct Child {
  pid_t pid = -1;
  int fd = -1;
  size_t next = 0;  // the file whose result comes next
  size_t end = 0;
  std::string buffer;
  Clock::time_point last_progress;
  bool killed_for_timeout = false;
};

std::string ExitText(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return absl::StrCat("killed by signal ", sig, " (", strsignal(sig), ")");
  }
  if (WIFEXITED(status)) return absl::StrCat("exited with status ", WEXITSTATUS(status));
  return "ended";
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = Parse(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, OnStop);
  std::signal(SIGTERM, OnStop);

  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(opt.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".json") continue;
    if (!opt.filter.empty() && name.find(opt.filter) == std::string::npos) continue;
    files.push_back(entry.path().string());
  }
  if (ec) {
    std::fprintf(stderr, "maskbench: cannot list %s: %s\n", opt.dir.c_str(), ec.message().c_str());
    return 1;
  }
  std::sort(files.begin(), files.end());
  if (opt.shuffle_seed >= 0) {
    std::mt19937_64 rng(static_cast<uint64_t>(opt.shuffle_seed));
    std::shuffle(files.begin(), files.end(), rng);
  }
  if (opt.limit >= 0 && static_cast<size_t>(opt.limit) < files.size()) {
    files.resize(static_cast<size_t>(opt.limit));
  }
  if (files.empty()) {
    std::fprintf(stderr, "maskbench: no *.json files in %s\n", opt.dir.c_str());
    return 1;
  }

  auto tokenizer = inferd::engine::Tokenizer::FromDirectory(opt.tokenizer);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "maskbench: %s\n", std::string(tokenizer.status().message()).c_str());
    return 1;
  }
  std::vector<int32_t> eos;
  if ((*tokenizer)->eos_id() >= 0) eos.push_back((*tokenizer)->eos_id());
  inferd::loadtest::SchemaRunOptions run;
  run.vocab = inferd::engine::TokenVocabulary::FromTokenizer(**tokenizer, eos);
  run.tokenizer = tokenizer->get();
  run.timeout = absl::Seconds(opt.timeout_s);
  run.allow_whitespace = !opt.compact;
  run.cpu_clock = opt.cpu_clock;
  run.crash_on = opt.crash_on;
  std::fprintf(stderr,
               "maskbench: %zu schema files, tokenizer %s (%d ids), timeout %.0f s, %d job(s)\n",
               files.size(), opt.tokenizer.c_str(), run.vocab->size(), opt.timeout_s, opt.jobs);

  std::vector<std::optional<SchemaResult>> results(files.size());
  std::deque<std::pair<size_t, size_t>> ranges;
  const size_t chunk =
      opt.chunk > 0 ? static_cast<size_t>(opt.chunk)
                    : std::max<size_t>(1, (files.size() + static_cast<size_t>(opt.jobs) - 1) /
                                              static_cast<size_t>(opt.jobs));
  for (size_t b = 0; b < files.size(); b += chunk) {
    ranges.emplace_back(b, std::min(files.size(), b + chunk));
  }
  std::vector<Child> children;
  size_t done = 0;
  const auto stuck_after = std::chrono::duration<double>(opt.timeout_s + 10.0);
  const Clock::time_point run_start = Clock::now();
  size_t last_report = 0;

  auto finish_one = [&](size_t index, SchemaResult r) {
    results[index] = std::move(r);
    ++done;
    if (done - last_report >= 200 || done == files.size()) {
      last_report = done;
      int64_t pass = 0;
      for (const auto& x : results) pass += (x && x->outcome == SchemaOutcome::kPass) ? 1 : 0;
      std::fprintf(stderr, "maskbench: %zu/%zu done, %lld passing, %.0f s\n", done, files.size(),
                   static_cast<long long>(pass),
                   std::chrono::duration<double>(Clock::now() - run_start).count());
    }
  };

  while (done < files.size() && g_stop == 0) {
    while (static_cast<int>(children.size()) < opt.jobs && !ranges.empty()) {
      const auto [begin, end] = ranges.front();
      ranges.pop_front();
      int fds[2];
      if (pipe(fds) != 0) {
        std::perror("maskbench: pipe");
        return 1;
      }
      std::fflush(nullptr);
      const pid_t pid = fork();
      if (pid < 0) {
        std::perror("maskbench: fork");
        return 1;
      }
      if (pid == 0) {
        close(fds[0]);
        for (const Child& c : children) close(c.fd);
        ChildMain(files, begin, end, run, fds[1], opt.mem_limit_gb);
      }
      close(fds[1]);
      Child c;
      c.pid = pid;
      c.fd = fds[0];
      c.next = begin;
      c.end = end;
      c.last_progress = Clock::now();
      children.push_back(std::move(c));
    }
    std::vector<pollfd> pfds;
    for (const Child& c : children) pfds.push_back({c.fd, POLLIN, 0});
    poll(pfds.data(), pfds.size(), 1000);
    for (size_t k = 0; k < children.size();) {
      Child& c = children[k];
      bool eof = false;
      if (pfds[k].revents != 0) {
        char buf[1 << 16];
        const ssize_t n = read(c.fd, buf, sizeof(buf));
        if (n <= 0) {
          eof = true;
        } else {
          c.buffer.append(buf, static_cast<size_t>(n));
          size_t nl;
          while ((nl = c.buffer.find('\n')) != std::string::npos) {
            const std::string line = c.buffer.substr(0, nl);
            c.buffer.erase(0, nl + 1);
            SchemaResult r;
            try {
              r = inferd::loadtest::SchemaResultFromJson(nlohmann::json::parse(line));
            } catch (const std::exception& e) {
              r.id = std::filesystem::path(files[c.next]).filename().string();
              r.outcome = SchemaOutcome::kCrash;
              r.error = absl::StrCat("unreadable result line: ", e.what());
            }
            finish_one(c.next++, std::move(r));
            c.last_progress = Clock::now();
          }
        }
      }
      if (!eof && c.next < c.end && Clock::now() - c.last_progress > stuck_after) {
        kill(c.pid, SIGKILL);
        c.killed_for_timeout = true;
        eof = true;
      }
      if (!eof) {
        ++k;
        continue;
      }
      int status = 0;
      waitpid(c.pid, &status, 0);
      close(c.fd);
      if (c.next < c.end) {  // the child died on file c.next
        SchemaResult r;
        r.id = std::filesystem::path(files[c.next]).filename().string();
        r.outcome = c.killed_for_timeout ? SchemaOutcome::kTimeout : SchemaOutcome::kCrash;
        r.error = c.killed_for_timeout
                      ? absl::StrCat("no result within ", opt.timeout_s + 10, " s; killed")
                      : ExitText(status);
        std::fprintf(stderr, "maskbench: %s on %s: %s\n", SchemaOutcomeName(r.outcome),
                     r.id.c_str(), r.error.c_str());
        const size_t after = c.next + 1;
        const size_t end = c.end;
        finish_one(c.next, std::move(r));
        if (after < end) ranges.emplace_front(after, end);
      }
      children.erase(children.begin() + static_cast<std::ptrdiff_t>(k));
      pfds.erase(pfds.begin() + static_cast<std::ptrdiff_t>(k));
    }
  }

  for (const Child& c : children) {  // stopped early: the unfinished schemas are left out
    kill(c.pid, SIGKILL);
    waitpid(c.pid, nullptr, 0);
    close(c.fd);
  }
  std::vector<SchemaResult> all;
  all.reserve(files.size());
  for (auto& r : results) {
    if (r.has_value()) all.push_back(std::move(*r));
  }
  if (all.size() < files.size()) {
    std::printf("PARTIAL RUN (stopped by a signal): %zu of %zu schemas finished\n\n", all.size(),
                files.size());
  }
  const auto summary =
      inferd::loadtest::Summarize(all, absl::ToInt64Nanoseconds(absl::Seconds(opt.timeout_s)));
  std::printf(
      "%s", inferd::loadtest::FormatReport(all, summary, opt.max_features, opt.max_errors).c_str());
  if (!opt.json_out.empty()) {
    std::ofstream out(opt.json_out);
    nlohmann::json j = inferd::loadtest::ReportJson(all, summary);
    j["files_planned"] = files.size();
    j["partial"] = all.size() < files.size();
    j["timeout_s"] = opt.timeout_s;
    j["jobs"] = opt.jobs;
    out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    if (!out) std::fprintf(stderr, "maskbench: cannot write %s\n", opt.json_out.c_str());
  }
  if (!opt.failures_out.empty()) {
    std::ofstream out(opt.failures_out);
    for (const SchemaResult& r : all) {
      if (r.outcome == SchemaOutcome::kPass) continue;
      out << DumpLine(SchemaResultToJson(r, /*with_samples=*/false)) << "\n";
    }
    if (!out) std::fprintf(stderr, "maskbench: cannot write %s\n", opt.failures_out.c_str());
  }
  return 0;
}
