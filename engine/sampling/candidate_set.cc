// engine/sampling/candidate_set.cc — candidate filtering without sorting the
// vocabulary, and the inverse-CDF draw.
#include "engine/sampling/candidate_set.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace inferd::engine {
namespace {

// The fixed order: higher logit first, then lower id.
inline bool Before(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

inline bool Usable(float logit) { return logit > -std::numeric_limits<float>::infinity(); }

// Blocks this small are sorted and walked instead of split further.
constexpr size_t kLinearBlock = 64;
// Logit buckets per narrowing pass of FindCrossing.
constexpr size_t kBuckets = 1024;

}  // namespace

void CandidateSet::Reset(const float* logits, int64_t vocab, float temperature, int64_t top_k) {
  temperature_ = temperature;
  weights_ready_ = false;
  total_valid_ = false;
  sorted_ = 0;
  if (top_k > 0 && top_k <= vocab / 4) {
    SelectTopKWithHeap(logits, vocab, static_cast<size_t>(top_k));
    return;
  }
  candidates_.resize(static_cast<size_t>(vocab));
  size_t n = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    if (Usable(logits[i])) candidates_[n++] = {logits[i], 0.0f, static_cast<int32_t>(i)};
  }
  size_ = n;
  if (top_k > 0 && static_cast<size_t>(top_k) < size_) {
    std::nth_element(candidates_.begin(), candidates_.begin() + top_k,
                     candidates_.begin() + static_cast<std::ptrdiff_t>(size_), Before);
    size_ = static_cast<size_t>(top_k);
  }
}

void CandidateSet::SelectTopKWithHeap(const float* logits, int64_t vocab, size_t k) {
  // heap_ is a max-heap under Before: its front is the worst of the k best.
  heap_.clear();
  for (int64_t i = 0; i < vocab; ++i) {
    const float l = logits[i];
    if (!Usable(l)) continue;
    const Candidate c{l, 0.0f, static_cast<int32_t>(i)};
    if (heap_.size() < k) {
      heap_.push_back(c);
      std::push_heap(heap_.begin(), heap_.end(), Before);
    } else if (l > heap_.front().logit) {  // ids rise, so an equal logit never wins
      std::pop_heap(heap_.begin(), heap_.end(), Before);
      heap_.back() = c;
      std::push_heap(heap_.begin(), heap_.end(), Before);
    }
  }
  std::sort_heap(heap_.begin(), heap_.end(), Before);  // best first
  candidates_.assign(heap_.begin(), heap_.end());
  size_ = candidates_.size();
  sorted_ = size_;
}

void CandidateSet::EnsureWeights() {
  if (weights_ready_) return;
  weights_ready_ = true;
  float max_logit = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < size_; ++i) max_logit = std::max(max_logit, candidates_[i].logit);
  size_t kept = 0, kept_sorted = 0;
  for (size_t i = 0; i < size_; ++i) {
    Candidate c = candidates_[i];
    c.weight = std::exp((c.logit - max_logit) / temperature_);
    if (!(c.weight > 0.0f)) continue;  // underflow: can never be drawn
    if (i < sorted_) ++kept_sorted;
    candidates_[kept++] = c;  // stable compaction keeps the invariant
  }
  size_ = kept;
  sorted_ = kept_sorted;
}

size_t CandidateSet::size() {
  EnsureWeights();
  return size_;
}

double CandidateSet::Total() {
  if (!total_valid_) {
    total_ = 0;
    for (size_t i = 0; i < size_; ++i) total_ += candidates_[i].weight;
    total_valid_ = true;
  }
  return total_;
}

void CandidateSet::SortPrefix(size_t n) {
  n = std::min(n, size_);
  if (n <= sorted_) return;
  auto first = candidates_.begin() + static_cast<std::ptrdiff_t>(sorted_);
  auto nth = candidates_.begin() + static_cast<std::ptrdiff_t>(n);
  auto last = candidates_.begin() + static_cast<std::ptrdiff_t>(size_);
  if (nth < last) std::nth_element(first, nth, last, Before);
  std::sort(first, nth, Before);
  sorted_ = n;
}

