// Enrollment tokens (admin, SPEC §12), a section of the Workers page: create
// one (groups, uses, expiry), see it ONCE with a copy button and the
// /etc/pulse/worker.env lines to paste, list them without their secret, and
// revoke one. The token lives only in the dialog that shows it: closing the
// dialog drops it, and no list or reload can show it again.
import { del, get, post } from '../api.js';
import { debounce, h, replace, timeEl, parseTime, toast } from '../dom.js';
import { actionDialog, chips, parseGroups } from './trust.js';

const HOUR = 3600000;
const EXPIRIES = [['1 hour', HOUR], ['24 hours', 24 * HOUR], ['7 days', 7 * 24 * HOUR], ['30 days', 30 * 24 * HOUR]];

function tokenState(t, now = Date.now()) {
  if (t.revoked_at) return 'revoked';
  if (typeof t.uses_left === 'number' && t.uses_left <= 0) return 'used up';
  const exp = parseTime(t.expires_at);
  if (exp !== null && exp <= now) return 'expired';
  return 'active';
}

// Copy text; the clipboard API wants a secure context, so fall back to
// selecting the text for the browser's own copy command.
async function copyText(text, source) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (e) {
    source.focus();
    source.select();
    try { return document.execCommand('copy'); } catch (e2) { return false; }
  }
}

// A read-only box with a Copy button: a secret shown once (here, triggers.js).
export function copyBox(id, label, text, rows, test) {
  const area = h('textarea', { id, class: 'input mono token-secret', readonly: true, rows, spellcheck: 'false', wrap: 'off',
    'data-test': test, onfocus: (ev) => ev.target.select() });
  area.value = text;
  const btn = h('button', { type: 'button', class: 'btn btn-small', 'data-test': test + '-copy', onclick: async () => {
    const ok = await copyText(text, area);
    btn.textContent = ok ? 'Copied' : 'Select it and copy by hand';
  } }, 'Copy');
  return h('div', { class: 'form-field' },
    h('div', { class: 'token-copy-head' }, h('label', { for: id }, label), btn), area);
}

// The one time the token is shown.
function showToken(m, t) {
  const env = 'PULSE_SERVER=' + location.origin + '\nPULSE_ENROLL_TOKEN=' + t.token + '\n';
  const close = h('button', { type: 'button', class: 'btn btn-primary', autofocus: true, onclick: () => m.close('done') }, 'Done');
  m.el.classList.add('modal-wide');
  // Closed, the dialog stays in the page: take the token out of it.
  m.el.addEventListener('close', () => replace(m.form), { once: true });
  replace(m.form, h('div', { class: 'form', 'data-test': 'token-once' },
    h('div', { class: 'banner trust-banner' },
      'Copy the token now: it is shown only this once. PULSE keeps only its hash.'),
    copyBox('token-value', 'Token', t.token, 1, 'token-value'),
    copyBox('token-env', 'Lines for /etc/pulse/worker.env', env, 3, 'token-env'),
    h('p', { class: 'hint' }, 'Install pulse-worker on the server, write these lines into /etc/pulse/worker.env and start ' +
      'it: the worker enrolls itself on its first start and is accepted at once with the groups ',
    chips(Array.isArray(t.groups) ? t.groups : [], 'none'),
    (t.uses_left > 1 ? ' (' + t.uses_left + ' servers can use it)' : '') + '.'),
    h('div', { class: 'modal-actions' }, close)));
  close.focus();
}

