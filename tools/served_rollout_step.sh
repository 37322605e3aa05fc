#!/usr/bin/env bash
# One RL step with local vs served rollouts (issue 12): the arith PACS config on BASE, STEPS steps each, run in
# alternation PAIRS times; the served runs sample on one `pacs serve` process on 127.0.0.1 with weight sync after
# every optimizer step (rollout.engine=pacs). Prints the median of time/step, time/rollout and time/sync per run
# over steps 2..STEPS (step 1 warms up).
# Usage: tools/served_rollout_step.sh BASE [STEPS=6] [PAIRS=2]   (after `dotnet build src/Pacs.Cli -c Release`)
set -euo pipefail
base=$1; steps=${2:-6}; pairs=${3:-2}
pacs=src/Pacs.Cli/bin/Release/net10.0/pacs
work=$(mktemp -d); trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
"$pacs" serve --model "$base" --port 0 > "$work/serve.log" 2>&1 & server=$!
for _ in $(seq 100); do grep -q "http://" "$work/serve.log" && break; sleep 0.2; done
url=$(grep -o "http://[0-9.:]*" "$work/serve.log" | head -1)
summary() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if l.strip()]
rows = [r for r in rows if r.get("step", 0) >= 2 and "time/step" in r]
med = lambda k: statistics.median(r.get(k, 0.0) for r in rows)
print(f"{sys.argv[2]:7s} step {med('time/step'):.3f} s  rollout {med('time/rollout'):.3f}  update {med('time/update'):.3f}  sync {med('time/sync'):.3f}  (median of {len(rows)} steps)")
PY
}
for p in $(seq "$pairs"); do
  "$pacs" train --config configs/arith-pacs.yaml --model "$base" --steps "$steps" --out "$work/local$p" --set trainer.eval_every=0 > /dev/null
  summary "$work/local$p" local
  "$pacs" train --config configs/arith-pacs.yaml --model "$base" --steps "$steps" --out "$work/served$p" --set trainer.eval_every=0 \
    rollout.engine=pacs rollout.servers="$url" rollout.sync_dir="$work/sync$p" > /dev/null
  summary "$work/served$p" served
done
