// One application as a graph: a box per Host holding its modules, arrows for channels.
// The SVG is rebuilt only when the structure changes (modules, their Hosts, edges); every poll
// otherwise just updates texts and classes.

import { svg, setText, setAttr, edgesOf, fmtRate, fmtNs } from './util.js';

const NODE_W = 176;
const NODE_H = 46;
const ROW_GAP = 16;
const COL_GAP = 96;
const PAD = 14;
const HEAD = 26;
const MARGIN = 12;

/** Longest-path rank from the sources (cycles are cut after a few rounds). */
function ranks(modules, edges) {
  const rank = new Map(modules.map((m) => [m.id, 0]));
  for (let round = 0; round < Math.min(modules.length, 32); round++) {
    let changed = false;
    for (const e of edges) {
      const r = rank.get(e.src.id) + 1;
      if (r > rank.get(e.dst.id)) { rank.set(e.dst.id, r); changed = true; }
    }
    if (!changed) break;
  }
  return rank;
}

export function stateClass(state) {
  if (state === 'running' || state === 'completed') return 'ok';
  if (state === 'deploying' || state === 'pending' || state === 'restarting' || state === 'starting') return 'wait';
  return 'bad';
}

export class AppGraph {
  /** @param onSelect called with a module id when a node is clicked */
  constructor(container, onSelect) {
    this.container = container;
    this.onSelect = onSelect;
    this.structure = '';
    this.nodes = new Map(); // id -> {g, rect, sub}
    this.edges = new Map(); // key -> {path, label, bg, edge}
  }

  /** @param rateOf (edge) => messages/s or null; @param online (host) => bool */
  update(app, rateOf, online, selected) {
    const edges = edgesOf(app);
    const structure = JSON.stringify([app.modules.map((m) => [m.id, m.host, m.role || '']), edges.map((e) => e.key), app.modules.map((m) => online(m.host))]);
    if (structure !== this.structure) {
      this.structure = structure;
      this.build(app, edges, online);
    }
    for (const m of app.modules) {
      const n = this.nodes.get(m.id);
      if (!n) continue;
      setAttr(n.g, 'class', `node ${stateClass(m.state)}${m.id === selected ? ' selected' : ''}${m.role && m.role !== 'primary' ? ' ' + m.role : ''}`);
      setAttr(n.g, 'data-state', m.state);
      const p = m.profile;
      const detail = p ? `${m.state} · p99 ${fmtNs(p.exec_ns.p99)}` : m.state;
      setText(n.sub, detail);
      setText(n.title, `${m.id} on ${m.host || 'no host'}: ${m.state}${m.problem ? ' — ' + m.problem : ''}`);
    }
    for (const e of edges) {
      const g = this.edges.get(e.key);
      if (!g) continue;
      const r = rateOf(e);
      const text = fmtRate(r);
      setText(g.label, text);
      setAttr(g.path, 'data-rate', r === null ? '' : r.toFixed(2));
      setAttr(g.group, 'class', `edge ${g.kind}${r === null ? ' unknown' : r > 0 ? ' flowing' : ' idle'}`);
      const w = Math.max(26, text.length * 6.5 + 8);
      setAttr(g.bg, 'width', w.toFixed(0));
      setAttr(g.bg, 'x', (g.lx - w / 2).toFixed(1));
    }
  }

