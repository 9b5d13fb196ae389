// kernels/cpu/embedding.cc — Embedding: a row gather, widened to fp32 (exact;
// a quantized table's rows dequantized, kernels/quant_blocks.h), so trivially
// batch-invariant.
#include <cstdint>
#include <cstring>

#include "common/thread_pool.h"
#include "kernels/ops.h"
#include "kernels/quant_blocks.h"

namespace inferd::kernels {

void Embedding(const void* table, int64_t vocab, int64_t hidden, const int32_t* ids, int64_t n,
               float* out, DType table_dtype) {
  (void)vocab;  // ids are in [0, vocab) by contract
  const int64_t row_bytes = DTypeBytes(table_dtype, hidden);
  const bool quantized = IsQuantized(table_dtype);
  ParallelFor(n, GrainFor(8 * hidden), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const void* row =
          static_cast<const uint8_t*>(table) + static_cast<int64_t>(ids[i]) * row_bytes;
      if (quantized) {
        DequantizeRow(table_dtype, row, hidden, out + i * hidden);
      } else {
        ConvertToF32(row, table_dtype, hidden, out + i * hidden);
      }
    }
  });
}

}  // namespace inferd::kernels
