// Notification channels (admins, SPEC §16): the list with URLs masked as the
// server returns them (scheme://host/…), create one (a webhook's secret is
// shown once, in the dialog that created it), delete, send a test; and the
// recent deliveries, failed ones first, each failed or dead one with Retry.
import { del, get, post } from '../api.js';
import { h, replace, timeEl, toast } from '../dom.js';
import { actionDialog } from './trust.js';

const TYPES = [
  ['slack', 'Slack (incoming webhook URL)'],
  ['discord', 'Discord (webhook URL)'],
  ['webhook', 'Webhook (signed JSON)'],
  ['email', 'Email (SMTP)'],
];
const REFRESH_MS = 5000;

function field(id, label, input, hint) {
  return h('div', { class: 'form-field' }, h('label', { for: id }, label), input,
    hint ? h('p', { class: 'hint' }, hint) : null);
}

function showSecret(m, ch) {
  const area = h('textarea', { class: 'input mono token-secret', readonly: true, rows: 1, spellcheck: 'false',
    'data-test': 'channel-secret', onfocus: (ev) => ev.target.select() });
  area.value = ch.secret;
  const close = h('button', { type: 'button', class: 'btn btn-primary', onclick: () => m.close('done') }, 'Done');
  m.el.addEventListener('close', () => replace(m.form), { once: true });
  replace(m.form, h('div', { class: 'form', 'data-test': 'secret-once' },
    h('div', { class: 'banner trust-banner' },
      'Copy the signing secret now: it is shown only this once. The receiver checks X-Pulse-Signature with it.'),
    area, h('div', { class: 'modal-actions' }, close)));
  close.focus();
}

function createDialog(reload) {
  const name = h('input', { id: 'ch-name', class: 'input', type: 'text', required: true, autofocus: true,
    autocomplete: 'off', maxlength: 255, 'data-test': 'channel-name' });
  const type = h('select', { id: 'ch-type', class: 'input', 'data-test': 'channel-type' },
    TYPES.map(([v, label]) => h('option', { value: v }, label)));
  const url = h('input', { id: 'ch-url', class: 'input mono', type: 'text', autocomplete: 'off', spellcheck: 'false',
    maxlength: 2048, 'data-test': 'channel-url', placeholder: 'https://hooks.slack.com/services/…' });
  const to = h('input', { id: 'ch-to', class: 'input mono', type: 'text', autocomplete: 'off', spellcheck: 'false',
    maxlength: 1024, 'data-test': 'channel-to', placeholder: 'ops@example.com, dev@example.com' });
  const toField = field('ch-to', 'Recipients', to, 'Comma-separated addresses.');
  const urlHint = h('p', { class: 'hint' });
  const sync = () => {
    const mail = type.value === 'email';
    toField.hidden = !mail;
    url.placeholder = mail ? 'smtp://relay.example.com:25 (empty: SMTP_URL)' : 'https://…';
    urlHint.textContent = mail ? 'smtp:// or smtps://; empty uses the server\'s SMTP_URL.'
      : 'http:// or https://. Saved, it is never shown in full again.';
  };
  type.addEventListener('change', sync);
  sync();
  actionDialog({
    title: 'New notification channel',
    body: h('div', { class: 'form' }, field('ch-name', 'Name', name), field('ch-type', 'Type', type),
      h('div', { class: 'form-field' }, h('label', { for: 'ch-url' }, 'URL'), url, urlHint), toField),
    confirm: 'Create channel', test: 'channel-create',
    act: async (m) => {
      const body = { name: name.value.trim(), type: type.value };
      if (url.value.trim()) body.url = url.value.trim();
      if (type.value === 'email') body.email_to = to.value.replace(/\s+/g, '');
      const ch = await post('/api/channels', body);
      reload();
      if (ch.secret) {
        showSecret(m, ch);
        return true;
      }
      toast('Created channel ' + ch.name, 'ok');
      return false;
    },
  });
}

function deleteChannel(ch, reload) {
  actionDialog({
    title: 'Delete channel',
    body: h('p', { class: 'modal-text' }, 'Delete the channel ', h('strong', null, ch.name),
      '? Workflows that name it send it nothing more; messages still waiting for it end failed.'),
    confirm: 'Delete channel', danger: true, test: 'channel-delete-confirm',
    act: async () => {
      await del('/api/channels/' + encodeURIComponent(ch.id));
      toast('Deleted channel ' + ch.name, 'ok');
      reload();
    },
  });
}

async function sendTest(ch, reload) {
  try {
    const r = await post('/api/channels/' + encodeURIComponent(ch.id) + '/test');
    toast('Test message #' + r.notification_id + ' queued for ' + ch.name, 'ok');
    reload();
  } catch (e) {
    toast('Could not queue a test: ' + e.message, 'error');
  }
}

async function retry(n, reload) {
  try {
    await post('/api/notifications/' + encodeURIComponent(n.id) + '/retry');
    toast('Delivery #' + n.id + ' queued again', 'ok');
    reload();
  } catch (e) {
    toast('Could not retry: ' + e.message, 'error');
  }
}

