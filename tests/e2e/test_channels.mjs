// The Notifications page (admins, SPEC §16): create a webhook channel and
// see its signing secret once; the list shows URLs masked (scheme://host/…);
// "Send test" reaches a local receiver signed with that secret; a channel
// whose receiver answers 400 shows the delivery under failed ones with the
// answer, and Retry delivers it once the receiver accepts; delete a
// channel; employees have no such page.
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { browser, call, check, page, problems, require, run, shot, uniq, URL, waitFor } from './lib.js';

run(async () => {
  const got = [];
  let refuse = true;
  const rx = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const status = req.url.startsWith('/bad') && refuse ? 400 : 200;
      got.push({ path: req.url, headers: req.headers, body, status });
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(status === 400 ? 'unknown hook' : 'ok');
    });
  });
  await new Promise((r) => rx.listen(0, '127.0.0.1', r));
  const port = rx.address().port;
  const hookPath = '/hook/' + uniq('secretpath');

  const b = await browser();
  const p = await page(b, 'admin');
  await p.goto(URL + '/#/workers');
  // The admin links appear once /api/user has answered: wait for it.
  check('admins see Notifications in the navigation', await p.locator('nav a[data-nav=notifications]')
    .waitFor({ state: 'visible', timeout: 15000 }).then(() => true, () => false));
  await p.locator('nav a[data-nav=notifications]').click();
  await p.locator('[data-test=channels]').waitFor();

  // --- a webhook channel: the secret once
  const name = uniq('e2e-hook');
  await p.locator('[data-test=new-channel]').click();
  await p.locator('[data-test=channel-name]').fill(name);
  await p.locator('[data-test=channel-type]').selectOption('webhook');
  await p.locator('[data-test=channel-url]').fill(`http://127.0.0.1:${port}${hookPath}`);
  await p.locator('[data-test=channel-create]').click();
  const secretBox = p.locator('[data-test=channel-secret]');
  await secretBox.waitFor();
  const secret = await secretBox.inputValue();
  check('the signing secret is shown once: 64 hex characters', /^[0-9a-f]{64}$/.test(secret), secret.length);
  await shot(p, 'channels-01-secret-once');
  await p.locator('[data-test=secret-once] button', { hasText: 'Done' }).click();
  const row = p.locator('[data-test=channels] tr', { hasText: name });
  await row.waitFor();
  const masked = await row.locator('[data-test=channel-url-masked]').textContent();
  check('the list shows the URL masked as scheme://host/…', masked === `http://127.0.0.1:${port}/…`, masked);
  check('neither the path nor the secret is anywhere in the page',
    !(await p.content()).includes(hookPath.slice(6)) && !(await p.content()).includes(secret));
  const r = await call('GET', '/api/channels');
  const ch = r.data.find((c) => c.name === name);
  require('the channel exists', ch, r.data);

  // --- send a test: reaches the receiver, signed
  await row.locator('[data-test=channel-test]').click();
  const hit = await waitFor(() => got.find((g) => g.path === hookPath), 15000);
  check('"Send test" reaches the receiver', hit, got.map((g) => g.path));
  if (hit) {
    const want = 'sha256=' + createHmac('sha256', secret).update(hit.body).digest('hex');
    check('signed with the secret shown once', hit.headers['x-pulse-signature'] === want);
    check('with a delivery id', /^[0-9a-f-]{36}$/.test(hit.headers['x-pulse-delivery'] || ''));
    check('the event says test', JSON.parse(hit.body.toString()).event === 'test');
  }

  // --- a refusing receiver: failed at once, Retry delivers
  const bad = uniq('e2e-slack');
  await p.locator('[data-test=new-channel]').click();
  await p.locator('[data-test=channel-name]').fill(bad);
  await p.locator('[data-test=channel-type]').selectOption('slack');
  await p.locator('[data-test=channel-url]').fill(`http://127.0.0.1:${port}/bad/T0/B0/k`);
  await p.locator('[data-test=channel-create]').click();
  const badRow = p.locator('[data-test=channels] tr', { hasText: bad });
  await badRow.waitFor();
  await badRow.locator('[data-test=channel-test]').click();
  const failedRow = p.locator('[data-test=failed-deliveries] tr', { hasText: bad });
  await failedRow.waitFor({ timeout: 20000 });
  check('the refused delivery is listed as failed, with the answer',
    (await failedRow.locator('[data-test=delivery-status]').textContent()) === 'failed' &&
    (await failedRow.textContent()).includes('HTTP 400: unknown hook'));
  await shot(p, 'channels-02-failed');
  refuse = false;
  await failedRow.locator('[data-test=delivery-retry]').click();
  const delivered = await waitFor(async () => {
    const n = await call('GET', '/api/notifications?limit=50');
    return n.data.find((x) => x.channel === bad && x.status === 'delivered');
  }, 20000);
  check('Retry: delivered once the receiver accepts', delivered);
  await p.locator('[data-test=failed-deliveries] tr', { hasText: bad }).waitFor({ state: 'detached', timeout: 15000 });
  check('and it leaves the failed list', true);
  check('the slack message is {"text": …}', got.some((g) => g.path.startsWith('/bad') && g.status === 200 &&
    JSON.parse(g.body.toString()).text === `PULSE: test message for channel ${bad} (sent by admin)`));

  // --- bad input in the dialog: the server's reason shown
  await p.locator('[data-test=new-channel]').click();
  await p.locator('[data-test=channel-name]').fill(uniq('e2e-ftp'));
  await p.locator('[data-test=channel-url]').fill('ftp://127.0.0.1/x');
  await p.locator('[data-test=channel-create]').click();
  await p.locator('[data-test=action-error]', { hasText: 'url' }).waitFor();
  check('an ftp:// URL is refused naming url', true);
  await p.keyboard.press('Escape');

  // --- delete
  for (const n of [name, bad]) {
    const rw = p.locator('[data-test=channels] tr', { hasText: n });
    await rw.locator('[data-test=channel-delete]').click();
    await p.locator('[data-test=channel-delete-confirm]').click();
    await rw.waitFor({ state: 'detached' });
  }
  check('both channels deleted from the list', !(await call('GET', '/api/channels')).data.some((c) => c.name === name || c.name === bad));
  check('admin: no errors but the deliberate 400', problems(p, [/400/]).length === 0, p.problems);

  // --- employees have none of it
  const e = await page(b, 'employee');
  await e.goto(URL + '/#/notifications');
  await e.locator('main h1', { hasText: 'Admins only' }).waitFor();
  check('employees see no Notifications link', !(await e.locator('nav a[data-nav=notifications]').isVisible()));
  check('employee: no errors', problems(e).length === 0, e.problems);
  rx.close();
});
