// engine/sampling/rng.h — a small, portable, seedable RNG (one per sequence).
// Same seed -> same stream on every platform and compiler (std::
// distributions are not portable, so this does its own float conversion).
#ifndef INFERD_ENGINE_SAMPLING_RNG_H_
#define INFERD_ENGINE_SAMPLING_RNG_H_

#include <cstdint>

namespace inferd::engine {

// xoshiro256** seeded through splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  // Uniform in [0, 1) with 53 bits.
  double Uniform();

 private:
  uint64_t s_[4];
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SAMPLING_RNG_H_
