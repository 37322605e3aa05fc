// The official `openai` npm client against a real `pacs serve` process on 127.0.0.1 (a free port): models,
// completions (token-id and text prompts, log-probs, streaming), chat (template, log-probs, streaming), errors
// (401, 404) and SIGTERM. Bounded in time; exits nonzero when a check fails. Run by .ci/run after `dotnet test`.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pacs = process.env.PACS_BIN ?? join(repo, 'src', 'Pacs.Cli', 'bin', 'Release', 'net10.0', 'pacs');
const deadline = setTimeout(() => { console.error('serve_client.mjs: timed out after 180 s'); finish(1); }, 180_000);
let server;
let passed = 0, failed = 0;

function finish(code) {
  clearTimeout(deadline);
  if (server && server.exitCode === null) server.kill('SIGKILL');
  console.log(`serve_client.mjs: ${passed} checks passed, ${failed} failed`);
  process.exit(code || (failed > 0 ? 1 : 0));
}

async function check(name, body) {
  try {
    await body();
    passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}: ${e?.stack ?? e}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// stories260K with a small chat template (the original has none).
function modelWithTemplate() {
  const dir = join(mkdtempSync(join(tmpdir(), 'pacs-node-')), 'stories260K');
  const source = join(repo, 'models', 'stories260K');
  mkdirSync(dir);
  for (const f of readdirSync(source)) copyFileSync(join(source, f), join(dir, f));
  const configPath = join(dir, 'tokenizer_config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  config.chat_template = "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";
  writeFileSync(configPath, JSON.stringify(config));
  return dir;
}

function startServer(modelDir, keyVariable) {
  return new Promise((resolveUrl, reject) => {
    server = spawn(pacs, ['serve', '--model', modelDir, '--host', '127.0.0.1', '--port', '0', '--api-key-env', keyVariable], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) resolveUrl(m[1]);
    });
    server.stderr.on('data', (d) => process.stderr.write(d));
    server.on('exit', (code) => reject(new Error(`pacs serve exited with ${code} before listening: ${out}`)));
  });
}

async function main() {
  if (!existsSync(pacs)) {
    console.log(`not ok - ${pacs} not found (build src/Pacs.Cli in Release first)`);
    failed++;
    finish(1);
  }
  const key = 'node-check-' + Math.random().toString(36).slice(2);
  process.env.PACS_NODE_CHECK_KEY = key;
  const modelDir = modelWithTemplate();
  const url = await startServer(modelDir, 'PACS_NODE_CHECK_KEY');
  const client = new OpenAI({ baseURL: url + '/v1', apiKey: key, maxRetries: 0, timeout: 60_000 });
  const model = 'stories260K';

  await check('models.list lists the served model', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert(ids.length === 1 && ids[0] === model, `got ${JSON.stringify(ids)}`);
  });

  await check('completions: token-id prompt, log-probs and token ids', async () => {
    const c = await client.completions.create({ model, prompt: [1, 403, 407], max_tokens: 8, temperature: 0, logprobs: 0, return_token_ids: true, ignore_eos: true });
    const choice = c.choices[0];
    assert(choice.token_ids.length === 8, `token_ids ${JSON.stringify(choice.token_ids)}`);
    assert(choice.logprobs.token_logprobs.length === 8 && choice.logprobs.token_logprobs.every((x) => x <= 0), 'token_logprobs');
    assert(c.usage.completion_tokens === 8 && c.usage.prompt_tokens === 3, JSON.stringify(c.usage));
  });

  await check('completions: text prompt, greedy', async () => {
    const c = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 20, temperature: 0 });
    assert(c.choices[0].text.includes('Lily'), c.choices[0].text);
  });

  await check('completions: streaming equals one response', async () => {
    const request = { model, prompt: [1, 70], max_tokens: 16, temperature: 0.8, seed: 4 };
    const whole = await client.completions.create(request);
    let text = '';
    let finish = null;
    for await (const chunk of await client.completions.create({ ...request, stream: true })) {
      for (const choice of chunk.choices) { text += choice.text; finish = choice.finish_reason ?? finish; }
    }
    assert(text === whole.choices[0].text, `${JSON.stringify(text)} vs ${JSON.stringify(whole.choices[0].text)}`);
    assert(finish === whole.choices[0].finish_reason, `finish ${finish}`);
  });

  await check('chat: template, log-probs with top alternatives', async () => {
    const c = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Tell a story' }], max_tokens: 10, temperature: 0, logprobs: true, top_logprobs: 2 });
    const content = c.choices[0].logprobs.content;
    assert(c.choices[0].message.role === 'assistant', 'role');
    assert(content.length === c.usage.completion_tokens && content.length === 10, `${content.length} log-probs`);
    assert(content.every((t) => t.top_logprobs.length === 2 && Math.abs(t.top_logprobs[0].logprob - t.logprob) < 1e-5), 'top_logprobs');
  });

  await check('chat: streaming equals one response', async () => {
    const request = { model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }], max_tokens: 16, temperature: 0.7, seed: 9 };
    const whole = await client.chat.completions.create(request);
    let text = '';
    for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) {
      for (const choice of chunk.choices) text += choice.delta?.content ?? '';
    }
    assert(text === whole.choices[0].message.content, `${JSON.stringify(text)} vs ${JSON.stringify(whole.choices[0].message.content)}`);
  });

  await check('errors: a wrong key is 401', async () => {
    const other = new OpenAI({ baseURL: url + '/v1', apiKey: 'wrong', maxRetries: 0 });
    try {
      await other.completions.create({ model, prompt: [1], max_tokens: 1 });
      throw new Error('no error');
    } catch (e) {
      assert(e instanceof OpenAI.AuthenticationError && e.status === 401, `got ${e}`);
    }
  });

  await check('errors: an unknown model is 404, a bad field 400', async () => {
    try {
      await client.completions.create({ model: 'no-such-model', prompt: [1], max_tokens: 1 });
      throw new Error('no error');
    } catch (e) {
      assert(e instanceof OpenAI.NotFoundError && e.status === 404, `got ${e}`);
    }
    try {
      await client.completions.create({ model, prompt: [1], max_tokens: -1 });
      throw new Error('no error');
    } catch (e) {
      assert(e instanceof OpenAI.BadRequestError && e.error?.param === 'max_tokens', `got ${e}`);
    }
  });

  await check('SIGTERM stops the server with exit code 0', async () => {
    server.removeAllListeners('exit');
    const exited = new Promise((r) => server.once('exit', (code) => r(code)));
    server.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 30_000))]);
    assert(code === 0, `exit ${code}`);
  });

  rmSync(dirname(modelDir), { recursive: true, force: true });
  finish(0);
}

main().catch((e) => { failed++; console.log(`not ok - ${e?.stack ?? e}`); finish(1); });
