// Encoding speed of @huggingface/tokenizers (the JavaScript port) on the same corpus as `pacs tokenize --bench`.
// Usage: node bench.mjs TOKENIZER_DIR JSONL [PASSES]
import fs from "node:fs";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { jsonlTexts } from "./corpus.mjs";

const [dir, file, passesArg] = process.argv.slice(2);
if (!dir || !file) {
  console.error("usage: node bench.mjs TOKENIZER_DIR JSONL [PASSES]");
  process.exit(2);
}
const loadStart = performance.now();
const tokenizer = new Tokenizer(JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")),
  JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")));
const loadSeconds = (performance.now() - loadStart) / 1000;
const texts = jsonlTexts(file);
const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, "utf8"), 0);
console.log(`corpus: ${texts.length} texts, ${bytes} UTF-8 bytes; tokenizer loaded in ${loadSeconds.toFixed(2)} s`);
let best = Infinity;
for (let pass = 1; pass <= Number(passesArg ?? 3); pass++) {
  let tokens = 0;
  const start = performance.now();
  for (const t of texts) tokens += tokenizer.encode(t, { add_special_tokens: false }).ids.length;
  const seconds = (performance.now() - start) / 1000;
  best = Math.min(best, seconds);
  console.log(`pass ${pass}: ${seconds.toFixed(3)} s, ${(bytes / seconds / 1e6).toFixed(2)} MB/s, ${(tokens / seconds / 1e6).toFixed(3)} M tokens/s (${tokens} tokens)`);
}
console.log(`best: ${(bytes / best / 1e6).toFixed(2)} MB/s`);
