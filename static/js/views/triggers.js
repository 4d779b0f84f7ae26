// Inbound triggers (SPEC §16), a section of a workflow's page, for admins:
// each trigger's hook URL, its recent deliveries (what was answered, why,
// and the execution it started), and create, enable/disable, rotate and
// delete. A secret
// lives only in the dialog that shows it, once: closing the dialog drops
// it, and no list or reload can show it again (the API gives a hint only).
import { del, get, post, put } from '../api.js';
import { h, replace, timeEl, toast } from '../dom.js';
import { copyBox } from './tokens.js';
import { actionDialog } from './trust.js';

const DELIVERIES_SHOWN = 20;

function hookUrl(t) {
  return location.origin + (t.url || '/hooks/' + t.id);
}

// The one time a secret is shown (after create or rotate).
function showSecret(m, t) {
  const curl = "body='{\"ref\":\"refs/heads/main\"}'\n" +
    "sig=$(printf '%s' \"$body\" | openssl dgst -sha256 -hmac \"$SECRET\" | sed 's/^.* //')\n" +
    "curl -X POST -H 'Content-Type: application/json' \\\n  -H \"X-Pulse-Signature: sha256=$sig\" \\\n" +
    "  -H \"X-Pulse-Delivery: $(uuidgen)\" \\\n  --data \"$body\" " + hookUrl(t) + '\n';
  const close = h('button', { type: 'button', class: 'btn btn-primary', autofocus: true, onclick: () => m.close('done') }, 'Done');
  m.el.classList.add('modal-wide');
  m.el.addEventListener('close', () => replace(m.form), { once: true });
  replace(m.form, h('div', { class: 'form', 'data-test': 'trigger-secret-once' },
    h('div', { class: 'banner trust-banner', role: 'alert' },
      'Copy the secret now: it is shown only this once. Anyone who has it can start this workflow.'),
    copyBox('trigger-once-url', 'Hook URL (POST)', hookUrl(t), 1, 'trigger-once-url'),
    copyBox('trigger-secret', 'Secret (HMAC-SHA256 key)', t.secret, 1, 'trigger-secret'),
    copyBox('trigger-curl', 'Calling it from a shell (SECRET set to the secret)', curl, 6, 'trigger-curl'),
    h('p', { class: 'hint' }, 'GitHub: a webhook with content type application/json and this secret. ' +
      'Gitea: a Gitea webhook, POST, application/json, this secret.'),
    h('div', { class: 'modal-actions' }, close)));
  close.focus();
}

// "name = path" lines -> {name: path}; throws on a line without "=".
function parseMap(text) {
  const map = {};
  text.split('\n').map((l) => l.trim()).filter((l) => l !== '').forEach((l) => {
    const i = l.indexOf('=');
    if (i <= 0) throw new Error('each line is "parameter = path.in.body": ' + l);
    map[l.slice(0, i).trim()] = l.slice(i + 1).trim();
  });
  return map;
}

function createDialog(wf, onCreated) {
  const name = h('input', { id: 'trg-name', class: 'input', type: 'text', autofocus: true, required: true, maxlength: 255,
    autocomplete: 'off', 'data-test': 'trigger-name', placeholder: 'github-release' });
  const names = (wf.definition && Array.isArray(wf.definition.params) ? wf.definition.params : []).map((p) => p.name);
  const map = h('textarea', { id: 'trg-map', class: 'input mono', rows: 3, spellcheck: 'false', 'data-test': 'trigger-map',
    placeholder: names.length ? names.map((n) => n + ' = release.tag_name').join('\n') : 'version = release.tag_name' });
  const enabled = h('input', { id: 'trg-enabled', type: 'checkbox', checked: true, 'data-test': 'trigger-enabled' });
  actionDialog({
    title: 'New trigger for ' + wf.name,
    body: h('div', { class: 'form' },
      h('div', { class: 'form-field' }, h('label', { for: 'trg-name' }, 'Name'), name,
        h('p', { class: 'hint' }, 'Executions it starts are started by trigger:<name>.')),
      h('div', { class: 'form-field' }, h('label', { for: 'trg-map' }, 'Parameters from the body'), map,
        h('p', { class: 'hint' }, 'One per line: parameter = dotted path into the JSON body (commits.0.id ' +
          'takes the first commit\'s id). The values are checked like any start.')),
      h('label', { class: 'checkbox' }, enabled, ' Enabled')),
    confirm: 'Create trigger', test: 'trigger-create',
    act: async (m) => {
      const t = await post('/api/triggers', {
        name: name.value.trim(), workflow_id: wf.id, params: parseMap(map.value), enabled: enabled.checked,
      });
      showSecret(m, t);
      onCreated();
      return true;
    },
  });
}

function rotateDialog(t, reload) {
  actionDialog({
    title: 'Rotate the secret of ' + t.name,
    body: h('p', { class: 'modal-text' }, 'Make a new secret? The current one (ending …' + (t.secret_hint || '') +
      ') stops working at once: give the sender the new one before its next delivery.'),
    confirm: 'Rotate secret', danger: true, test: 'trigger-rotate-confirm',
    act: async (m) => {
      const n = await post('/api/triggers/' + encodeURIComponent(t.id) + '/rotate', {});
      showSecret(m, n);
      reload();
      return true;
    },
  });
}

