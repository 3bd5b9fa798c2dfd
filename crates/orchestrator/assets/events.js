// The event stream panel: follows GET /v1/events (Server-Sent Events: history, then live),
// newest first, at most MAX_ROWS rows in the DOM, filtered without touching the network.

import { el } from './util.js';

const MAX_ROWS = 500;
const RETRY_MS = 3000;

export class EventsPanel {
  constructor({ list, appSelect, filter, problemsOnly, stateLabel }) {
    this.list = list;
    this.appSelect = appSelect;
    this.filter = filter;
    this.problemsOnly = problemsOnly;
    this.stateLabel = stateLabel;
    this.stream = null; // the Orchestrator run whose events are shown
    this.lastSeq = 0; // events arrive in seq order: anything not newer is a repeat after a reconnect
    this.listeners = [];
    this.source = null;
    this.retry = null;
    this.closed = () => {};
    for (const input of [appSelect, filter, problemsOnly]) input.addEventListener('input', () => this.applyFilter());
  }

  /** Call `f(event)` for every event (history included). */
  onEvent(f) {
    this.listeners.push(f);
  }

  /**
   * Call `f()` when the browser gives up on the stream. It reconnects by itself after a network
   * error, but not after an answer that is not a 200 event stream, such as a 401 for an expired
   * token; EventSource does not tell which status it got, so `f` can ask the API.
   */
  onClosed(f) {
    this.closed = f;
  }

  /** Follow the stream at `url()` (a function: the URL carries a token that may change). */
  start(url) {
    this.stop();
    this.url = url;
    this.connect();
  }

  stop() {
    clearTimeout(this.retry);
    this.source?.close();
    this.source = null;
  }

  connect() {
    const source = new EventSource(this.url());
    this.source = source;
    source.onopen = () => this.setState('live', 'live');
    source.onerror = () => {
      if (source.readyState !== EventSource.CLOSED) { this.setState('reconnecting', 'reconnecting…'); return; }
      this.setState('down', 'disconnected');
      // A new EventSource sends no Last-Event-ID, so the history comes again: the seq check
      // below drops what is already shown.
      this.retry = setTimeout(() => this.connect(), RETRY_MS);
      this.closed();
    };
    source.onmessage = (m) => {
      let e;
      try { e = JSON.parse(m.data); } catch { return; }
      if (e.stream === this.stream && e.seq <= this.lastSeq) return;
      if (this.stream && e.stream !== this.stream) {
        this.list.prepend(el('li', { class: 'divider' }, 'Orchestrator restarted'));
      }
      this.stream = e.stream;
      this.lastSeq = e.seq;
      this.add(e);
      for (const f of this.listeners) f(e);
    };
  }

  setState(state, text) {
    this.stateLabel.dataset.state = state;
    this.stateLabel.textContent = text;
  }

  /** Keep the application filter's choices in step with the applications that exist. */
  setApps(names) {
    const want = ['', ...names];
    const have = [...this.appSelect.options].map((o) => o.value);
    if (want.join('\n') === have.join('\n')) return;
    const current = this.appSelect.value;
    this.appSelect.replaceChildren(...want.map((n) => el('option', { value: n }, n === '' ? 'all applications' : n)));
    if (!want.includes(current)) this.appSelect.append(el('option', { value: current }, current));
    this.appSelect.value = current;
  }

  add(e) {
    const time = new Date(e.time);
    const where = [e.host && `host ${e.host}`, e.module || e.app].filter(Boolean).join(' · ');
    const li = el('li', { class: `event ${e.level}`, dataset: { kind: e.kind, app: e.app || '', seq: e.seq, level: e.level }, 'data-testid': 'event' },
      el('time', { datetime: e.time, title: e.time }, time.toLocaleTimeString([], { hour12: false })),
      el('span', { class: 'kind' }, e.kind),
      el('span', { class: 'msg' }, e.message),
      where ? el('span', { class: 'where' }, where) : null);
    li.hidden = !this.matches(li);
    this.list.prepend(li);
    while (this.list.childElementCount > MAX_ROWS) this.list.lastElementChild.remove();
  }

  matches(li) {
    const app = this.appSelect.value;
    const text = this.filter.value.trim().toLowerCase();
    if (app && li.dataset.app !== app) return false;
    if (this.problemsOnly.checked && li.dataset.level === 'info') return false;
    return !text || li.textContent.toLowerCase().includes(text);
  }

  applyFilter() {
    for (const li of this.list.children) if (li.dataset.kind) li.hidden = !this.matches(li);
  }
}
