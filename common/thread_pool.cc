// common/thread_pool.cc — see thread_pool.h.
//
// Protocol. A job [0, n) is cut into `parts` near-equal contiguous ranges
// (parts <= threads). The caller writes the job descriptor, then posts part p
// (p >= 1) to worker p-1 by storing (generation, kPosted) into that worker's
// own cache line, runs part 0 itself, and afterwards steals every part whose
// worker has not started it yet (a CAS kPosted -> kDone on the worker's line)
// before waiting for the rest to reach kDone. A worker claims its part with a
// CAS kPosted -> kRunning and stores kDone when finished. So a sleeping or
// preempted worker never holds the caller up unless it already started, and a
// hand-off costs about two cache-line transfers (post, done). The descriptor
// is rewritten only after every posted part is kDone.
#include "common/thread_pool.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace inferd {
namespace {

// How long an idle worker spins (checking its slot) before it sleeps.
constexpr auto kSpin = std::chrono::microseconds(100);
// Pauses the caller spins waiting for a started part before it yields.
constexpr int kSpinsBeforeYield = 4096;

// Slot word: generation << 2 | state.
constexpr uint64_t kDone = 0;
constexpr uint64_t kPosted = 1;
constexpr uint64_t kRunning = 2;
inline uint64_t Word(uint64_t gen, uint64_t state) { return gen << 2 | state; }

thread_local bool tls_inside_job = false;

struct alignas(64) Slot {
  std::atomic<uint64_t> word{0};
};

class Pool {
 public:
  static Pool& Get() {
    static Pool* pool = new Pool();  // never destroyed: workers outlive main's statics
    return *pool;
  }

  int num_threads() const { return num_threads_; }

  void Resize(int num_threads) {
    if (num_threads <= 0) {
      num_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    }
    if (num_threads == num_threads_) return;
    StopWorkers();
    num_threads_ = num_threads;
    slots_ = std::make_unique<Slot[]>(static_cast<size_t>(num_threads_));
    try {
      for (int w = 1; w < num_threads_; ++w) {
        workers_.emplace_back([this, w] { WorkerLoop(&slots_[w]); });
      }
    } catch (...) {  // std::system_error: the OS gave fewer threads
      // Back to one thread (the caller's), so no job is ever posted to a
      // worker that does not exist; the caller reports the error.
      StopWorkers();
      num_threads_ = 1;
      slots_ = std::make_unique<Slot[]>(1);
      throw;
    }
  }

  void Run(int64_t n, int64_t grain, internal::ChunkFn fn, void* ctx) {
    const int64_t parts = std::min<int64_t>((n + grain - 1) / grain, num_threads_);
    // A second thread issuing ops concurrently (outside the contract) gets
    // correct, serial execution instead of a corrupted job.
    if (parts <= 1 || tls_inside_job || busy_.exchange(true, std::memory_order_acquire)) {
      fn(ctx, 0, n);
      return;
    }
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    parts_ = parts;
    const uint64_t gen = ++gen_;
    for (int64_t p = 1; p < parts; ++p) {
      slots_[p].word.store(Word(gen, kPosted), std::memory_order_seq_cst);
    }
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
    RunPart(0);
    for (int64_t p = 1; p < parts; ++p) {  // steal parts nobody started
      uint64_t expected = Word(gen, kPosted);
      if (slots_[p].word.compare_exchange_strong(expected, Word(gen, kDone),
                                                 std::memory_order_acq_rel)) {
        RunPart(p);
      }
    }
    for (int64_t p = 1; p < parts; ++p) {
      // Spin; if the worker is slow (e.g. preempted, or sharing this core),
      // start yielding so it can run.
      for (int spins = 0; slots_[p].word.load(std::memory_order_acquire) != Word(gen, kDone);
           ++spins) {
        if (spins < kSpinsBeforeYield) {
          _mm_pause();
        } else {
          std::this_thread::yield();
        }
      }
    }
    busy_.store(false, std::memory_order_release);
  }

 private:
  Pool() { Resize(0); }

  void RunPart(int64_t p) {
    const bool was_inside = tls_inside_job;
    tls_inside_job = true;
    fn_(ctx_, p * n_ / parts_, (p + 1) * n_ / parts_);
    tls_inside_job = was_inside;
  }

  static bool IsPosted(uint64_t word) { return (word & 3u) == kPosted; }

  void WorkerLoop(Slot* slot) {
    const int64_t part = slot - slots_.get();
    for (;;) {
      uint64_t word = slot->word.load(std::memory_order_acquire);
      if (stop_.load(std::memory_order_acquire)) return;
      if (IsPosted(word)) {
        if (slot->word.compare_exchange_strong(word, word + (kRunning - kPosted),
                                               std::memory_order_acq_rel)) {
          RunPart(part);
          slot->word.store(word - kPosted + kDone, std::memory_order_release);
        }
        continue;
      }
      // Spin a little, then sleep.
      const auto deadline = std::chrono::steady_clock::now() + kSpin;
      bool found = false;
      while (!found) {
        for (int i = 0; i < 64; ++i) {
          _mm_pause();
          if (IsPosted(slot->word.load(std::memory_order_relaxed)) ||
              stop_.load(std::memory_order_relaxed)) {
            found = true;
            break;
          }
        }
        if (!found && std::chrono::steady_clock::now() > deadline) break;
      }
      if (found) continue;
      std::unique_lock<std::mutex> lock(mu_);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      cv_.wait(lock, [&] {
        return stop_.load(std::memory_order_seq_cst) ||
               IsPosted(slot->word.load(std::memory_order_seq_cst));
      });
      sleepers_.fetch_sub(1, std::memory_order_seq_cst);
    }
  }

  void StopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_.store(true, std::memory_order_seq_cst);
      cv_.notify_all();
    }
    for (auto& t : workers_) t.join();
    workers_.clear();
    stop_.store(false, std::memory_order_seq_cst);
  }

  int num_threads_ = 1;
  std::vector<std::thread> workers_;
  std::unique_ptr<Slot[]> slots_;  // slots_[w]: worker w's post/done word (slot 0 unused)

  // The job; written only by the caller while no part is posted or running.
  alignas(64) internal::ChunkFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int64_t parts_ = 1;
  uint64_t gen_ = 0;

  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> busy_{false};  // a caller owns the job
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace

void SetNumThreads(int num_threads) { Pool::Get().Resize(num_threads); }

int NumThreads() { return Pool::Get().num_threads(); }

namespace internal {
void ParallelForImpl(int64_t n, int64_t grain, ChunkFn fn, void* ctx) {
  Pool::Get().Run(n, grain, fn, ctx);
}
}  // namespace internal

}  // namespace inferd
