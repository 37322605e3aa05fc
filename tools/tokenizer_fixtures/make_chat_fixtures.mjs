// Writes tests/fixtures/text/chat_templates.jsonl: conversations rendered by @huggingface/jinja (the Jinja port used
// by transformers.js) through the Qwen3, Llama 3, Qwen2.5 and Llama 3.1 chat templates, with and without a
// generation prompt, thinking on/off and tools. Each line: template, messages, add_generation_prompt, extra,
// and output (or error when the template raises).
// Usage: cd tools/tokenizer_fixtures && npm install && node make_chat_fixtures.mjs
import fs from "node:fs";
import path from "node:path";
import { Template } from "@huggingface/jinja";
import { repoRoot } from "./corpus.mjs";

function fromConfig(dir) {
  const config = JSON.parse(fs.readFileSync(path.join(repoRoot, dir, "tokenizer_config.json"), "utf8"));
  const specials = {};
  for (const key of ["bos_token", "eos_token", "unk_token", "pad_token"]) {
    const v = config[key];
    const content = typeof v === "string" ? v : v && typeof v === "object" ? v.content : null;
    if (typeof content === "string") specials[key] = content;
  }
  return { source: config.chat_template, specials };
}
const templatesDir = path.join(repoRoot, "tests/fixtures/text/templates");
const templates = {
  qwen3: fromConfig("models/tokenizers/qwen3"),
  llama3: fromConfig("models/tokenizers/llama3"),
  "qwen2.5": { source: fs.readFileSync(path.join(templatesDir, "qwen2.5.jinja"), "utf8"), specials: {} },
  "llama3.1": { source: fs.readFileSync(path.join(templatesDir, "llama3.1.jinja"), "utf8"), specials: { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" } },
};

// Key order matters for tojson: role, content, reasoning_content, tool_calls, name (as ChatMessage.ToJinja writes them).
const msg = (role, content, more = {}) => ({ role, content, ...more });
const call = (name, args) => ({ type: "function", function: { name, arguments: args } });
const weatherTool = { type: "function", function: { name: "get_weather", description: "Get the current weather in a city",
  parameters: { type: "object", properties: { city: { type: "string", description: "City name, e.g. Paris" },
    unit: { type: "string", enum: ["celsius", "fahrenheit"] } }, required: ["city"] } } };
const calcTool = { type: "function", function: { name: "calculate", description: "Evaluate an arithmetic expression; returns a number",
  parameters: { type: "object", properties: { expression: { type: "string" } }, required: ["expression"] } } };

const conversations = [
  [msg("user", "What is 2 + 2?")],
  [msg("system", "You are a careful math tutor."), msg("user", "Solve x^2 = 9.")],
  [msg("system", "Be brief."), msg("user", "Hi!"), msg("assistant", "Hello! How can I help?"), msg("user", "Tell me a joke.  ")],
  [msg("user", "Compute 17*23"), msg("assistant", "<think>\n17*23 = 391\n</think>\n\nThe answer is 391."), msg("user", "And 18*23?")],
  [msg("user", "Compute 17*23"), msg("assistant", "The answer is 391.", { reasoning_content: "17*20=340, 17*3=51, total 391." }), msg("user", "Thanks")],
  [msg("user", "Compute 17*23"), msg("assistant", "<think>\nlast turn reasoning\n</think>\n\n391")],
  [msg("system", "You can call tools."), msg("user", "Weather in Paris and 3*7?"),
    msg("assistant", "", { tool_calls: [call("get_weather", { city: "Paris", unit: "celsius" }), call("calculate", { expression: "3*7" })] }),
    msg("tool", "{\"temperature\": 21}"), msg("tool", "21"), msg("assistant", "It is 21°C in Paris and 3*7 = 21.")],
  [msg("user", "What's the weather in Tokyo?"), msg("assistant", "Let me check.", { tool_calls: [call("get_weather", "{\"city\": \"Tokyo\"}")] }),
    msg("tool", "Sunny, 25°C"), msg("user", "<tool_response>\nok\n</tool_response>")],
  [msg("user", "Unicode: 你好, Привет, 😀 — and \"quotes\" \\ backslashes\ttabs\n\nnew lines  ")],
  [msg("user", "Weather in Rome?"), msg("assistant", "", { tool_calls: [call("get_weather", { city: "Rome" })] }), msg("tool", "Rainy")],
  [msg("system", "sys"), msg("user", "u1"), msg("assistant", "a1"), msg("system", "second system"), msg("user", "u2")],
  [msg("user", "")],
];
const optionSets = [
  { add_generation_prompt: true, extra: {} },
  { add_generation_prompt: false, extra: {} },
  { add_generation_prompt: true, extra: { enable_thinking: false } },
  { add_generation_prompt: true, extra: { enable_thinking: true } },
  { add_generation_prompt: true, extra: { tools: [weatherTool, calcTool] } },
  { add_generation_prompt: false, extra: { tools: [weatherTool] } },
  { add_generation_prompt: true, extra: { tools: [weatherTool], tools_in_user_message: false, date_string: "01 Jan 2025" } },
];

const lines = [];
for (const [name, { source, specials }] of Object.entries(templates)) {
  const template = new Template(source);
  for (const messages of conversations) {
    for (const { add_generation_prompt, extra } of optionSets) {
      const row = { template: name, messages, add_generation_prompt, extra };
      try {
        row.output = template.render({ messages, add_generation_prompt, ...specials, ...extra });
      } catch (e) {
        row.error = String(e.message ?? e);
      }
      lines.push(JSON.stringify(row));
    }
  }
}
const file = path.join(repoRoot, "tests/fixtures/text/chat_templates.jsonl");
fs.writeFileSync(file, lines.join("\n") + "\n");
console.log(`${file}: ${lines.length} renderings, ${lines.filter((l) => l.includes('"error"')).length} raise`);
