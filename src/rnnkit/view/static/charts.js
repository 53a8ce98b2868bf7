// rnnkit view: line charts as plain SVG (linear or log y axis, dots for epochs), no library.
// Loaded before page.js in the same inline script.
"use strict";
const SVGNS = "http://www.w3.org/2000/svg";
function el(tag, attrs, parent) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function niceTicks(lo, hi, n) {
  if (!(hi > lo)) { hi = lo + 1; lo = lo - 1; }
  const step0 = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}
function logTicks(l0, l1) {          // in log10 units: 1, 2, 5 times powers of ten
  for (const ms of [[1, 2, 5], [1, 3], [1]]) {
    const out = [];
    for (let e = Math.floor(l0); e <= Math.ceil(l1); e++)
      for (const m of ms) { const v = Math.log10(m) + e; if (v >= l0 && v <= l1) out.push(v); }
    if (out.length <= 7) return out.length >= 2 ? out : niceTicks(l0, l1, 4);
  }
  return niceTicks(l0, l1, 5);
}
function fmt(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1);
  return +v.toPrecision(4) + "";
}
// series: [{label, color, points: [[x, y]], dots, dash, opacity, id, run}]
function lineChart(container, series, opts) {
  container.textContent = "";
  const pts = series.flatMap((s) => s.points).filter((p) => isFinite(p[0]) && isFinite(p[1]) &&
                                                          (!opts.logy || p[1] > 0));
  if (!pts.length) {
    const d = document.createElement("div");
    d.className = "empty";
    d.textContent = opts.empty || "nothing logged";
    container.appendChild(d);
    return;
  }
  const W = opts.width || 380, H = opts.height || 240, m = { l: 58, r: 10, t: 10, b: 34 };
  if (opts.logy && pts.every((p) => p[1] === pts[0][1])) opts = { ...opts, logy: false };
  const ty = (y) => (opts.logy ? Math.log10(y) : y);
  let x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
  let y0 = Math.min(...pts.map((p) => ty(p[1]))), y1 = Math.max(...pts.map((p) => ty(p[1])));
  if (x1 === x0) { x0 -= 0.5; x1 += 0.5; }
  if (y1 === y0) { y0 -= Math.abs(y0) * 0.1 || 1; y1 += Math.abs(y1) * 0.1 || 1; }
  const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
  const X = (x) => m.l + (x - x0) / (x1 - x0) * (W - m.l - m.r);
  const Y = (y) => H - m.b - (ty(y) - y0) / (y1 - y0) * (H - m.t - m.b);
  const svg = el("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img" });
  el("rect", { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, fill: "#fff", stroke: "#ccc" }, svg);
  for (const v of niceTicks(x0, x1, 6)) {
    el("line", { x1: X(v), x2: X(v), y1: m.t, y2: H - m.b, stroke: "#eee" }, svg);
    el("text", { x: X(v), y: H - m.b + 14, "text-anchor": "middle" }, svg).textContent = fmt(v);
  }
  for (const v of (opts.logy ? logTicks(y0, y1) : niceTicks(y0, y1, 5))) {
    const yv = opts.logy ? Math.pow(10, v) : v, y = H - m.b - (v - y0) / (y1 - y0) * (H - m.t - m.b);
    el("line", { x1: m.l, x2: W - m.r, y1: y, y2: y, stroke: "#eee" }, svg);
    el("text", { x: m.l - 4, y: y + 4, "text-anchor": "end" }, svg).textContent = fmt(yv);
  }
  el("text", { x: (W + m.l) / 2, y: H - 4, "text-anchor": "middle" }, svg).textContent = opts.xlabel || "";
  let ly = m.t + 12;
  for (const s of series) {
    const p = s.points.filter((q) => isFinite(q[0]) && isFinite(q[1]) && (!opts.logy || q[1] > 0));
    if (!p.length) continue;
    const d = p.map((q, i) => (i ? "L" : "M") + X(q[0]).toFixed(1) + " " + Y(q[1]).toFixed(1)).join("");
    el("path", { d, fill: "none", stroke: s.color, "stroke-width": s.width || 1.6,
                 "stroke-opacity": s.opacity || 1, "stroke-dasharray": s.dash || "",
                 "data-series": s.id || "" }, svg);
    if (s.dots) for (const q of p) {
      const c = el("circle", { cx: X(q[0]).toFixed(1), cy: Y(q[1]).toFixed(1), r: 3, fill: s.color,
                               "data-series": s.id || "", "data-run": s.run ?? "" }, svg);
      el("title", {}, c).textContent = `${s.label}: ${fmt(q[0])}, ${q[1]}`;
    }
    if (s.label) {
      el("line", { x1: W - m.r - 118, x2: W - m.r - 100, y1: ly - 4, y2: ly - 4, stroke: s.color,
                   "stroke-width": 2, "stroke-dasharray": s.dash || "" }, svg);
      el("text", { x: W - m.r - 96, y: ly }, svg).textContent = s.label;
      ly += 14;
    }
  }
  container.appendChild(svg);
}

