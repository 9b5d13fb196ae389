// loadtest/memory_bandwidth.cc — the machine's memory READ bandwidth, the
// ceiling for memory-bound decode: at batch 1 every weight is read once per
// token, so tokens/s x weight bytes can be set against this number
// (loadtest/cpu_peer_benchmark.sh does, beside llama.cpp).
//
//   build/memory_bandwidth [--bytes 1GiB] [--threads 2] [--repeats 5]
//
// Allocates a buffer much larger than the last-level cache, touches it (each
// thread its own slice, so pages land near the thread that reads them), then
// each of N threads sums its own contiguous slice with 256-bit AVX2 loads into
// 8 independent accumulators. Bandwidth = bytes / (last thread's end - first
// thread's start), best of the repeats, GB = 1e9 bytes. Prints one line on
// stdout; the checksum (printed so the reads are not optimised away) and each
// run's rate go to stderr. The machines are shared and noisy: measure beside
// the thing you compare it with, in the same run.
#include <immintrin.h>

#include <algorithm>
#include <barrier>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kBlock = 256;  // bytes per loop iteration: 8 loads of 32 bytes

struct Options {
  size_t bytes = size_t{1} << 30;
  int threads = 2;
  int repeats = 5;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "memory_bandwidth: %s\n"
               "usage: memory_bandwidth [--bytes N[K|M|G|KiB|MiB|GiB]] [--threads N] "
               "[--repeats N]\n",
               why);
  std::exit(2);
}

// "1073741824", "1GiB", "512M", "64k": binary multiples (K = 1024).
size_t ParseBytes(const std::string& s) {
  size_t pos = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(s, &pos);
  } catch (...) {
    Usage(("bad --bytes " + s).c_str());
  }
  std::string unit = s.substr(pos);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int shift = 0;
  if (unit.empty() || unit == "b") {
    shift = 0;
  } else if (unit == "k" || unit == "kib" || unit == "kb") {
    shift = 10;
  } else if (unit == "m" || unit == "mib" || unit == "mb") {
    shift = 20;
  } else if (unit == "g" || unit == "gib" || unit == "gb") {
    shift = 30;
  } else {
    Usage(("bad --bytes unit in " + s).c_str());
  }
  if (n > (~0ull >> shift)) Usage(("--bytes too large: " + s).c_str());
  return static_cast<size_t>(n << shift);
}

int ParsePositiveInt(const std::string& flag, const std::string& s) {
  size_t pos = 0;
  int v = 0;
  try {
    v = std::stoi(s, &pos);
  } catch (...) {
    Usage(("bad " + flag + " " + s).c_str());
  }
  if (pos != s.size() || v < 1) Usage((flag + " must be a positive integer").c_str());
  return v;
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage((a + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--bytes") {
      o.bytes = ParseBytes(next());
    } else if (a == "--threads") {
      o.threads = ParsePositiveInt(a, next());
    } else if (a == "--repeats") {
      o.repeats = ParsePositiveInt(a, next());
    } else {
      Usage(("unknown flag " + a).c_str());
    }
  }
  if (o.threads > 4096) Usage("--threads must be at most 4096");
  if (o.bytes < kBlock * static_cast<size_t>(o.threads)) {
    Usage("--bytes must be at least 256 bytes per thread");
  }
  return o;
}

// Sums [p, p + n) as 64-bit lanes; n is a multiple of kBlock and p is 32-byte
// aligned. Eight accumulators keep eight loads in flight per iteration.
__attribute__((target("avx2"))) uint64_t SumAvx2(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  __m256i a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (size_t i = 0; i < n; i += kBlock) {
    const __m256i* v = reinterpret_cast<const __m256i*>(p + i);
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(v + 0));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(v + 1));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(v + 2));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(v + 3));
    a4 = _mm256_add_epi64(a4, _mm256_load_si256(v + 4));
    a5 = _mm256_add_epi64(a5, _mm256_load_si256(v + 5));
    a6 = _mm256_add_epi64(a6, _mm256_load_si256(v + 6));
    a7 = _mm256_add_epi64(a7, _mm256_load_si256(v + 7));
  }
  a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  a4 = _mm256_add_epi64(_mm256_add_epi64(a4, a5), _mm256_add_epi64(a6, a7));
  a0 = _mm256_add_epi64(a0, a4);
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a0);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

// What one thread does in one run.
struct Slot {
  Clock::time_point start{}, end{};
  uint64_t sum = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const Options opt = Parse(argc, argv);
  const size_t nthreads = static_cast<size_t>(opt.threads);
  // Each thread's slice is a whole number of blocks; the few bytes left over
  // are not read, and not counted.
  const size_t slice = opt.bytes / nthreads / kBlock * kBlock;
  const size_t total = slice * nthreads;
  auto* buf = static_cast<uint8_t*>(std::aligned_alloc(4096, (total + 4095) / 4096 * 4096));
  if (buf == nullptr) {
    std::fprintf(stderr, "memory_bandwidth: cannot allocate %zu bytes\n", total);
    return 1;
  }

  std::vector<Slot> slots(nthreads);
  int run = -1;  // -1: touch the slice; >= 0: timed read
  std::barrier start_line(static_cast<std::ptrdiff_t>(nthreads + 1));
  std::barrier finish_line(static_cast<std::ptrdiff_t>(nthreads + 1));
  bool quit = false;
  std::vector<std::thread> workers;
  workers.reserve(nthreads);
  for (size_t t = 0; t < nthreads; ++t) {
    workers.emplace_back([&, t] {
      uint8_t* mine = buf + t * slice;
      for (;;) {
        start_line.arrive_and_wait();
        if (quit) return;
        if (run < 0) {
          // Write every page (a non-zero pattern, so no page stays the shared
          // zero page) from the thread that will read it.
          std::memset(mine, static_cast<int>(1 + t), slice);
        } else {
          slots[t].start = Clock::now();
          slots[t].sum = SumAvx2(mine, slice);
          slots[t].end = Clock::now();
        }
        finish_line.arrive_and_wait();
      }
    });
  }

  start_line.arrive_and_wait();  // touch
  finish_line.arrive_and_wait();
  double best = 0;
  uint64_t checksum = 0;
  std::string runs;
  for (run = 0; run < opt.repeats; ++run) {
    start_line.arrive_and_wait();
    finish_line.arrive_and_wait();
    Clock::time_point first = slots[0].start, last = slots[0].end;
    for (const Slot& s : slots) {
      first = std::min(first, s.start);
      last = std::max(last, s.end);
      checksum += s.sum;
    }
    const double secs = std::chrono::duration<double>(last - first).count();
    const double gbps = secs > 0 ? static_cast<double>(total) / secs / 1e9 : 0;
    best = std::max(best, gbps);
    char one[32];
    std::snprintf(one, sizeof one, " %.1f", gbps);
    runs += one;
  }
  quit = true;
  start_line.arrive_and_wait();
  for (std::thread& w : workers) w.join();
  std::free(buf);

  std::fprintf(stderr, "memory_bandwidth: runs (GB/s):%s; checksum %llu\n", runs.c_str(),
               static_cast<unsigned long long>(checksum));
  std::printf("memory read bandwidth: %.1f GB/s (%d threads, %zu bytes)\n", best, opt.threads,
              total);
  return 0;
}
