// engine/chat/jinja_runtime.h — Jinja templates compiled and rendered by
// Python's Jinja2 (Debian's python3-jinja2), embedded in this process, set
// up as HF transformers' apply_chat_template sets it up: an
// ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and loop
// controls; `tojson` (ensure_ascii=False, indent, separators, sort_keys),
// `raise_exception`, `strftime_now` and the `{% generation %}` block.
//
// The interpreter is started once per process, on the first Compile
// (isolated: no environment variables, no user site, no signal handlers,
// the malloc allocator so sanitizers see every allocation), and never
// finalized. Every call takes the GIL, so calls from any thread are safe and
// are serialized; none leaves a Python exception set or lets a C++
// exception escape. Failures are Status: FAILED_PRECONDITION when Jinja2
// cannot be imported, INVALID_ARGUMENT for a template that does not compile
// or that fails (or raises) while rendering.
#ifndef INFERD_ENGINE_CHAT_JINJA_RUNTIME_H_
#define INFERD_ENGINE_CHAT_JINJA_RUNTIME_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace inferd::engine {

class JinjaTemplate {
 public:
  // Compiles `source` (UTF-8). INVALID_ARGUMENT with Jinja2's message and
  // line for a syntax error, or for source that is not UTF-8.
  static absl::StatusOr<JinjaTemplate> Compile(absl::string_view source);

  // Renders with the variables of `context_json`, a JSON object (each key a
  // template variable; JSON null is Python None). `now` is what
  // strftime_now formats (absent: the local time at the call). Output over
  // `max_output_bytes` stops the render: INVALID_ARGUMENT. A template's
  // raise_exception("m") is INVALID_ARGUMENT "chat template raised: m";
  // other failures name the Jinja2 or Python error.
  absl::StatusOr<std::string> Render(absl::string_view context_json,
                                     std::optional<absl::CivilSecond> now,
                                     int64_t max_output_bytes) const;

 private:
  struct Compiled;  // owns a reference to the Python template object
  explicit JinjaTemplate(std::shared_ptr<const Compiled> compiled)
      : compiled_(std::move(compiled)) {}
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_CHAT_JINJA_RUNTIME_H_
