// The parity corpus: >= 10,000 strings from the shared math data plus synthetic edge cases (code, emoji, CJK,
// Cyrillic, whitespace runs, long digit strings, added/special tokens inside text). Deterministic (seeded PRNG).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const sharedData = process.env.PACS_SHARED_DATA ?? path.resolve(repoRoot, "../shared/data");

function readJsonl(file) {
  return fs.readFileSync(path.join(sharedData, file), "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

function mulberry32(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<tool_call>", "</tool_call>",
  "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>",
  "<|reserved_special_token_5|>", "<s>", "</s>", "<unk>", "<|im_sta", "<|im_end", "<think", "</ think>", "<|vision_pad|>"];

const SNIPPETS = [
  "def f(x):\n    return x ** 2 + 1\n\nprint(f(3))\n",
  "for (int i = 0; i < n; i++) {\n\tsum += a[i] * b[i];\n}\n",
  "public sealed class Foo : IBar\n{\n    private readonly int _x;\n    public int X => _x;\n}\n",
  "const re = /'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+/gu;\nconsole.log(\"hello\".match(re));\n",
  "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name ORDER BY 2 DESC;",
  "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }\n",
  "    if x is None:\n        raise ValueError(f\"bad {x!r}\")\n",
  "<html>\n  <body class=\"main\">&nbsp;&amp;&lt;tag&gt;</body>\n</html>",
  "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}",
  "x = [i for i in range(10) if i % 2 == 0]  # even numbers\r\ny = {k: v for k, v in zip('abc', [1, 2, 3])}\r\n",
];

const SAMPLES = [
  "你好，世界！今天天气很好。我们去公园散步吧。", "数学题：求 x 的值，使得 2x + 3 = 7。", "東京は日本の首都です。ひらがなとカタカナ。",
  "한국어 문장입니다. 안녕하세요!", "Привет, мир! Это тест на кириллице: ёжик, щука, Ъ.", "Съешь же ещё этих мягких французских булок, да выпей чаю.",
  "Γειά σου κόσμε· αβγδε ΑΒΓΔΕ", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "Tiếng Việt có dấu: ủ ễ ộ",
  "Zażółć gęślą jaźń", "Ærøskøbing — naïve café façade résumé", "𝑥² + 𝑦² = 𝑧², ∀ε>0 ∃δ>0", "ℝ ℕ ℤ ℚ ℂ ∑ ∏ ∫ √ ∞ ≤ ≥ ≠ ≈",
  "😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇯🇵 ❤️ ✅ 🔥🔥🔥", "emoji in text 🤖 robots 🦀 crabs and 🧪 tests", "ﬁ ﬂ ﬀ Ⅻ ① ⁵ ½ ㎏ ｆｕｌｌ ｗｉｄｔｈ",
  "e\u0301 a\u0300 o\u0308 n\u0303 (combining marks)", "Å Å Ω Ω é é", "I'M DON'T WE'LL YOU'VE HE'D SHE'S THEY'RE", "it's 'quoted' ''double'' '''triple'''",
  "tab\there\tand\ttabs\t\t\tend", "trailing spaces   ", "   leading spaces", "line1\nline2\r\nline3\rline4\n\n\n", "\u00a0nbsp\u00a0and\u3000ideographic\u2003em",
  "\u2028line separator\u2029paragraph\u0085nel", "zero\u200bwidth\u200djoiner\ufeffbom", "",
  "a\u{1D465}b c\u{1D466}\u{1D467}d \u{1D7D9}\u{1D7DA}2 x\u{20000}y\u{20001} \u{1D465}", "IT'S 'S 'Re 'LL \u017F'\u017F K'\u212A",
  "x \n\n y\t\n\tz  \r\n  w \u0085 v\u00a0\u00a0u",
];

function synthetic(rand, count) {
  const out = [];
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const ranges = [[0x20, 0x7e], [0xa0, 0x17f], [0x300, 0x36f], [0x391, 0x3c9], [0x400, 0x4ff], [0x4e00, 0x9fff], [0x3040, 0x30ff],
    [0xac00, 0xd7a3], [0x1f300, 0x1f64f], [0x1d400, 0x1d7ff], [0x2000, 0x206f], [0x0e00, 0x0e7f], [0x0600, 0x06ff]];
  for (let i = 0; i < count; i++) {
    const kind = i % 8;
    let s = "";
    if (kind === 0) {
      const n = 1 + Math.floor(rand() * 120);
      for (let j = 0; j < n; j++) s += String(Math.floor(rand() * 10));
      if (rand() < 0.5) s = "The number " + s + (rand() < 0.5 ? "." + Math.floor(rand() * 1e6) : "") + " is big";
    } else if (kind === 1) {
      const n = 1 + Math.floor(rand() * 12);
      for (let j = 0; j < n; j++) s += pick([" ", "  ", "\t", "\n", "\r\n", "   \n", "\n\n", "x", "word", "\u00a0", "\u3000"]);
    } else if (kind === 2) {
      const n = 1 + Math.floor(rand() * 8);
      for (let j = 0; j < n; j++) s += pick(["hello", " world", "x", "\n", " ", "2+2=4", "你好"]) + (rand() < 0.6 ? pick(SPECIALS) : "");
    } else if (kind === 3) {
      const n = 1 + Math.floor(rand() * 40);
      for (let j = 0; j < n; j++) {
        const [lo, hi] = pick(ranges);
        s += String.fromCodePoint(lo + Math.floor(rand() * (hi - lo + 1)));
      }
    } else if (kind === 4) {
      s = pick(SNIPPETS);
      if (rand() < 0.5) s = s.replace(/ {4}/g, "\t");
    } else if (kind === 5) {
      s = pick(SAMPLES) + pick([" ", "\n", "", "  "]) + pick(SAMPLES);
    } else if (kind === 6) {
      const n = 1 + Math.floor(rand() * 10);
      for (let j = 0; j < n; j++) s += pick(["😀", "👍🏽", "👨‍👩‍👧", "🇺🇸", "❤️", " ", "a", "1", "中", "ё", "!", "?!", "..."]);
    } else {
      s = pick(["$\\frac{1}{2}$", "\\begin{align} x &= 1 \\\\ y &= 2 \\end{align}", "\\boxed{42}", "x^{2}+y_{i}",
        "<<16-3-4=9>>9", "#### 18", "f'(x) = 3x^2", "a_1, a_2, \\ldots, a_n"]) + " " + pick(SAMPLES);
    }
    out.push(s);
  }
  return out;
}

/** Returns the corpus: shared math text, chunks of a JavaScript source file, and synthetic strings. */
export function buildCorpus() {
  const rand = mulberry32(20250915);
  const strings = [];
  for (const row of readJsonl("math500.jsonl")) strings.push(row.problem, row.solution);
  for (const row of readJsonl("gsm8k_test.jsonl")) strings.push(row.problem, row.solution);
  readJsonl("gsm8k_train.jsonl").slice(0, 2500).forEach((row) => strings.push(row.problem));
  readJsonl("train_math.jsonl").slice(0, 2500).forEach((row) => strings.push(row.problem));
  const js = fs.readFileSync(new URL("./node_modules/@huggingface/jinja/dist/index.js", import.meta.url), "utf8");
  for (let at = 0, i = 0; at < js.length && i < 300; at += 700, i++) strings.push(js.slice(at, at + 200 + Math.floor(rand() * 500)));
  strings.push(...SAMPLES, ...SNIPPETS, ...SPECIALS);
  strings.push(...synthetic(rand, 1600));
  return strings.filter((s) => typeof s === "string");
}

/** The texts of a JSON Lines file as `pacs tokenize --bench --jsonl` reads them: "text", else "problem" and "solution". */
export function jsonlTexts(file) {
  const texts = [];
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line) continue;
    const row = JSON.parse(line);
    if (typeof row.text === "string") { texts.push(row.text); continue; }
    for (const key of ["problem", "solution"]) if (typeof row[key] === "string") texts.push(row[key]);
  }
  return texts;
}
