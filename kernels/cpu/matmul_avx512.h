// kernels/cpu/matmul_avx512.h — Matmul's AVX-512 tiles for fp32 and 16-bit
// (fp16; bf16 where the CPU has no vdpbf16ps) weights with several rows of x
// (included by matmul.cc only; compiled with function-level target
// attributes, called only on the avx512 path of kernels/cpu_isa.h).
//
// Same bits as the AVX2 tiles: a zmm holds TWO 8-lane accumulators, columns
// j and j+1 of one x row, in its low and high halves. Lane l of each half
// still accumulates k = 8t + l with one FMA per t in increasing t (the k
// tail is the same zero-filled load), and each half is reduced with
// simd::Reduce4's lane tree, then + bias. FMA rounds per lane, so the wider
// register changes nothing but the throughput; which path runs never
// changes a result (tests/unit/kernels/dtype_kernels_test.cc compares the
// two, and both with simd::Dot).
//
// A 16-bit w is widened in registers (a column pair's 2 x 8 elements: one
// vpmovzxwd + shift, or vcvtph2ps), not copied into an fp32 panel first:
// with 8 rows per tile each widened vector feeds 8 FMAs, and the copy's
// extra pass over memory cost more than the shifts (measured: 1.4x faster
// at m = 16 on the 1B shapes).
#ifndef INFERD_KERNELS_CPU_MATMUL_AVX512_H_
#define INFERD_KERNELS_CPU_MATMUL_AVX512_H_

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/cpu/simd.h"
#include "kernels/cpu/simd_avx512.h"

INFERD_ZMM_CODE_BEGIN

namespace inferd::kernels::avx512 {

using simd::LoadPair;

// Rows of x and column pairs of w per tile: 8 x 3 = 24 zmm accumulators,
// 3 w vectors and 1 x broadcast of the 32 zmm registers.
constexpr int kMr = 8;
constexpr int kNp = 3;
constexpr int kNr = 2 * kNp;  // output columns per tile

// Reduces each 256-bit half of acc with simd::Reduce4's tree, adds the
// bias and stores the first `cols` columns of each row.
template <int MR, int NP>
INFERD_AVX512 inline void Store(const __m512 (&acc)[MR][NP], const float* bias, float* out,
                                int64_t ldo, int64_t cols) {
  const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    __m256 a[2 * NP];
#pragma GCC unroll 4
    for (int q = 0; q < NP; ++q) {
      a[2 * q] = _mm512_castps512_ps256(acc[i][q]);
      a[2 * q + 1] = _mm512_extractf32x8_ps(acc[i][q], 1);
    }
#pragma GCC unroll 4
    for (int j0 = 0; j0 < 2 * NP; j0 += 4) {
      if (j0 >= cols) break;
      const __m128 s =
          simd::Reduce4(a[j0], j0 + 1 < 2 * NP ? a[j0 + 1] : zero,
                        j0 + 2 < 2 * NP ? a[j0 + 2] : zero, j0 + 3 < 2 * NP ? a[j0 + 3] : zero);
      float* o = out + i * ldo + j0;
      if (cols - j0 >= 4) {
        _mm_storeu_ps(o, bias != nullptr ? _mm_add_ps(s, _mm_loadu_ps(bias + j0)) : s);
        continue;
      }
      alignas(16) float sums[4];
      _mm_store_ps(sums, s);
      const int64_t c = cols - j0;
      for (int64_t j = 0; j < c; ++j) o[j] = bias != nullptr ? sums[j] + bias[j0 + j] : sums[j];
    }
  }
}