function deleteDialog(t, reload) {
  actionDialog({
    title: 'Delete trigger ' + t.name,
    body: h('p', { class: 'modal-text' }, 'Delete this trigger? Its URL answers 404 from now on and its deliveries are ' +
      'deleted; executions it started stay.'),
    confirm: 'Delete trigger', danger: true, test: 'trigger-delete-confirm',
    act: async () => {
      await del('/api/triggers/' + encodeURIComponent(t.id));
      reload();
    },
  });
}

// A disabled trigger's hook answers 404, as an unknown one; its deliveries
// still record the calls and say why.
async function setEnabled(t, enabled, reload) {
  try {
    await put('/api/triggers/' + encodeURIComponent(t.id), { enabled });
    toast((enabled ? 'Enabled ' : 'Disabled ') + t.name, 'ok');
    reload();
  } catch (e) {
    toast('Could not change ' + t.name + ': ' + e.message, 'error');
  }
}

function deliveriesTable(list) {
  if (list.length === 0) return h('p', { class: 'muted small', 'data-test': 'trigger-no-deliveries' }, 'No deliveries yet.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table trigger-deliveries' },
    h('thead', null, h('tr', null, h('th', null, 'When'), h('th', null, 'Answer'), h('th', null, 'Outcome'),
      h('th', null, 'Why'), h('th', null, 'Execution'), h('th', null, 'Delivery id'))),
    h('tbody', null, list.map((d) => h('tr', { 'data-test': 'trigger-delivery', 'data-outcome': d.outcome },
      h('td', { 'data-label': 'When' }, timeEl(d.at)),
      h('td', { 'data-label': 'Answer' }, String(d.status)),
      h('td', { 'data-label': 'Outcome' }, h('span', { class: ['badge', 'trigger-' + d.outcome] }, d.outcome)),
      h('td', { 'data-label': 'Why', 'data-test': 'trigger-reason' }, d.reason || '—'),
      h('td', { 'data-label': 'Execution' }, d.execution_id
        ? h('a', { href: '#/executions/' + encodeURIComponent(d.execution_id), 'data-test': 'trigger-execution' },
          d.execution_id.slice(0, 8)) : '—'),
      h('td', { 'data-label': 'Delivery id', class: 'mono small' }, d.delivery_id || '—'))))));
}

function triggerCard(t, reload) {
  const deliveries = h('div', null, h('p', { class: 'loading' }, 'Loading…'));
  get('/api/triggers/' + encodeURIComponent(t.id) + '/deliveries?limit=' + DELIVERIES_SHOWN)
    .then((r) => replace(deliveries, deliveriesTable((r && r.deliveries) || [])))
    .catch((e) => replace(deliveries, h('p', { class: 'form-error' }, 'Could not load the deliveries: ' + e.message)));
  const params = Object.entries(t.params || {});
  return h('div', { class: 'trigger', 'data-test': 'trigger', 'data-trigger': t.id },
    h('div', { class: 'page-head' },
      h('h3', null, t.name, t.enabled ? null : h('span', { class: 'badge', 'data-test': 'trigger-disabled' }, 'disabled')),
      h('div', { class: 'head-actions' },
        h('button', { type: 'button', class: 'btn btn-small', 'data-test': 'trigger-toggle',
          onclick: () => setEnabled(t, !t.enabled, reload) }, t.enabled ? 'Disable' : 'Enable'),
        h('button', { type: 'button', class: 'btn btn-small', 'data-test': 'trigger-rotate',
          onclick: () => rotateDialog(t, reload) }, 'Rotate secret'),
        h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'data-test': 'trigger-delete',
          onclick: () => deleteDialog(t, reload) }, 'Delete'))),
    h('p', { class: 'small' }, 'POST ', h('code', { 'data-test': 'trigger-url' }, hookUrl(t)),
      h('span', { class: 'muted' }, ' · secret …' + (t.secret_hint || '') + ' · by ' + (t.created_by || '—') + ' ')),
    params.length ? h('p', { class: 'small muted' }, 'Parameters: ',
      params.map(([k, v], i) => [i ? ', ' : '', h('code', null, k), ' ← ', h('code', null, v)])) : null,
    deliveries);
}

// triggersSection(ctx, wf) -> the section, or null for a non-admin (the API
// is for admins). The workflow page builds it again whenever an execution
// of wf starts, which may be one of its deliveries.
export function triggersSection(ctx, wf) {
  if (!ctx.user.is_admin) return null;
  const list = h('div', { class: 'triggers-list' }, h('p', { class: 'loading' }, 'Loading…'));
  const load = async () => {
    let ts;
    try {
      ts = await get('/api/triggers?workflow_id=' + encodeURIComponent(wf.id));
    } catch (e) {
      replace(list, h('p', { class: 'form-error', role: 'alert' }, 'Could not load the triggers: ' + e.message));
      return;
    }
    replace(list, ts.length ? ts.map((t) => triggerCard(t, load))
      : h('p', { class: 'muted', 'data-test': 'no-triggers' }, 'No triggers: only people start this workflow.'));
  };
  load();
  return h('section', { class: 'triggers', 'data-test': 'triggers' },
    h('div', { class: 'page-head' },
      h('h2', { class: 'section-title' }, 'Triggers'),
      h('button', { type: 'button', class: 'btn', 'data-test': 'new-trigger', onclick: () => createDialog(wf, load) },
        'New trigger')),
    h('p', { class: 'hint' }, 'A signed POST to a trigger\'s URL starts this workflow (GitHub, Gitea or any script ' +
      'that can compute an HMAC-SHA256). Every call is listed, with why it started nothing.'),
    list);
}