function createDialog(onCreated) {
  const groups = h('input', { id: 'tok-groups', class: 'input mono', type: 'text', autofocus: true, autocomplete: 'off',
    spellcheck: 'false', placeholder: 'web, db', 'data-test': 'token-groups' });
  const uses = h('input', { id: 'tok-uses', class: 'input input-narrow', type: 'number', min: 1, max: 10000, value: 1,
    required: true, 'data-test': 'token-uses' });
  const expiry = h('select', { id: 'tok-expiry', class: 'input input-narrow', 'data-test': 'token-expiry' },
    EXPIRIES.map(([label, ms]) => h('option', { value: String(ms), selected: ms === 24 * HOUR }, label)));
  actionDialog({
    title: 'New enrollment token',
    body: h('div', { class: 'form' },
      h('div', { class: 'form-field' }, h('label', { for: 'tok-groups' }, 'Groups'), groups,
        h('p', { class: 'hint' }, 'Comma-separated: every worker that enrolls with this token gets exactly these groups.')),
      h('div', { class: 'form-row' },
        h('label', { for: 'tok-uses' }, 'Servers'), uses,
        h('label', { for: 'tok-expiry' }, 'Expires after'), expiry)),
    confirm: 'Create token', test: 'token-create',
    act: async (m) => {
      const t = await post('/api/enrollment-tokens', {
        groups: parseGroups(groups.value), uses: Number(uses.value), expires_in: Number(expiry.value),
      });
      showToken(m, t);
      onCreated();
      return true;
    },
  });
}

function revokeToken(t, reload) {
  actionDialog({
    title: 'Revoke enrollment token',
    body: h('p', { class: 'modal-text' }, 'Revoke this token (groups ', chips(t.groups || [], 'none'),
      ')? No server can enroll with it any more; workers that already enrolled with it keep their own keys.'),
    confirm: 'Revoke token', danger: true, test: 'token-revoke-confirm',
    act: async () => {
      await del('/api/enrollment-tokens/' + encodeURIComponent(t.id));
      toast('Revoked the token', 'ok');
      reload();
    },
  });
}

// tokensSection(ctx) -> {el, destroy}; it loads its list itself, and again
// on a worker_update (an enrollment spends a use).
export function tokensSection(ctx) {
  const body = h('tbody');
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const load = async () => {
    let list;
    try {
      list = await get('/api/enrollment-tokens');
      err.hidden = true;
    } catch (e) {
      err.textContent = 'Could not load the enrollment tokens: ' + e.message;
      err.hidden = false;
      return;
    }
    list = Array.isArray(list) ? list : (list && Array.isArray(list.tokens) ? list.tokens : []);
    const rows = list.map((t) => {
      const st = t.state === 'used' ? 'used up' : (t.state || tokenState(t));
      return h('tr', { 'data-token': t.id, 'data-state': st },
        h('td', { 'data-label': 'Groups' }, chips(Array.isArray(t.groups) ? t.groups : [], 'none')),
        h('td', { 'data-label': 'Uses left' }, String(t.uses_left ?? '—')),
        h('td', { 'data-label': 'Expires' }, timeEl(t.expires_at)),
        h('td', { 'data-label': 'Created' }, t.created_by || '—', ' ', timeEl(t.created_at, 'muted small')),
        h('td', { 'data-label': 'State' }, h('span', { class: ['badge', 'token-' + st.replace(' ', '-')], 'data-test': 'token-state' }, st)),
        h('td', { class: 'actions' }, st === 'revoked' ? null
          : h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'data-test': 'token-revoke',
            onclick: () => revokeToken(t, load) }, 'Revoke')));
    });
    if (rows.length === 0) {
      rows.push(h('tr', null, h('td', { class: 'empty', colspan: 6 }, 'No enrollment tokens yet.')));
    }
    replace(body, rows);
  };
  const section = h('section', { class: 'tokens', 'data-test': 'tokens' },
    h('div', { class: 'page-head tokens-head' },
      h('h2', { class: 'section-title' }, 'Enrollment tokens'),
      h('button', { type: 'button', class: 'btn btn-primary', 'data-test': 'new-token', onclick: () => createDialog(load) },
        'New token')),
    h('p', { class: 'hint' }, 'A server enrolls itself with a token and is accepted at once with the token\'s groups. ' +
      'A server that enrolls with the shared key waits, pending, for an admin to accept it above.'),
    err,
    h('div', { class: 'table-wrap' }, h('table', { class: 'table tokens-table' },
      h('thead', null, h('tr', null, h('th', null, 'Groups'), h('th', null, 'Uses left'), h('th', null, 'Expires'),
        h('th', null, 'Created'), h('th', null, 'State'), h('th', null, h('span', { class: 'sr-only' }, 'Actions')))),
      body)));
  load();
  const off = ctx.live.on('worker_update', debounce(load, 500));
  return { el: section, destroy: off };
}
