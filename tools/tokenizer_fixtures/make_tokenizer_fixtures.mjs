// Writes tests/fixtures/text/<name>.tokens.jsonl.gz: one line per corpus string with the ids of
// @huggingface/tokenizers (the JavaScript port of Hugging Face tokenizers) for Qwen3, Llama 3 and stories260K.
// Fields: t (text), ids (encode without special tokens), sids (with special tokens, first 600 strings and every
// string holding a special token), d (decode(ids), only when it differs from t), ds (decode skipping special tokens,
// only where sids is present).
// Usage: cd tools/tokenizer_fixtures && npm install && node make_tokenizer_fixtures.mjs
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { Tokenizer } from "@huggingface/tokenizers";
import { buildCorpus, repoRoot } from "./corpus.mjs";

const tokenizers = {
  qwen3: path.join(repoRoot, "models/tokenizers/qwen3"),
  llama3: path.join(repoRoot, "models/tokenizers/llama3"),
  stories260K: path.join(repoRoot, "models/stories260K"),
};

const corpus = buildCorpus();
const outDir = path.join(repoRoot, "tests/fixtures/text");
fs.mkdirSync(outDir, { recursive: true });
for (const [name, dir] of Object.entries(tokenizers)) {
  const json = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
  const config = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
  const tokenizer = new Tokenizer(json, config);
  const specials = new Set(json.added_tokens.map((t) => t.content));
  const lines = [];
  corpus.forEach((text, i) => {
    const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
    const row = { t: text, ids };
    const decoded = ids.length ? tokenizer.decode(ids) : "";
    if (decoded !== text) row.d = decoded;
    if (i < 600 || [...specials].some((s) => text.includes(s))) {
      row.sids = tokenizer.encode(text, { add_special_tokens: true }).ids;
      row.ds = ids.length ? tokenizer.decode(ids, { skip_special_tokens: true }) : "";
    }
    lines.push(JSON.stringify(row));
  });
  const file = path.join(outDir, `${name}.tokens.jsonl.gz`);
  fs.writeFileSync(file, zlib.gzipSync(lines.join("\n") + "\n", { level: 9 }));
  console.log(`${file}: ${lines.length} strings, ${fs.statSync(file).size} bytes`);
}