// One k block [t_begin, t_end) of a tile: out[i, j] for i < MR, j < cols
// (<= 2 * NP); x rows ldx apart, w rows (widened in registers where 16-bit)
// k apart; a missing odd column reads the previous one and is not stored.
// The accumulators start at zero (first) or from `park` (MR * NP zmm, the
// previous block's), and end in `park` or, after the last block, reduced
// into out (last). Parking is a store and a load of the same floats, so the
// lanes see the unblocked loop's FMAs in the same order: the same bits. The
// k tail (kTail) belongs to the last block. While it runs it prefetches the
// same k block of `pf`'s 2 * NP rows (k apart; when not null), one line of
// each row per line of k.
template <int MR, int NP, bool kTail, typename W>
INFERD_AVX512 inline void Tile(const float* x, int64_t ldx, const W* w, int64_t k, int64_t t_begin,
                               int64_t t_end, __m512* park, bool first, bool last,
                               const float* bias, float* out, int64_t ldo, int64_t cols,
                               const W* pf) {
  constexpr int64_t kLine = 64 / static_cast<int64_t>(sizeof(W));  // elements per line
  const W* row[2 * NP];
#pragma GCC unroll 8
  for (int j = 0; j < 2 * NP; ++j) row[j] = w + std::min<int64_t>(j, cols - 1) * k;
  __m512 acc[MR][NP];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
    for (int q = 0; q < NP; ++q) {
      acc[i][q] = first ? _mm512_setzero_ps() : _mm512_load_ps(park + i * NP + q);
    }
  }
  int64_t t = t_begin;
  for (; t + 8 <= t_end; t += 8) {
    if (pf != nullptr && (t % kLine) == 0) {
#pragma GCC unroll 8
      for (int j = 0; j < 2 * NP; ++j) _mm_prefetch(pf + j * k + t, _MM_HINT_T0);
    }
    __m512 wv[NP];
#pragma GCC unroll 4
    for (int q = 0; q < NP; ++q) wv[q] = LoadPair(row[2 * q], row[2 * q + 1], t, 8);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512 xv = _mm512_broadcast_f32x8(_mm256_loadu_ps(x + i * ldx + t));
#pragma GCC unroll 4
      for (int q = 0; q < NP; ++q) acc[i][q] = _mm512_fmadd_ps(xv, wv[q], acc[i][q]);
    }
  }
  if (kTail && last && t < k) {
    const __mmask8 mask = static_cast<__mmask8>((1u << (k - t)) - 1);
    __m512 wv[NP];
#pragma GCC unroll 4
    for (int q = 0; q < NP; ++q) wv[q] = LoadPair(row[2 * q], row[2 * q + 1], t, k - t);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512 xv = _mm512_broadcast_f32x8(_mm256_maskz_loadu_ps(mask, x + i * ldx + t));
#pragma GCC unroll 4
      for (int q = 0; q < NP; ++q) acc[i][q] = _mm512_fmadd_ps(xv, wv[q], acc[i][q]);
    }
  }
  if (last) {
    Store<MR, NP>(acc, bias, out, ldo, cols);
    return;
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
    for (int q = 0; q < NP; ++q) _mm512_store_ps(park + i * NP + q, acc[i][q]);
  }
}

// A tile of `rows` (1..MR) rows.
template <bool kTail, int NP, typename W, int MR = kMr>
INFERD_AVX512 inline void TileRows(int64_t rows, const float* x, int64_t ldx, const W* w, int64_t k,
                                   int64_t t_begin, int64_t t_end, __m512* park, bool first,
                                   bool last, const float* bias, float* out, int64_t ldo,
                                   int64_t cols, const W* pf) {
  if (rows == MR) {
    Tile<MR, NP, kTail>(x, ldx, w, k, t_begin, t_end, park, first, last, bias, out, ldo, cols, pf);
  } else if constexpr (MR > 1) {
    TileRows<kTail, NP, W, MR - 1>(rows, x, ldx, w, k, t_begin, t_end, park, first, last, bias, out,
                                   ldo, cols, pf);
  }
}

