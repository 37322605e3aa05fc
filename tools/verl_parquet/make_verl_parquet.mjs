// Writes a verl-format Parquet file and the same rows as JSONL (the reference the C# test reads it back against).
// Columns as verl's examples/data_preprocess/gsm8k.py makes them: data_source, prompt (a list of {content, role}
// messages), ability, reward_model {ground_truth, style}, extra_info {index, split}: an Arrow table written by
// parquet-wasm (the Rust arrow/parquet crates), as pyarrow writes verl's files: v1 data pages, the message list a
// three-level LIST (prompt.list.element), the dicts structs.
// Run: cd tools/verl_parquet && npm install && node make_verl_parquet.mjs
import * as arrow from 'apache-arrow'
import { createRequire } from 'node:module'
import { writeFileSync } from 'node:fs'

const out = '../../tests/Pacs.Rewards.Tests/Data/'
const instruction = "Let's think step by step and output the final answer after \"####\"."
const rows = [
  { q: 'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?', a: '72', system: null },
  { q: 'Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?', a: '10', system: 'You are a careful solver.' },
  { q: 'Betty needs $100 for a wallet; she has half, her parents give $15 and her grandparents twice that. How much more does she need?', a: '5', system: null },
]
const prompts = rows.map(r => [
  ...(r.system ? [{ content: r.system, role: 'system' }] : []),
  { content: `${r.q} ${instruction}`, role: 'user' },
])
const parquet = createRequire(import.meta.url)('parquet-wasm/node')
const records = rows.map((r, i) => ({
  data_source: 'openai/gsm8k', prompt: prompts[i], ability: 'math',
  reward_model: { ground_truth: r.a, style: 'rule' }, extra_info: { index: i, split: 'train' },
}))
const utf8 = new arrow.Utf8()
const field = (name, type) => new arrow.Field(name, type, true)
const message = new arrow.Struct([field('content', utf8), field('role', utf8)])
const column = (name, type, map = v => v) => [name, arrow.vectorFromArray(records.map(r => map(r[name])), type)]
const table = new arrow.Table(Object.fromEntries([
  column('data_source', utf8),
  column('prompt', new arrow.List(field('element', message))),
  column('ability', utf8),
  column('reward_model', new arrow.Struct([field('ground_truth', utf8), field('style', utf8)])),
  column('extra_info', new arrow.Struct([field('index', new arrow.Int64()), field('split', utf8)]), v => ({ ...v, index: BigInt(v.index) })),
]))
const bytes = parquet.writeParquet(parquet.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')))
writeFileSync(out + 'verl_rows.parquet', bytes)
writeFileSync(out + 'verl_rows.jsonl', records.map(r => JSON.stringify(r)).join('\n') + '\n')
console.log(`wrote ${rows.length} rows to ${out}verl_rows.parquet and verl_rows.jsonl`)
