// DOM helpers: every piece of server data goes in as text, never as markup.
// h() builds elements from tag, attributes and children; strings become
// text nodes. There is no innerHTML anywhere in the dashboard.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') {
      el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    } else if (k === 'text') {
      el.textContent = String(v);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'style' || k === 'innerHTML') {
      throw new Error('h(): ' + k + ' is not allowed (CSP, XSS)');
    } else if (k === 'value' || k === 'checked' || k === 'disabled') {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// ---------------------------------------------------------------- time

export function parseTime(iso) {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

export function relTime(iso, now = Date.now()) {
  const t = parseTime(iso);
  if (t === null) return '—';
  const d = Math.round((now - t) / 1000);
  const a = Math.abs(d);
  let v;
  if (a < 5) return 'just now';
  if (a < 60) v = a + ' s';
  else if (a < 3600) v = Math.floor(a / 60) + ' min';
  else if (a < 86400) v = Math.floor(a / 3600) + ' h';
  else v = Math.floor(a / 86400) + ' d';
  return d >= 0 ? v + ' ago' : 'in ' + v;
}

export function exactTime(iso) {
  const t = parseTime(iso);
  return t === null ? '' : new Date(t).toLocaleString() + ' (' + iso + ')';
}

// A <time> that keeps its relative text fresh (see tickTimes).
export function timeEl(iso, cls) {
  const el = h('time', { class: ['rel', cls], datetime: iso || '', title: exactTime(iso) },
    relTime(iso));
  return el;
}

export function setTime(el, iso) {
  el.setAttribute('datetime', iso || '');
  el.title = exactTime(iso);
  el.textContent = relTime(iso);
}

export function tickTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('time.rel')) {
    const iso = el.getAttribute('datetime');
    if (iso) el.textContent = relTime(iso, now);
  }
  for (const el of root.querySelectorAll('[data-since]')) {
    const t = parseTime(el.dataset.since);
    if (t !== null) el.textContent = fmtDuration(now - t);
  }
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  if (ms < 1000) return Math.max(0, Math.round(ms)) + ' ms';
  const sec = ms / 1000;
  if (sec < 60) return (sec < 10 ? sec.toFixed(1) : Math.round(sec)) + ' s';
  const m = Math.floor(sec / 60);
  if (m < 60) return m + ' min ' + Math.round(sec % 60) + ' s';
  return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
}

export function execDuration(e) {
  const a = parseTime(e.started_at);
  if (a === null) return null;
  const b = parseTime(e.completed_at);
  return (b === null ? Date.now() : b) - a;
}

export function fmtBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + ' ' + u[i];
}

export function statusBadge(status, extra) {
  const st = String(status || 'unknown');
  return h('span', { class: ['badge', 'st-' + st.replace(/[^a-z_-]/gi, ''), extra] }, st);
}

export function debounce(fn, ms) {
  let t = null;
  const d = (...args) => {
    clearTimeout(t);
    t = setTimeout(() => { t = null; fn(...args); }, ms);
  };
  d.cancel = () => clearTimeout(t);
  return d;
}

// ---------------------------------------------------------------- toasts

export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = h('div', { class: ['toast', 'toast-' + kind] }, message);
  box.append(el);
  setTimeout(() => el.classList.add('toast-out'), 4000);
  setTimeout(() => el.remove(), 4600);
}
