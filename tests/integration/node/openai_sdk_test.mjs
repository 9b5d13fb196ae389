// tests/integration/node/openai_sdk_test.mjs — the official OpenAI Node SDK
// (npm package `openai`, pinned in package-lock.json) against inferd's HTTP
// API. Run by tests/integration/openai_node_sdk_test.py, which starts the
// daemon on 127.0.0.1 and passes:
//   INFERD_OPENAI_BASE_URL  http://127.0.0.1:PORT/v1
//   INFERD_MODEL            the served model id (stories260K)
//   INFERD_CHAT             "1" when the daemon has a chat template
// Each case is a node:test test; the process exits non-zero if one fails.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import OpenAI from 'openai';

const baseURL = process.env.INFERD_OPENAI_BASE_URL;
const model = process.env.INFERD_MODEL;
assert.ok(baseURL && model, 'INFERD_OPENAI_BASE_URL and INFERD_MODEL must be set');
const chatSkip = process.env.INFERD_CHAT === '1' ? false : 'the daemon has no chat template';

// No key is configured on the daemon; the SDK insists on one and sends it.
// No retries: a failure must show as it happened.
const client = new OpenAI({ baseURL, apiKey: 'not-checked', maxRetries: 0, timeout: 120_000 });

const PROMPT = 'Once upon a time';
const MESSAGES = [
  { role: 'system', content: 'You tell short stories.' },
  { role: 'user', content: 'Tell me about a dog.' },
];

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

test('models.list names the served model', async () => {
  const models = [];
  for await (const m of client.models.list()) models.push(m);
  assert.deepEqual(models.map((m) => m.id), [model]);
  assert.equal(models[0].object, 'model');
});

test('completions: non-streaming, then streaming gives the same text', async () => {
  const out = await client.completions.create({
    model, prompt: PROMPT, max_tokens: 16, temperature: 0,
  });
  assert.equal(out.object, 'text_completion');
  assert.equal(out.model, model);
  assert.equal(out.choices.length, 1);
  const [choice] = out.choices;
  assert.equal(choice.index, 0);
  assert.ok(['length', 'stop'].includes(choice.finish_reason), choice.finish_reason);
  assert.ok(choice.text.length > 0);
  assert.ok(out.usage.completion_tokens >= 1 && out.usage.completion_tokens <= 16);
  assert.equal(out.usage.total_tokens, out.usage.prompt_tokens + out.usage.completion_tokens);

  const chunks = await collect(await client.completions.create({
    model, prompt: PROMPT, max_tokens: 16, temperature: 0, stream: true,
    stream_options: { include_usage: true },
  }));
  const usage = chunks.at(-1);
  assert.deepEqual(usage.choices, []);
  assert.deepEqual(usage.usage, out.usage);
  const text = chunks.slice(0, -1).map((c) => c.choices[0].text).join('');
  assert.equal(text, choice.text);
  assert.equal(chunks.at(-2).choices[0].finish_reason, choice.finish_reason);
  assert.ok(chunks.every((c) => c.id === usage.id));
});

test('chat: non-streaming, then streaming gives the same message', { skip: chatSkip }, async () => {
  const out = await client.chat.completions.create({
    model, messages: MESSAGES, max_completion_tokens: 20, temperature: 0,
  });
  assert.equal(out.object, 'chat.completion');
  const [choice] = out.choices;
  assert.equal(choice.message.role, 'assistant');
  assert.ok(choice.message.content.length > 0);
  assert.ok(['length', 'stop'].includes(choice.finish_reason), choice.finish_reason);

  const chunks = await collect(await client.chat.completions.create({
    model, messages: MESSAGES, max_completion_tokens: 20, temperature: 0, stream: true,
  }));
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.equal(content, choice.message.content);
  assert.equal(chunks.at(-1).choices[0].finish_reason, choice.finish_reason);

  // The SDK's own stream helper assembles the same message.
  const runner = client.chat.completions.stream({
    model, messages: MESSAGES, max_completion_tokens: 20, temperature: 0,
  });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].message.content, choice.message.content);
});

test('n = 3: three choices, indexed, each its own seeded stream', async () => {
  const params = { model, prompt: 'The dog', max_tokens: 25, temperature: 1, seed: 77, n: 3 };
  const out = await client.completions.create(params);
  assert.deepEqual(out.choices.map((c) => c.index), [0, 1, 2]);
  // usage counts the tokens of all three, the prompt once.
  assert.ok(out.usage.completion_tokens >= 3 && out.usage.completion_tokens <= 75);
  assert.equal(out.usage.total_tokens, out.usage.prompt_tokens + out.usage.completion_tokens);
  assert.ok(new Set(out.choices.map((c) => c.text)).size > 1, 'the three seeds gave one text');
  // Seeded: the same request gives the same three texts.
  const again = await client.completions.create(params);
  assert.deepEqual(again.choices.map((c) => c.text), out.choices.map((c) => c.text));
  // Streaming: chunks of the three interleave; each index ends once.
  const chunks = await collect(await client.completions.create({ ...params, stream: true }));
  const texts = ['', '', ''];
  const reasons = [null, null, null];
  for (const chunk of chunks) {
    for (const c of chunk.choices) {
      texts[c.index] += c.text;
      if (c.finish_reason) {
        assert.equal(reasons[c.index], null, `index ${c.index} finished twice`);
        reasons[c.index] = c.finish_reason;
      }
    }
  }
  assert.deepEqual(texts, out.choices.map((c) => c.text));
  assert.deepEqual(reasons, out.choices.map((c) => c.finish_reason));
});

