// Time-series plots on <canvas>, drawn by hand: p50 and p99 of one module over the last minutes.

import { fmtNs } from './util.js';

function niceMax(v) {
  if (!(v > 0)) return 1000; // 1 µs when everything is zero
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function colors() {
  const s = getComputedStyle(document.documentElement);
  const c = (name, fallback) => s.getPropertyValue(name).trim() || fallback;
  return { p50: c('--p50', '#4ea1ff'), p99: c('--p99', '#ff9f43'), grid: c('--grid', '#2a3240'), text: c('--muted', '#8a94a6') };
}

/**
 * Draw `series` ([{t, a, b}], t in ms, a = p50, b = p99 in ns) for the last `windowS` seconds.
 * The canvas is sized to its CSS box times the device pixel ratio.
 */
export function drawPlot(canvas, series, windowS, now = Date.now()) {
  const dpr = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth || 420;
  const cssH = canvas.clientHeight || 150;
  if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  const col = colors();
  const left = 58, right = 8, top = 8, bottom = 20;
  const w = cssW - left - right, h = cssH - top - bottom;
  const t0 = now - windowS * 1000;
  const pts = series.filter((s) => s.t >= t0);
  const max = niceMax(Math.max(0, ...pts.map((s) => Math.max(s.a, s.b))));
  const X = (t) => left + ((t - t0) / (windowS * 1000)) * w;
  const Y = (v) => top + h - (v / max) * h;

  ctx.font = '11px system-ui, sans-serif';
  ctx.strokeStyle = col.grid;
  ctx.fillStyle = col.text;
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const y = Math.round(Y(v)) + 0.5;
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + w, y); ctx.stroke();
    ctx.fillText(fmtNs(v), left - 6, y);
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const step = windowS <= 60 ? 15 : windowS <= 300 ? 60 : 120;
  for (let s = 0; s <= windowS; s += step) {
    const x = X(now - s * 1000);
    ctx.fillText(s === 0 ? 'now' : `-${s >= 60 ? s / 60 + 'm' : s + 's'}`, x, top + h + 5);
  }
  if (pts.length === 0) {
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText('no samples yet', left + w / 2, top + h / 2);
    return;
  }
  for (const [key, color] of [['a', col.p50], ['b', col.p99]]) {
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    let started = false;
    let prevT = 0;
    for (const s of pts) {
      const x = X(s.t), y = Y(s[key]);
      // A gap of more than 5 s (module down, page hidden) breaks the line.
      if (!started || s.t - prevT > 5000) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      started = true;
      prevT = s.t;
    }
    ctx.stroke();
  }
}