// How Columns blocks the work: output columns in panels of panel_cols, k in
// blocks of k_block (a multiple of 8, or all of k in one block), rows in
// blocks of block_rows (a multiple of kMr, or all of m).
struct Blocking {
  int64_t panel_cols;
  int64_t k_block;
  int64_t block_rows;
};

// Output columns [j_begin, j_end) of all m rows (x rows ldx apart). For each
// block of rows and panel of columns, k block by k block: every row tile
// sweeps the panel's column tiles over one k block, while the panel's w
// slice (panel_cols x k_block) stays in L2 and so does the block's x slice
// (rows x k_block) once the panel's first pass brought it; the accumulators
// of the block's tiles are parked between k blocks (a per-thread buffer).
// The first row tile of a block also prefetches the next column tile's
// slice of w (it streams from DRAM the first time).
template <bool kTail, typename W>
INFERD_AVX512 void Columns(const float* x, int64_t ldx, const W* w, const float* bias, int64_t m,
                           int64_t n, int64_t k, float* out, int64_t j_begin, int64_t j_end,
                           Blocking blocking) {
  const int64_t kb_size = std::max<int64_t>(8, blocking.k_block);
  const int64_t k_blocks = std::max<int64_t>(1, (k + kb_size - 1) / kb_size);
  const int64_t row_tiles = (std::min(m, blocking.block_rows) + kMr - 1) / kMr;
  const int64_t col_tiles = (blocking.panel_cols + kNr - 1) / kNr;
  struct alignas(64) Slot {  // one parked zmm
    float lanes[16];
  };
  thread_local std::vector<Slot> parked;
  if (k_blocks > 1 && static_cast<int64_t>(parked.size()) < row_tiles * col_tiles * kMr * kNp) {
    parked.resize(static_cast<size_t>(row_tiles * col_tiles * kMr * kNp));
  }
  for (int64_t ib = 0; ib < m; ib += blocking.block_rows) {
    const int64_t ib_end = std::min(m, ib + blocking.block_rows);
    for (int64_t jp = j_begin; jp < j_end; jp += blocking.panel_cols) {
      const int64_t jp_end = std::min(j_end, jp + blocking.panel_cols);
      for (int64_t kb = 0; kb < k_blocks; ++kb) {
        const int64_t t0 = kb * kb_size;
        const int64_t t1 = std::min(k, t0 + kb_size);
        const bool first = kb == 0, last = kb + 1 == k_blocks;
        for (int64_t i = ib; i < ib_end; i += kMr) {
          const int64_t rows = std::min<int64_t>(kMr, ib_end - i);
          for (int64_t j = jp; j < jp_end; j += kNr) {
            const int64_t cols = std::min<int64_t>(kNr, jp_end - j);
            const W* wj = w + j * k;
            const float* bj = bias != nullptr ? bias + j : nullptr;
            const W* pf = i == ib && j + kNr < j_end ? wj + kNr * k : nullptr;
            const int64_t tile = ((i - ib) / kMr) * col_tiles + (j - jp) / kNr;
            __m512* park = k_blocks > 1
                               ? reinterpret_cast<__m512*>(parked.data() + tile * kMr * kNp)
                               : nullptr;
            const float* xi = x + i * ldx;
            float* oij = out + i * n + j;
            if (cols > 4) {
              TileRows<kTail, 3>(rows, xi, ldx, wj, k, t0, t1, park, first, last, bj, oij, n, cols,
                                 pf);
            } else if (cols > 2) {
              TileRows<kTail, 2>(rows, xi, ldx, wj, k, t0, t1, park, first, last, bj, oij, n, cols,
                                 pf);
            } else {
              TileRows<kTail, 1>(rows, xi, ldx, wj, k, t0, t1, park, first, last, bj, oij, n, cols,
                                 pf);
            }
          }
        }
      }
    }
  }
}

}  // namespace inferd::kernels::avx512

INFERD_ZMM_CODE_END

#endif  // INFERD_KERNELS_CPU_MATMUL_AVX512_H_
