// Runs the dashboard end-to-end scenarios one after another against a running
// stack (PULSE_URL, PULSE_WORKER_API_KEY, PULSE_CTL as for the integration
// tests) and prints each file's TAP, then "N passed, N failed".
// Usage: node run.js [test_file.mjs ...]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const files = process.argv.slice(2).length ? process.argv.slice(2)
  : readdirSync(here).filter((f) => /^test_.*\.mjs$/.test(f)).sort();
let passed = 0;
let failed = 0;
for (const f of files) {
  console.log('# ' + f);
  const r = spawnSync(process.execPath, [join(here, f.replace(/^.*\//, ''))], { encoding: 'utf8', cwd: here, timeout: 300000 });
  // TAP is counted from stdout only, against the file's plan, as
  // ./pulse-dev test does; stderr is shown, never counted.
  const out = r.stdout || '';
  process.stdout.write(out);
  if (r.stderr) process.stderr.write(r.stderr);
  const ok = (out.match(/^ok( |$)/gm) || []).length;
  const bad = (out.match(/^not ok( |$)/gm) || []).length;
  const plans = out.match(/^1\.\.\d+/gm) || [];
  const planned = plans.length === 1 && Number(plans[0].slice(3)) === ok + bad;
  if (!planned) console.log(`# ${f}: ${ok + bad} results, plan ${plans.join(' ') || 'missing'}`);
  passed += ok;
  failed += bad + ((r.status !== 0 && bad === 0) || !planned ? 1 : 0);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
