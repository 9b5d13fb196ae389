// tests/engine_test_util.h — submitting requests to an in-process Engine and
// collecting their whole stream.
#ifndef INFERD_TESTS_ENGINE_TEST_UTIL_H_
#define INFERD_TESTS_ENGINE_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "gtest/gtest.h"

namespace inferd::testing {

struct Collected {
  std::vector<int32_t> ids;
  std::string text;
  std::vector<engine::TokenLogprob> logprobs;
  engine::FinishReason finish_reason = engine::FinishReason::kNone;
  engine::Usage usage;
  absl::Status status;
  int chunks = 0;
};

// Reads a channel to its final chunk.
inline Collected Drain(engine::OutputChannel& channel) {
  Collected c;
  while (true) {
    engine::RequestOutput o = channel.WaitPop();
    ++c.chunks;
    c.ids.insert(c.ids.end(), o.token_ids.begin(), o.token_ids.end());
    c.text += o.text;
    for (auto& lp : o.logprobs) c.logprobs.push_back(lp);
    if (o.finished) {
      c.finish_reason = o.finish_reason;
      c.usage = o.usage;
      c.status = o.status;
      return c;
    }
  }
}

// Submits `r`; on a refused submit the failure is recorded and the returned
// channel already holds a final chunk with that status, so readers never hang.
inline std::shared_ptr<engine::OutputChannel> SubmitOrDie(engine::Engine& e, engine::Request r) {
  auto ch = std::make_shared<engine::OutputChannel>();
  absl::Status s = e.Submit(std::move(r), ch);
  EXPECT_TRUE(s.ok()) << s;
  if (!s.ok()) {
    engine::RequestOutput fail;
    fail.finished = true;
    fail.status = s;
    ch->Push(std::move(fail));
  }
  return ch;
}

inline Collected RunOne(engine::Engine& e, engine::Request r) {
  auto ch = SubmitOrDie(e, std::move(r));
  return Drain(*ch);
}

inline engine::Request Greedy(const std::string& id, std::vector<int32_t> prompt, int max_tokens) {
  engine::Request r;
  r.request_id = id;
  r.prompt_ids = std::move(prompt);
  r.sampling.temperature = 0.0f;
  r.sampling.max_tokens = max_tokens;
  return r;
}

}  // namespace inferd::testing

#endif  // INFERD_TESTS_ENGINE_TEST_UTIL_H_
