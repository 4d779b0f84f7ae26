// Workers as seen while the page is open: polled every 10 s and on every
// worker_update, with a ring of recent heartbeats per worker for sparklines.
import { get } from './api.js';
import { debounce } from './dom.js';

const RING = 60;
const POLL_MS = 10000;

function pct(used, total) {
  return typeof used === 'number' && typeof total === 'number' && total > 0 ? (100 * used) / total : null;
}

export function samplesOf(w) {
  const m = w.metadata || {};
  return {
    cpu: typeof m.cpu_percent === 'number' ? m.cpu_percent : null,
    mem: m.memory ? pct(m.memory.used, m.memory.total) : null,
    load: Array.isArray(m.load) && typeof m.load[0] === 'number' ? m.load[0] : null,
    disk: m.disk ? pct(m.disk.used, m.disk.total) : null,
  };
}

export class WorkerStore {
  constructor(live) {
    this.live = live;
    this.list = [];
    this.rings = new Map();  // worker id -> {last, cpu: [], mem: [], load: [], disk: []}
    this.listeners = new Set();
    this.error = null;
    this.refresh = debounce(() => this.load(), 150);
  }

  start() {
    this.load();
    setInterval(() => this.load(), POLL_MS);
    this.live.on('worker_update', () => this.refresh());
    this.live.on('resync', () => this.refresh());
  }

  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async load() {
    try {
      const list = await get('/api/workers');
      this.error = null;
      this.list = Array.isArray(list) ? list : [];
      for (const w of this.list) this.record(w);
      for (const id of [...this.rings.keys()]) {
        if (!this.list.some((w) => w.id === id)) this.rings.delete(id);
      }
    } catch (e) {
      this.error = e;
    }
    for (const fn of [...this.listeners]) fn(this);
  }

  record(w) {
    let r = this.rings.get(w.id);
    if (!r) {
      r = { last: null, cpu: [], mem: [], load: [], disk: [] };
      this.rings.set(w.id, r);
    }
    if (!w.last_heartbeat || r.last === w.last_heartbeat) return;
    r.last = w.last_heartbeat;
    const smp = samplesOf(w);
    for (const k of ['cpu', 'mem', 'load', 'disk']) {
      if (smp[k] === null) continue;
      r[k].push(smp[k]);
      if (r[k].length > RING) r[k].shift();
    }
  }
}