  build(app, edges, online) {
    const rank = ranks(app.modules, edges);
    const byHost = new Map();
    for (const m of app.modules) {
      const h = m.host || '';
      if (!byHost.has(h)) byHost.set(h, []);
      byHost.get(h).push(m);
    }
    const cols = [...byHost.entries()].map(([host, mods]) => {
      mods.sort((a, b) => rank.get(a.id) - rank.get(b.id) || a.module.localeCompare(b.module) || a.id.localeCompare(b.id));
      return { host, mods, minRank: Math.min(...mods.map((m) => rank.get(m.id))) };
    });
    cols.sort((a, b) => (a.host === '') - (b.host === '') || a.minRank - b.minRank || a.host.localeCompare(b.host));

    const pos = new Map();
    const colW = NODE_W + 2 * PAD;
    let height = 0;
    cols.forEach((c, i) => {
      c.x = MARGIN + i * (colW + COL_GAP);
      c.h = HEAD + PAD + c.mods.length * (NODE_H + ROW_GAP) - ROW_GAP + PAD;
      c.mods.forEach((m, j) => pos.set(m.id, { x: c.x + PAD, y: MARGIN + HEAD + PAD + j * (NODE_H + ROW_GAP) }));
      height = Math.max(height, c.h);
    });
    const width = MARGIN * 2 + cols.length * colW + Math.max(0, cols.length - 1) * COL_GAP + 60;
    height += MARGIN * 2;

    const root = svg('svg', { class: 'graph', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `application ${app.name}` });
    root.append(
      svg('defs', {},
        svg('marker', { id: `arrow-${CSS.escape(app.name)}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
          svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))),
    );
    for (const c of cols) {
      const off = c.host !== '' && !online(c.host);
      const box = svg('g', { class: `hostbox${c.host === '' ? ' unplaced' : ''}${off ? ' offline' : ''}`, 'data-host': c.host },
        svg('rect', { x: c.x, y: MARGIN, width: colW, height: c.h, rx: 8 }),
        svg('text', { x: c.x + 10, y: MARGIN + 17, class: 'hostname' }, c.host === '' ? 'no host (pending)' : off ? `${c.host} (offline)` : c.host));
      root.append(box);
    }
    const edgeLayer = svg('g', { class: 'edges' });
    const nodeLayer = svg('g', { class: 'nodes' });
    root.append(edgeLayer, nodeLayer);

    this.edges.clear();
    for (const e of edges) {
      const a = pos.get(e.src.id);
      const b = pos.get(e.dst.id);
      let p0, p3, c1, c2;
      if (b.x > a.x) {
        p0 = [a.x + NODE_W, a.y + NODE_H / 2]; p3 = [b.x, b.y + NODE_H / 2];
        const d = Math.max(30, (p3[0] - p0[0]) / 2);
        c1 = [p0[0] + d, p0[1]]; c2 = [p3[0] - d, p3[1]];
      } else if (b.x < a.x) {
        p0 = [a.x, a.y + NODE_H / 2]; p3 = [b.x + NODE_W, b.y + NODE_H / 2];
        c1 = [p0[0] - 50, p0[1] + 40]; c2 = [p3[0] + 50, p3[1] + 40];
      } else {
        p0 = [a.x + NODE_W, a.y + NODE_H / 2]; p3 = [b.x + NODE_W, b.y + NODE_H / 2];
        const d = 44 + Math.min(40, Math.abs(p3[1] - p0[1]) / 6);
        c1 = [p0[0] + d, p0[1]]; c2 = [p3[0] + d, p3[1]];
      }
      const mid = [0, 1].map((k) => (p0[k] + 3 * c1[k] + 3 * c2[k] + p3[k]) / 8);
      const kind = e.src.host && e.src.host === e.dst.host ? 'local' : 'remote';
      const path = svg('path', { d: `M${p0} C${c1} ${c2} ${p3}`, 'marker-end': `url(#arrow-${CSS.escape(app.name)})`, 'data-edge': e.key, 'data-testid': 'edge' });
      const bg = svg('rect', { x: mid[0] - 20, y: mid[1] - 9, width: 40, height: 16, rx: 4, class: 'label-bg' });
      const label = svg('text', { x: mid[0], y: mid[1] + 3, 'text-anchor': 'middle', class: 'rate', 'data-testid': 'edge-rate', 'data-edge': e.key }, '–');
      const title = svg('title', {}, `${e.src.id}.${e.out.name} → ${e.dst.id}.${e.inp.name} (${e.out.endpoint}${e.inp.endpoint !== e.out.endpoint ? ' ~ ' + e.inp.endpoint : ''}, ${kind === 'local' ? 'loopback' : 'via the broker'})`);
      const group = svg('g', { class: `edge ${kind}` }, path, bg, label, title);
      edgeLayer.append(group);
      this.edges.set(e.key, { path, label, bg, group, kind, lx: mid[0] });
    }

    this.nodes.clear();
    for (const m of app.modules) {
      const { x, y } = pos.get(m.id);
      const title = svg('title', {}, m.id);
      const sub = svg('text', { x: x + 10, y: y + 35, class: 'sub' }, m.state);
      const name = m.role && m.role !== 'primary' ? `${m.module} (${m.role})` : m.module;
      const g = svg('g', { class: 'node', 'data-module': m.id, 'data-testid': 'node', tabindex: 0 },
        svg('rect', { x, y, width: NODE_W, height: NODE_H, rx: 6 }),
        svg('circle', { cx: x + NODE_W - 12, cy: y + 12, r: 4, class: 'dot' }),
        svg('text', { x: x + 10, y: y + 18, class: 'name' }, name.length > 24 ? name.slice(0, 23) + '…' : name),
        sub, title);
      g.addEventListener('click', () => this.onSelect(m.id));
      g.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') this.onSelect(m.id); });
      nodeLayer.append(g);
      this.nodes.set(m.id, { g, sub, title });
    }
    this.container.replaceChildren(root);
  }
}
