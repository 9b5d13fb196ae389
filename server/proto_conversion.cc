// server/proto_conversion.cc
#include "server/proto_conversion.h"

namespace inferd::server {

v1::FinishReason ToProto(engine::FinishReason reason) {
  switch (reason) {
    case engine::FinishReason::kStop:
      return v1::FINISH_REASON_STOP;
    case engine::FinishReason::kLength:
      return v1::FINISH_REASON_LENGTH;
    case engine::FinishReason::kStopString:
      return v1::FINISH_REASON_STOP_STRING;
    case engine::FinishReason::kAbort:
      return v1::FINISH_REASON_ABORT;
    case engine::FinishReason::kNone:
      break;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

void ToProto(const std::string& request_id, const engine::RequestOutput& output,
             v1::GenerateResponse* response) {
  response->Clear();
  response->set_request_id(request_id);
  response->mutable_token_ids()->Add(output.token_ids.begin(), output.token_ids.end());
  response->set_text(output.text);
  for (const engine::TokenLogprob& lp : output.logprobs) {
    v1::TokenLogprob* out = response->add_logprobs();
    out->set_token_id(lp.token_id);
    out->set_logprob(lp.logprob);
    for (const auto& [id, logprob] : lp.top) {
      v1::TopLogprob* top = out->add_top();
      top->set_token_id(id);
      top->set_logprob(logprob);
    }
  }
  if (output.finished) {
    response->set_finish_reason(ToProto(output.finish_reason));
    v1::Usage* usage = response->mutable_usage();
    usage->set_prompt_tokens(output.usage.prompt_tokens);
    usage->set_completion_tokens(output.usage.completion_tokens);
    usage->set_cached_tokens(output.usage.cached_tokens);
    usage->set_num_steps(output.usage.num_steps);
    usage->set_draft_tokens(output.usage.draft_tokens);
    usage->set_accepted_draft_tokens(output.usage.accepted_draft_tokens);
  }
}

void ToProto(const engine::ModelInfo& info, const engine::EngineStats& stats,
             v1::GetModelInfoResponse* response) {
  response->set_model_name(info.model_name);
  response->set_model_dir(info.model_dir);
  response->set_architecture(info.architecture);
  response->set_vocab_size(info.vocab_size);
  response->set_max_context(info.max_context);
  response->set_hidden_size(info.hidden_size);
  response->set_num_layers(info.num_layers);
  response->set_bos_id(info.bos_id);
  response->mutable_eos_ids()->Add(info.eos_ids.begin(), info.eos_ids.end());
  response->set_adds_bos(info.adds_bos);
  response->set_block_size(info.block_size);
  response->set_num_kv_blocks(info.num_kv_blocks);
  response->set_max_num_seqs(info.max_num_seqs);
  response->set_max_num_batched_tokens(info.max_num_batched_tokens);
  response->set_prefix_caching(info.prefix_caching);
  response->set_chunked_prefill(info.chunked_prefill);
  response->set_max_num_partial_prefills(info.max_num_partial_prefills);
  response->set_speculative(info.speculative_method);
  response->set_speculative_model(info.speculative_model);
  response->set_num_speculative_tokens(info.num_speculative_tokens);
  response->set_speculative_policy(info.speculative_policy);
  response->set_generation_config(info.generation_config);
  response->set_dtype(info.dtype);
  response->set_kv_cache_dtype(info.kv_cache_dtype);
  response->set_checkpoint_dtype(info.checkpoint_dtype);
  response->set_model_max_position_embeddings(info.model_max_position_embeddings);
  response->set_weight_bytes(info.weight_bytes);
  response->set_quantization(info.quantization);
  response->set_cpu_isa(info.cpu_isa);
  response->set_cpu_kernels(info.cpu_kernels);
  response->set_lm_head_quantized(info.lm_head_quantized);
  response->set_kv_cache_bytes(info.kv_cache_bytes);
  response->set_structured_output(true);
  v1::SamplingDefaults* sampling = response->mutable_default_sampling();
  sampling->set_temperature(info.sampling_defaults.temperature);
  sampling->set_top_k(info.sampling_defaults.top_k);
  sampling->set_top_p(info.sampling_defaults.top_p);
  sampling->set_min_p(info.sampling_defaults.min_p);
  sampling->set_repetition_penalty(info.sampling_defaults.repetition_penalty);
  v1::EngineState* engine = response->mutable_engine();
  engine->set_num_running(stats.num_running);
  engine->set_num_waiting(stats.num_waiting);
  engine->set_num_kv_blocks_total(stats.num_kv_blocks_total);
  engine->set_num_kv_blocks_free(stats.num_kv_blocks_free);
  engine->set_num_steps(stats.num_steps);
  engine->set_num_requests_finished(stats.num_requests_finished);
  engine->set_num_preemptions(stats.num_preemptions);
  engine->set_cached_free_blocks(stats.cached_free_blocks);
  engine->set_prefix_cache_queries(stats.prefix_cache_queries);
  engine->set_prefix_cache_hits(stats.prefix_cache_hits);
  engine->set_num_live_requests(stats.num_live_requests);
  for (const auto& [layer, counts] : stats.expert_load) {
    v1::LayerExpertLoad* l = engine->add_expert_load();
    l->set_layer(static_cast<int32_t>(layer));
    l->mutable_tokens_per_expert()->Add(counts.begin(), counts.end());
  }
}

}  // namespace inferd::server
