// engine/model/load_format.h — how weights get from the safetensors files
// into the model (--load-format).
//
// kCopy (the default; "auto" spells it too): every tensor is read with pread
// into anonymous memory the server owns, so a checkpoint replaced or
// truncated under a running server cannot fault it. kMmap (opt-in,
// llama.cpp's default): a tensor stored in the dtype it is served in, and not
// fused with others, is served straight from a read-only shared mapping of
// its file (page cache; no load copy); fused matrices (q/k/v, gate/up, a
// layer's experts), dtype-converted tensors and fp32 norms are still copied.
// A mapped file changed or truncated under the server can SIGBUS it, and
// mapped pages evicted under memory pressure are read from disk again.
#ifndef INFERD_ENGINE_MODEL_LOAD_FORMAT_H_
#define INFERD_ENGINE_MODEL_LOAD_FORMAT_H_

namespace inferd::engine {

enum class LoadFormat {
  kCopy = 0,  // pread into owned memory (auto)
  kMmap = 1,  // serve what can be served from a mapping of the file
};

// "copy", "mmap": the spelling of --load-format (and of the load log line).
constexpr const char* LoadFormatName(LoadFormat f) {
  return f == LoadFormat::kCopy ? "copy" : "mmap";
}

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_LOAD_FORMAT_H_