function channelRow(ch, reload) {
  return h('tr', { 'data-channel': ch.id },
    h('td', { 'data-label': 'Name' }, h('strong', null, ch.name)),
    h('td', { 'data-label': 'Type' }, h('span', { class: 'chip' }, ch.type)),
    h('td', { 'data-label': 'URL', class: 'mono small', 'data-test': 'channel-url-masked' },
      ch.url || 'SMTP_URL', ch.email_to ? h('div', { class: 'muted small' }, '→ ' + ch.email_to) : null),
    h('td', { 'data-label': 'Created' }, ch.created_by || '—', ' ', timeEl(ch.created_at, 'muted small')),
    h('td', { class: 'actions' },
      h('button', { type: 'button', class: 'btn btn-small', 'data-test': 'channel-test', onclick: () => sendTest(ch, reload) },
        'Send test'),
      h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'data-test': 'channel-delete',
        onclick: () => deleteChannel(ch, reload) }, 'Delete')));
}

function deliveryRow(n, reload) {
  const canRetry = n.status === 'failed' || n.status === 'dead';
  return h('tr', { 'data-notification': String(n.id), 'data-status': n.status },
    h('td', { 'data-label': 'Id', class: 'mono' }, String(n.id)),
    h('td', { 'data-label': 'When' }, timeEl(n.created_at)),
    h('td', { 'data-label': 'Channel' }, n.channel || h('span', { class: 'muted' }, 'deleted')),
    h('td', { 'data-label': 'Event' }, n.event,
      n.execution_id ? h('div', null, h('a', { class: 'mono small', href: '#/executions/' + encodeURIComponent(n.execution_id) },
        n.execution_id.slice(0, 8))) : null),
    h('td', { 'data-label': 'Status' }, h('span', { class: ['badge', 'delivery-' + n.status], 'data-test': 'delivery-status' },
      n.status), h('div', { class: 'muted small' }, n.attempts + (n.attempts === 1 ? ' attempt' : ' attempts'))),
    h('td', { 'data-label': 'Last error', class: 'small delivery-error' }, n.last_error || '—'),
    h('td', { class: 'actions' }, canRetry
      ? h('button', { type: 'button', class: 'btn btn-small', 'data-test': 'delivery-retry', onclick: () => retry(n, reload) }, 'Retry')
      : null));
}

export function channelsView(ctx, main) {
  if (!ctx.user.is_admin) {
    replace(main, h('section', { class: 'empty-page' }, h('h1', null, 'Admins only'),
      h('p', null, 'Only administrators manage notification channels.')));
    return null;
  }
  const chBody = h('tbody');
  const failedBody = h('tbody');
  const recentBody = h('tbody');
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const table = (test, heads, body) => h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-test': test },
    h('thead', null, h('tr', null, heads.map((x) => h('th', null, x)))), body));
  const deliveryHeads = ['Id', 'When', 'Channel', 'Event', 'Status', 'Last error', ''];
  const empty = (cols, text) => h('tr', null, h('td', { class: 'empty', colspan: cols }, text));
  const load = async () => {
    let channels, failed, dead, recent;
    try {
      [channels, failed, dead, recent] = await Promise.all([get('/api/channels'),
        get('/api/notifications?status=failed&limit=50'), get('/api/notifications?status=dead&limit=50'),
        get('/api/notifications?limit=50')]);
      err.hidden = true;
    } catch (e) {
      err.textContent = 'Could not load the channels: ' + e.message;
      err.hidden = false;
      return;
    }
    replace(chBody, channels.length ? channels.map((c) => channelRow(c, load))
      : empty(5, 'No channels yet. A workflow\'s "notify" rules name one.'));
    const bad = failed.concat(dead).sort((a, b) => b.id - a.id);
    replace(failedBody, bad.length ? bad.map((n) => deliveryRow(n, load)) : empty(7, 'No failed deliveries.'));
    replace(recentBody, recent.length ? recent.map((n) => deliveryRow(n, load)) : empty(7, 'Nothing sent yet.'));
  };
  replace(main,
    h('div', { class: 'page-head' }, h('h1', null, 'Notifications'),
      h('button', { type: 'button', class: 'btn btn-primary', 'data-test': 'new-channel', onclick: () => createDialog(load) },
        'New channel')),
    err,
    h('h2', { class: 'section-title' }, 'Channels'),
    table('channels', ['Name', 'Type', 'URL', 'Created', ''], chBody),
    h('h2', { class: 'section-title' }, 'Failed deliveries'),
    table('failed-deliveries', deliveryHeads, failedBody),
    h('h2', { class: 'section-title' }, 'Recent deliveries'),
    table('recent-deliveries', deliveryHeads, recentBody));
  load();
  const timer = setInterval(load, REFRESH_MS);
  return () => clearInterval(timer);
}
