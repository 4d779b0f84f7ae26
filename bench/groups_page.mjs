// bench/groups.py's browser: open an execution's page in Debian's chromium
// (playwright-core from tests/e2e/node_modules) RUNS times and print, as
// JSON, how long after navigation started each load had drawn its groups
// (ms), had its scripts loaded (boot: DOMContentLoaded) and had received
// ?view=groups (fetched).
// Usage: node groups_page.mjs URL EXECUTION_ID GROUPS RUNS
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', 'tests', 'e2e', 'package.json'));
const { chromium } = require('playwright-core');
const [url, id, groups, runs] = process.argv.slice(2);

const b = await chromium.launch({ executablePath: process.env.PULSE_CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
const ms = [];
const boot = [];
const fetched = [];
try {
  const ctx = await b.newContext({ httpCredentials: { username: 'admin', password: 'admin', origin: url, send: 'always' },
    viewport: { width: 1280, height: 900 } });
  for (let i = 0; i < Number(runs); i++) {
    const p = await ctx.newPage();
    await p.goto(url + '/#/executions/' + id);
    await p.locator('[data-test=group]').nth(Number(groups) - 1).waitFor({ timeout: 60000 });
    const t = await p.evaluate(() => [performance.now(),
      performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
      (performance.getEntriesByType('resource').find((e) => e.name.includes('view=groups')) || {}).responseEnd]);
    ms.push(t[0]);
    boot.push(t[1]);
    fetched.push(t[2] ?? null);
    await p.close();
  }
} finally {
  await b.close();
}
console.log(JSON.stringify({ ms, boot, fetched }));