size_t CandidateSet::FindCrossing(double target, bool inclusive, double* sum_through) {
  auto reached = [&](double s) { return inclusive ? s >= target : s > target; };
  double base = 0;
  for (size_t i = 0; i < sorted_; ++i) {
    base += candidates_[i].weight;
    if (reached(base)) {
      *sum_through = base;
      return i;
    }
  }
  auto at = [this](size_t i) { return candidates_.begin() + static_cast<std::ptrdiff_t>(i); };
  size_t lo = sorted_, hi = size_;
  // Narrow [lo, hi) to the bucket holding the crossing. Every candidate
  // before lo precedes [lo, hi) and is summed in base; every candidate from
  // hi on follows it. Buckets split the logit range evenly, so bucket order
  // is the candidate order (a monotone function of the logit).
  while (hi - lo > kLinearBlock) {
    float top = candidates_[lo].logit, bottom = top;
    for (size_t i = lo; i < hi; ++i) {
      top = std::max(top, candidates_[i].logit);
      bottom = std::min(bottom, candidates_[i].logit);
    }
    if (top == bottom) break;  // all tied: the order is by id alone
    const double scale = kBuckets / (static_cast<double>(top) - bottom);
    auto bucket = [top, scale](const Candidate& c) {
      return std::min<size_t>(kBuckets - 1,
                              static_cast<size_t>((static_cast<double>(top) - c.logit) * scale));
    };
    bucket_mass_.assign(kBuckets, 0.0);
    bucket_size_.assign(kBuckets, 0);
    for (size_t i = lo; i < hi; ++i) {
      const size_t b = bucket(candidates_[i]);
      bucket_mass_[b] += candidates_[i].weight;
      ++bucket_size_[b];
    }
    size_t hit = kBuckets, last_used = 0, before = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
      if (bucket_size_[b] == 0) continue;
      last_used = b;
      if (reached(base + bucket_mass_[b])) {
        hit = b;
        break;
      }
      base += bucket_mass_[b];
      before += bucket_size_[b];
    }
    if (hit == kBuckets) {  // rounding: not reached; walk the last bucket
      hit = last_used;
      base -= bucket_mass_[hit];
      before -= bucket_size_[hit];
    }
    // Three-way split by bucket (before / at / after `hit`), branch-free,
    // through scratch_.
    const size_t count[3] = {before, bucket_size_[hit], hi - lo - before - bucket_size_[hit]};
    auto side = [&](const Candidate& c) {
      const size_t b = bucket(c);
      return static_cast<size_t>(b >= hit) + static_cast<size_t>(b > hit);
    };
    size_t cursor[3] = {lo, lo + count[0], lo + count[0] + count[1]};
    scratch_.resize(candidates_.size());
    for (size_t i = lo; i < hi; ++i) {
      const Candidate& c = candidates_[i];
      scratch_[cursor[side(c)]++] = c;
    }
    std::copy(scratch_.begin() + static_cast<std::ptrdiff_t>(lo),
              scratch_.begin() + static_cast<std::ptrdiff_t>(hi), at(lo));
    hi = lo + count[0] + count[1];
    lo = lo + count[0];
  }
  std::sort(at(lo), at(hi), Before);
  if (lo == sorted_) sorted_ = hi;
  for (size_t i = lo; i < hi; ++i) {
    base += candidates_[i].weight;
    if (reached(base)) {
      *sum_through = base;
      return i;
    }
  }
  // Rounding (buckets were summed in another order): the crossing is at the
  // end of this block, or, past the end, the target was never reached.
  *sum_through = base;
  return hi - 1;
}

void CandidateSet::TopP(float p) {
  if (!(p < 1.0f)) return;
  EnsureWeights();
  if (size_ == 0) return;
  double mass;
  const size_t last = FindCrossing(static_cast<double>(p) * Total(), /*inclusive=*/true, &mass);
  size_ = last + 1;
  sorted_ = std::min(sorted_, size_);
  total_ = mass;
  total_valid_ = true;
}

void CandidateSet::MinP(float min_p) {
  if (!(min_p > 0.0f)) return;
  EnsureWeights();
  if (size_ == 0) return;
  // The best candidate weighs exactly 1, so the cut is min_p itself.
  const float cut = min_p;
  // Weights do not increase along the order: the kept ones are a prefix.
  size_t keep = 0;
  while (keep < sorted_ && candidates_[keep].weight >= cut) ++keep;
  if (keep < sorted_) {
    size_ = std::max<size_t>(keep, 1);
    sorted_ = size_;
  } else {
    auto mid = std::partition(candidates_.begin() + static_cast<std::ptrdiff_t>(sorted_),
                              candidates_.begin() + static_cast<std::ptrdiff_t>(size_),
                              [cut](const Candidate& c) { return c.weight >= cut; });
    const size_t count = static_cast<size_t>(mid - candidates_.begin());
    if (count == 0) {  // min_p > 1 dropped even the best: keep it alone
      SortPrefix(1);
      size_ = 1;
    } else {
      size_ = count;
    }
  }
  total_valid_ = false;
}

int32_t CandidateSet::Draw(double u) {
  EnsureWeights();
  if (size_ == 0) return 0;  // no usable logit (the sampler handles this first)
  double unused;
  return candidates_[FindCrossing(u * Total(), /*inclusive=*/false, &unused)].id;
}

void CandidateSet::FillProbabilities(int64_t vocab, double* out) {
  EnsureWeights();
  std::fill(out, out + vocab, 0.0);
  const double total = Total();
  for (size_t i = 0; i < size_; ++i) out[candidates_[i].id] = candidates_[i].weight / total;
}

std::vector<int32_t> CandidateSet::KeptIds() {
  EnsureWeights();
  SortPrefix(size_);
  std::vector<int32_t> ids;
  ids.reserve(size_);
  for (size_t i = 0; i < size_; ++i) ids.push_back(candidates_[i].id);
  return ids;
}

}  // namespace inferd::engine
