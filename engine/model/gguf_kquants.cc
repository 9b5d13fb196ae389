// engine/model/gguf_kquants.cc — Q4_K and Q6_K dequantization (formats in
// gguf_kquants.h).
#include "engine/model/gguf_kquants.h"

#include "kernels/dtype.h"

namespace inferd::engine {

void DequantizeRowQ4K(const uint8_t* blocks, int64_t n, float* y) {
  for (int64_t b = 0; b < n / kKQuantBlockElems; ++b) {
    const uint8_t* x = blocks + b * kQ4KBlockBytes;
    const float d = kernels::F16ToF32(static_cast<uint16_t>(x[0] | (x[1] << 8)));
    const float dmin = kernels::F16ToF32(static_cast<uint16_t>(x[2] | (x[3] << 8)));
    const uint8_t* s = x + 4;   // 12 bytes: scales and mins
    const uint8_t* q = x + 16;  // 128 bytes of codes
    for (int j = 0; j < 8; ++j) {
      // Sub-blocks 0-3 keep 6 bits in bytes 0-7; 4-7 split them between the
      // low/high nibbles of bytes 8-11 and the top 2 bits of bytes 0-7.
      int sc, m;
      if (j < 4) {
        sc = s[j] & 63;
        m = s[j + 4] & 63;
      } else {
        sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
      }
      const float dj = d * static_cast<float>(sc);
      const float mj = dmin * static_cast<float>(m);
      const uint8_t* chunk = q + 32 * (j / 2);
      const int shift = (j % 2) * 4;
      float* out = y + b * kKQuantBlockElems + 32 * j;
      for (int l = 0; l < 32; ++l) {
        out[l] = dj * static_cast<float>((chunk[l] >> shift) & 0x0F) - mj;
      }
    }
  }
}

void DequantizeRowQ6K(const uint8_t* blocks, int64_t n, float* y) {
  for (int64_t b = 0; b < n / kKQuantBlockElems; ++b) {
    const uint8_t* x = blocks + b * kQ6KBlockBytes;
    const uint8_t* ql = x;                                      // 128 bytes
    const uint8_t* qh = x + 128;                                // 64 bytes
    const auto* sc = reinterpret_cast<const int8_t*>(x + 192);  // 16 scales
    const float d = kernels::F16ToF32(static_cast<uint16_t>(x[208] | (x[209] << 8)));
    float* out = y + b * kKQuantBlockElems;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* l4 = ql + 64 * half;
      const uint8_t* h2 = qh + 32 * half;
      for (int e = 0; e < 128; ++e) {
        // Element e of the half: low 4 bits from byte e % 64 (low nibble for
        // e < 64), high 2 bits from byte e % 32 at bit 2 * (e / 32).
        const int lo = (l4[e % 64] >> (e < 64 ? 0 : 4)) & 0x0F;
        const int hi = (h2[e % 32] >> (2 * (e / 32))) & 0x03;
        const int code = (lo | (hi << 4)) - 32;
        const int elem = 128 * half + e;
        out[elem] = (d * static_cast<float>(sc[elem / 16])) * static_cast<float>(code);
      }
    }
  }
}

}  // namespace inferd::engine
