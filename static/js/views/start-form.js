// Starting a workflow (SPEC section 14): one with `params` opens a form built
// from the declarations (typed inputs, descriptions, defaults, required
// marked); the server decides, and its 400 is shown beside the field it
// names. "Run again" opens the same form filled with an execution's values.
import { ApiError, post } from '../api.js';
import { h, toast } from '../dom.js';
import { openModal } from '../modal.js';

export function paramsOf(wf) {
  const d = wf && wf.definition;
  return d && Array.isArray(d.params) ? d.params : [];
}

// Why the caller may not start wf, or null when they may.
export function startBlocked(wf) {
  if (!wf || wf.can_start !== false) return null;
  const groups = (wf.definition && wf.definition.allowed_groups) || [];
  return 'Only members of ' + groups.join(', ') + ' may start this workflow.';
}

// The reason shown in place of a hidden Start button.
export function blockedNote(wf) {
  const why = startBlocked(wf);
  return why ? h('span', { class: 'muted small', 'data-test': 'start-blocked' }, why) : null;
}

function inputFor(p, value) {
  const id = 'param-' + p.name;
  const common = { id, name: p.name, 'data-param': p.name };
  if (p.type === 'boolean') {
    const el = h('input', { ...common, type: 'checkbox' });
    el.checked = value === true || value === 'true';
    return el;
  }
  if (p.type === 'choice') {
    const el = h('select', { ...common, class: 'input' },
      p.required ? null : h('option', { value: '' }, '(none)'),
      (p.options || []).map((o) => h('option', { value: o }, o)));
    el.value = value == null ? (p.required ? (p.options || [])[0] || '' : '') : String(value);
    return el;
  }
  const attrs = { ...common, class: 'input', type: p.type === 'string' ? 'text' : 'number' };
  if (p.type === 'integer') attrs.step = '1';
  if (p.type === 'number') attrs.step = 'any';
  if (p.min !== undefined) attrs.min = String(p.min);
  if (p.max !== undefined) attrs.max = String(p.max);
  if (p.type === 'string') {
    attrs.maxlength = String(p.max_length || 1024);
    if (p.pattern) attrs.pattern = p.pattern;
  }
  if (p.required) attrs.required = true;
  const el = h('input', attrs);
  el.value = value == null ? '' : String(value);
  return el;
}

// The values of the form: absent when empty (the server fills defaults);
// numbers as the text typed (the server reads numeric strings exactly).
function valuesOf(ps, inputs) {
  const out = {};
  for (const p of ps) {
    const el = inputs[p.name];
    if (p.type === 'boolean') out[p.name] = el.checked;
    else if (el.value !== '') out[p.name] = el.value;
  }
  return out;
}

async function send(wf, params) {
  const body = { workflow_id: wf.id };
  if (params) body.params = params;
  const e = await post('/api/executions', body);
  toast('Started ' + wf.name, 'ok');
  location.hash = '#/executions/' + encodeURIComponent(e.id);
}

function openForm(wf, values) {
  const ps = paramsOf(wf);
  const inputs = {};
  const errors = {};
  const general = h('p', { class: 'form-error', 'data-test': 'start-error', hidden: true });
  const fields = ps.map((p) => {
    const v = values && Object.prototype.hasOwnProperty.call(values, p.name) ? values[p.name] : p.default;
    inputs[p.name] = inputFor(p, v);
    errors[p.name] = h('p', { class: 'field-error', 'data-test': 'param-error', 'data-param': p.name, hidden: true });
    return h('div', { class: 'form-field', 'data-test': 'param-field', 'data-param': p.name },
      h('label', { for: 'param-' + p.name }, p.name, p.required ? h('span', { class: 'required', title: 'required', 'data-test': 'required' }, ' *') : null,
        h('span', { class: 'muted small' }, ' (' + p.type + ')')),
      inputs[p.name],
      p.description ? h('p', { class: 'hint' }, p.description) : null,
      errors[p.name]);
  });
  const form = h('form', { class: 'form', 'data-test': 'start-form', novalidate: true }, fields, general);
  const go = h('button', { type: 'button', class: 'btn btn-primary', 'data-test': 'start-submit' }, 'Start');
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  const m = openModal({ title: 'Start ' + wf.name, body: form, actions: [cancel, go] });
  cancel.addEventListener('click', () => m.close('cancel'));
  const submit = async () => {
    for (const k of Object.keys(errors)) errors[k].hidden = true;
    general.hidden = true;
    go.disabled = true;
    try {
      await send(wf, valuesOf(ps, inputs));
      m.close('ok');
    } catch (err) {
      const field = err instanceof ApiError && err.body ? String(err.body.field || '') : '';
      const name = field.startsWith('params.') ? field.slice(7) : null;
      if (name && errors[name]) {
        errors[name].textContent = err.message;
        errors[name].hidden = false;
        inputs[name].focus();
      } else {
        general.textContent = err.message;
        general.hidden = false;
      }
    } finally {
      go.disabled = false;
    }
  };
  go.addEventListener('click', submit);
  form.addEventListener('submit', (ev) => { ev.preventDefault(); submit(); });
}

// Start wf: the form when it has parameters (filled from values, else the
// defaults), else at once.
export async function startWorkflow(wf, btn, values) {
  if (paramsOf(wf).length > 0) {
    openForm(wf, values);
    return;
  }
  if (btn) btn.disabled = true;
  try {
    await send(wf, null);
  } catch (err) {
    toast('Could not start ' + wf.name + ': ' + err.message, 'error');
  } finally {
    if (btn) btn.disabled = false;
  }
}