test('n = 3 in chat', { skip: chatSkip }, async () => {
  const out = await client.chat.completions.create({
    model, messages: MESSAGES, max_tokens: 12, temperature: 1, seed: 5, n: 3,
  });
  assert.deepEqual(out.choices.map((c) => c.index), [0, 1, 2]);
  assert.ok(out.choices.every((c) => c.message.role === 'assistant'));
});

test('response_format json_schema: the text is JSON of the schema', { skip: chatSkip }, async () => {
  const schema = {
    type: 'object',
    properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer' } },
    required: ['name', 'age'],
    additionalProperties: false,
  };
  const out = await client.chat.completions.create({
    model, messages: MESSAGES, max_tokens: 120, temperature: 0,
    response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } },
  });
  const [choice] = out.choices;
  if (choice.finish_reason === 'stop') {
    const value = JSON.parse(choice.message.content);
    assert.deepEqual(Object.keys(value), ['name', 'age']);
    assert.equal(typeof value.name, 'string');
    assert.ok(Number.isInteger(value.age));
  } else {
    // Cut by max_tokens: still a prefix of such JSON.
    assert.ok(choice.message.content.startsWith('{"name":'), choice.message.content);
  }
});

test('named tool choice: a call of that tool with arguments of its schema', { skip: chatSkip },
  async () => {
    const tools = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'The weather in a city',
          parameters: {
            type: 'object',
            properties: { city: { enum: ['Paris', 'Rome'] } },
            required: ['city'],
            additionalProperties: false,
          },
        },
      },
      {
        type: 'function',
        function: {
          name: 'get_time',
          parameters: { type: 'object', properties: { tz: { enum: [0, 1] } }, required: ['tz'] },
        },
      },
    ];
    const params = {
      model,
      messages: [{ role: 'user', content: 'What is the weather?' }],
      tools,
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      max_tokens: 60,
      temperature: 0,
    };
    const out = await client.chat.completions.create(params);
    const [choice] = out.choices;
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls.length, 1);
    const [call] = choice.message.tool_calls;
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.ok(['Paris', 'Rome'].includes(JSON.parse(call.function.arguments).city));

    // Streaming through the SDK's helper: the same call, assembled.
    const runner = client.chat.completions.stream(params);
    const final = await runner.finalChatCompletion();
    const [streamed] = final.choices[0].message.tool_calls;
    assert.equal(streamed.function.name, 'get_weather');
    assert.equal(streamed.function.arguments, call.function.arguments);
  });

test('logprobs: completions (logprobs N) and chat (logprobs, top_logprobs)', async () => {
  const out = await client.completions.create({
    model, prompt: PROMPT, max_tokens: 6, temperature: 0, logprobs: 3,
  });
  const lp = out.choices[0].logprobs;
  assert.equal(lp.tokens.length, out.usage.completion_tokens);
  assert.equal(lp.token_logprobs.length, lp.tokens.length);
  assert.ok(lp.token_logprobs.every((v) => v <= 0));
  assert.ok(lp.top_logprobs.every((top) => Object.keys(top).length >= 1
    && Object.keys(top).length <= 3));
  assert.equal(lp.tokens.join('').trimStart(), out.choices[0].text.trimStart());
  // Greedy: each chosen token is the most likely one.
  lp.top_logprobs.forEach((top, i) => {
    assert.ok(Math.max(...Object.values(top)) <= lp.token_logprobs[i] + 1e-5);
  });
  if (chatSkip) return;
  const chat = await client.chat.completions.create({
    model, messages: MESSAGES, max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 2,
  });
  const content = chat.choices[0].logprobs.content;
  assert.equal(content.length, chat.usage.completion_tokens);
  for (const entry of content) {
    assert.equal(typeof entry.token, 'string');
    assert.ok(entry.logprob <= 0);
    assert.equal(entry.top_logprobs.length, 2);
    assert.ok(Array.isArray(entry.bytes));
  }
});

test('errors: an unknown model is NotFoundError 404, a bad field BadRequestError 400', async () => {
  await assert.rejects(
    client.completions.create({ model: 'gpt-4', prompt: PROMPT, max_tokens: 4 }),
    (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, `${e.constructor.name}: ${e.message}`);
      assert.equal(e.status, 404);
      assert.equal(e.param, 'model');
      assert.match(e.message, /gpt-4/);
      return true;
    });
  await assert.rejects(
    client.completions.create({ model, prompt: PROMPT, max_tokens: 0 }),
    (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `${e.constructor.name}: ${e.message}`);
      assert.equal(e.status, 400);
      assert.equal(e.param, 'max_tokens');
      return true;
    });
  // The server still serves after both.
  const out = await client.completions.create({ model, prompt: PROMPT, max_tokens: 2 });
  assert.equal(out.choices.length, 1);
});
