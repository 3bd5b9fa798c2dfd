// Small helpers shared by the dashboard's modules: DOM building, formatting, rates, rings.

/** Create an element: el('div', {class: 'x', dataset: {a: 1}}, 'text', child). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

const SVG = 'http://www.w3.org/2000/svg';
/** Create an SVG element with attributes. */
export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

/** Set text only when it changed (keeps the DOM quiet with hundreds of rows). */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Set an attribute only when it changed. */
export function setAttr(node, name, value) {
  const v = String(value);
  if (node.getAttribute(name) !== v) node.setAttribute(name, v);
}

/** Nanoseconds for humans: 850 ns, 12.3 µs, 4.56 ms, 1.20 s. */
export function fmtNs(ns) {
  if (ns === null || ns === undefined || Number.isNaN(ns)) return '–';
  if (ns < 1e3) return `${Math.round(ns)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toPrecision(3)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toPrecision(3)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

/** Bytes for humans. */
export function fmtBytes(b) {
  if (b === null || b === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return `${i === 0 ? b : b.toFixed(b < 10 ? 1 : 0)} ${units[i]}`;
}

/** A rate per second, or – when unknown. */
export function fmtRate(r) {
  if (r === null || r === undefined || Number.isNaN(r)) return '–';
  if (r >= 100) return `${Math.round(r)}/s`;
  return `${r.toFixed(1)}/s`;
}

/** Big counters: 1234567 → 1.23M. */
export function fmtCount(n) {
  if (n === null || n === undefined) return '–';
  if (n < 1e4) return String(n);
  if (n < 1e6) return `${(n / 1e3).toPrecision(3)}k`;
  if (n < 1e9) return `${(n / 1e6).toPrecision(3)}M`;
  return `${(n / 1e9).toPrecision(3)}G`;
}

/** MQTT topic filter matching (`+` one level, `#` the rest), as the Hosts' routers do. */
export function topicMatches(filter, topic) {
  if (filter === topic) return true;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Rates from successive counter readings. Hosts report once a second and the page polls once a
 * second, so one interval can see zero or two reports: the rate is taken over a sliding window.
 */
export class RateTracker {
  constructor(windowMs = 5000) {
    this.windowMs = windowMs;
    this.samples = new Map(); // key -> [[t, v], ...]
    this.seen = new Set();
  }
  push(key, t, v) {
    this.seen.add(key);
    let s = this.samples.get(key);
    if (!s) { s = []; this.samples.set(key, s); }
    const last = s[s.length - 1];
    if (last && v < last[1]) s.length = 0; // counter reset: restarted or moved
    else if (last && v === last[1] && Math.abs(t - last[0]) < 200) return; // the same report again
    else if (last && t <= last[0]) return; // out of order
    s.push([t, v]);
    while (s.length > 2 && t - s[1][0] > this.windowMs) s.shift();
  }
  /** Per second over the window; null until there is a second of history. */
  rate(key) {
    const s = this.samples.get(key);
    if (!s || s.length < 2) return null;
    const [t0, v0] = s[0];
    const [t1, v1] = s[s.length - 1];
    if (t1 - t0 < 1500) return null;
    return ((v1 - v0) * 1000) / (t1 - t0);
  }
  /** Forget keys not pushed since the last call (deleted modules). */
  prune() {
    for (const k of this.samples.keys()) if (!this.seen.has(k)) this.samples.delete(k);
    this.seen = new Set();
  }
}

/** A fixed-size ring of samples. */
export class Ring {
  constructor(capacity) {
    this.capacity = capacity;
    this.items = [];
  }
  push(x) {
    this.items.push(x);
    if (this.items.length > this.capacity) this.items.splice(0, this.items.length - this.capacity);
  }
  last() {
    return this.items[this.items.length - 1];
  }
}

/** The channels of module `name` in an application manifest (JSON form). */
export function manifestChannels(manifest, name) {
  const spec = (manifest?.modules || []).find((m) => m.name === name);
  const list = (x) => (x?.channels || []).map((c) => ({ name: c.name, endpoint: c.endpoint }));
  return { inputs: list(spec?.inputChannels), outputs: list(spec?.outputChannels) };
}

/** A module's channels: from its live profile when it has one, else from the manifest. */
export function channelsOf(module, manifest) {
  if (module.profile?.channels?.length) {
    const p = module.profile.channels;
    return {
      inputs: p.filter((c) => c.direction === 'in').map((c) => ({ name: c.name, endpoint: c.endpoint })),
      outputs: p.filter((c) => c.direction === 'out').map((c) => ({ name: c.name, endpoint: c.endpoint, active: c.active })),
    };
  }
  return manifestChannels(manifest, module.module);
}

/** The edges of an application: output endpoint of one module = input filter of another. */
export function edgesOf(app) {
  const edges = [];
  const chans = app.modules.map((m) => [m, channelsOf(m, app.manifest)]);
  for (const [src, sc] of chans) {
    for (const out of sc.outputs) {
      for (const [dst, dc] of chans) {
        if (dst === src) continue;
        for (const inp of dc.inputs) {
          if (topicMatches(inp.endpoint, out.endpoint)) {
            edges.push({ key: `${src.id}:${out.name}->${dst.id}:${inp.name}`, src, dst, out, inp });
          }
        }
      }
    }
  }
  return edges;
}
