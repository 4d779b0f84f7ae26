// The /ws connection: one per page, reconnects by itself with backoff and
// catches up from the last event id it saw ("resume"), or tells the views to
// refetch everything when the server answers "resync".

const PING_MS = 25000;
const BACKOFF_MIN = 500;
const BACKOFF_MAX = 15000;
// How far below the newest id a late event can be (pushd: DBT_HOLES_MAX, 256).
const LATE_WINDOW = 300;

export class Live {
  constructor() {
    this.ws = null;
    this.lastEventId = null;
    // Ids seen near the newest: pushd sends an event whose transaction
    // committed late after newer ones (up to 256 ids back), and such an
    // event is new here, not a replay's overlap.
    this.seen = new Set();
    this.handlers = new Map();
    this.subs = new Map();  // execution id -> reference count
    this.state = 'connecting';
    this.attempt = 0;
    this.timer = null;
    this.pinger = null;
    this.stopped = false;
  }

  // on(type, fn): fn(msg) for each message of type ('*' for all events,
  // 'state' for connection state changes, 'resync' to refetch). Returns
  // the function that removes it.
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type).delete(fn);
  }

  emit(type, msg) {
    for (const fn of [...(this.handlers.get(type) || [])]) {
      try { fn(msg); } catch (e) { console.error('live handler', type, e); }
    }
  }

  setState(st, detail) {
    this.state = st;
    this.emit('state', { state: st, detail });
  }

  start() {
    this.stopped = false;
    this.connect();
    window.addEventListener('online', () => this.reconnectNow());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.state === 'offline') this.reconnectNow();
    });
  }

  reconnectNow() {
    if (this.ws && this.ws.readyState <= 1) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  }

  connect() {
    clearTimeout(this.timer);
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    this.setState('connecting');
    try {
      ws = new WebSocket(proto + '//' + location.host + '/ws', 'pulse-browser');
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onmessage = (ev) => this.onMessage(ev);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pinger);
      if (!this.stopped) this.scheduleReconnect();
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  scheduleReconnect() {
    this.attempt++;
    const base = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** (this.attempt - 1));
    const delay = Math.round(base / 2 + Math.random() * base / 2);
    this.setState('offline', delay);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(obj));
      return true;
    }
    return false;
  }

  onMessage(ev) {
    let m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    if (!m || typeof m.type !== 'string') return;
    switch (m.type) {
    case 'hello':
      this.onHello(m);
      return;
    case 'resumed':
      this.setState('live');
      return;
    case 'resync':
      if (typeof m.last_event_id === 'number') this.lastEventId = m.last_event_id;
      this.setState('live');
      this.emit('resync', m);
      return;
    case 'pong':
      return;
    default:
      break;
    }
    if (typeof m.event_id === 'number') {
      if (this.seen.has(m.event_id) ||
          (this.lastEventId !== null && m.event_id <= this.lastEventId - LATE_WINDOW)) {
        return;  // already seen (replay overlap), or too old to be late
      }
      this.seen.add(m.event_id);
      if (this.lastEventId === null || m.event_id > this.lastEventId) this.lastEventId = m.event_id;
      if (this.seen.size > 4 * LATE_WINDOW) {
        for (const id of this.seen) if (id <= this.lastEventId - LATE_WINDOW) this.seen.delete(id);
      }
    }
    this.emit(m.type, m);
    this.emit('*', m);
  }

  onHello(m) {
    this.attempt = 0;
    // Subscriptions first, so that a replay includes their output.
    for (const id of this.subs.keys()) this.send({ type: 'subscribe', execution_id: id });
    if (this.lastEventId !== null) {
      this.setState('catching-up');
      this.send({ type: 'resume', last_event_id: this.lastEventId });
    } else {
      this.lastEventId = typeof m.last_event_id === 'number' ? m.last_event_id : 0;
      this.setState('live');
    }
    clearInterval(this.pinger);
    this.pinger = setInterval(() => this.send({ type: 'ping' }), PING_MS);
    this.emit('connected', m);
  }

  subscribe(id) {
    const n = this.subs.get(id) || 0;
    this.subs.set(id, n + 1);
    if (n === 0) this.send({ type: 'subscribe', execution_id: id });
  }

  unsubscribe(id) {
    const n = this.subs.get(id) || 0;
    if (n <= 1) {
      this.subs.delete(id);
      this.send({ type: 'unsubscribe', execution_id: id });
    } else {
      this.subs.set(id, n - 1);
    }
  }
}
