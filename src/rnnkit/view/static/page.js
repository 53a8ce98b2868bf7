// rnnkit view: the page. Plain JavaScript, no library; charts are SVG written here.
// Served mode asks the Python server (rnnkit/view/server.py); an exported file answers the
// same questions from the data embedded in it.
"use strict";
const BOOT = JSON.parse(document.getElementById("rnnkit-boot").textContent);
const $ = (id) => document.getElementById(id);
const COLORS = ["#1f5fbf", "#d0581d", "#2a9d47", "#8e44ad", "#b8860b", "#c0392b"];
const S = { runs: [], signature: null, run: 0, textId: null, layers: [], isLm: false,
            values: null, spans: [], nextCache: {}, exportReading: null };

// ---- messages ---------------------------------------------------------------------------
function message(text, kind, key) {
  const box = $("messages");
  const div = document.createElement("div");
  div.className = "msg-" + (kind || "error");
  if (key) div.dataset.key = key;
  div.textContent = text;
  box.appendChild(div);
  return div;
}
function clearMessages(key) {
  $("messages").querySelectorAll(key ? `[data-key="${key}"]` : "div").forEach((d) => d.remove());
}

// ---- talking to the server (or to the exported data) -----------------------------------------
async function api(method, path, params) {
  if (BOOT.mode === "export") return exportApi(path, params || {});
  let url = path, opts = { method };
  if (method === "GET" && params) url += "?" + new URLSearchParams(params).toString();
  if (method === "POST") {
    opts.body = JSON.stringify(params || {});
    opts.headers = { "Content-Type": "application/json" };
  }
  const res = await fetch(url, opts);
  const data = await res.json();
  if (!res.ok || data.error) throw new Error(data.error || `HTTP ${res.status}`);
  return data;
}
function decodeF32(b64) {
  const bin = atob(b64), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}
const EXPORT_ONLY = "This is an exported page: it shows the text it was exported with. " +
  "Run `rnnkit view DIR` for your own text, sampling and gradients.";
function exportApi(path, p) {
  const run = S.runs[S.run] || {}, ex = run.export;
  if (path === "/api/runs") return BOOT;
  if (!ex) throw new Error("hidden cells are not available for this run: " +
                           (run.model_error || run.cells_reason || run.error || "no model"));
  if (path === "/api/read") {
    if (p.text !== ex.text) throw new Error(EXPORT_ONLY);
    return { text_id: "export", length: ex.text.length, warning: null, layers: run.layers,
             is_lm: run.is_lm };
  }
  if (path === "/api/unit") {
    const key = `${p.layer}/${p.kind}`, L = run.layers[p.layer];
    if (!L || !ex.units[key] || p.unit < 0 || p.unit >= L.units)
      throw new Error(`no layer ${p.layer} / ${p.kind} / unit ${p.unit} in this model`);
    S.exportCache = S.exportCache || {};
    const all = S.exportCache[key] || (S.exportCache[key] = decodeF32(ex.units[key]));
    const T = ex.text.length, H = L.units, v = new Float32Array(T);
    for (let t = 0; t < T; t++) v[t] = all[t * H + p.unit];
    return { layer: p.layer, kind: p.kind, unit: p.unit, values: v };
  }
  if (path === "/api/next") {
    if (!ex.top) throw new Error("this model does not predict the next character");
    return { pos: p.pos, char: ex.text[p.pos], top: ex.top[p.pos] };
  }
  if (path === "/api/rank") {
    const r = ex.rank[p.feature];
    if (!r) throw new Error(EXPORT_ONLY);
    if (typeof r === "string") throw new Error(r);
    return { feature: p.feature, units: r };
  }
  throw new Error(EXPORT_ONLY);
}

// ---- charts: plain SVG -------------------------------------------------------------------------
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

// ---- training -----------------------------------------------------------------------------
function batchX(run, b, stepsOf) {
  const steps = run.steps || stepsOf[b.epoch] || 1;
  return b.epoch - 1 + (b.batch + 1) / steps;
}
function renderTraining(info) {
  S.runs = info.runs;
  S.signature = info.signature;
  const loss = [], lr = [], grad = [], summary = $("runs-summary"), samples = $("samples");
  summary.textContent = "";
  samples.textContent = "";
  clearMessages("run");
  info.runs.forEach((run, k) => {
    const color = COLORS[k % COLORS.length], many = info.runs.length > 1;
    const name = many ? run.name + " " : "";
    const line = document.createElement("div");
    if (run.error) {
      message(run.error, "error", "run");
      line.textContent = `${run.name}: not shown (${run.error})`;
      summary.appendChild(line);
      return;
    }
    if (run.model_error) message(run.model_error, "error", "run");
    const ep = run.epochs || [], bt = run.batches || [];
    const vals = ep.map((e) => e.val_loss).filter((v) => v != null);
    line.innerHTML = `<b style="color:${color}"></b> <span class="muted"></span>`;
    line.firstChild.textContent = run.name;
    line.lastChild.textContent = ` ${run.folder} · ${ep.length} epoch(s)` +
      (vals.length ? ` · best validation loss ${Math.min(...vals).toFixed(4)}` : "") +
      (run.params ? ` · ${run.params.toLocaleString()} parameters` : "");
    summary.appendChild(line);
    const stepsOf = {};
    for (const b of bt) stepsOf[b.epoch] = Math.max(stepsOf[b.epoch] || 0, b.batch + 1);
    if (bt.length) loss.push({ label: name + "train (batch)", color, opacity: 0.3, width: 1,
                               points: bt.map((b) => [batchX(run, b, stepsOf), b.loss]) });
    loss.push({ label: name + "train", color, dots: true, id: "loss", run: k,
                points: ep.map((e) => [e.epoch, e.loss]) });
    loss.push({ label: name + "validation", color, dots: true, dash: "5 3", id: "val_loss", run: k,
                points: ep.map((e) => [e.epoch, e.val_loss]) });
    const lrKey = (e) => (e.lr ?? e.learning_rate);
    if (bt.some((b) => b.lr != null))
      lr.push({ label: name + "per batch", color, points: bt.map((b) => [batchX(run, b, stepsOf), b.lr]) });
    else lr.push({ label: name + "per epoch", color, dots: true, points: ep.map((e) => [e.epoch, lrKey(e)]) });
    grad.push({ label: name + "before", color, opacity: 0.9, width: 1, id: "grad_before",
                points: bt.map((b) => [batchX(run, b, stepsOf), b.grad_norm_before]) });
    grad.push({ label: name + "after", color, dash: "4 2", width: 1, id: "grad_after",
                points: bt.map((b) => [batchX(run, b, stepsOf), b.grad_norm_after]) });
    if ((run.samples || []).length) {
      const box = document.createElement("div");
      box.className = "samples-run";
      if (many) { const h = document.createElement("h4"); h.textContent = run.name; box.appendChild(h); }
      for (const s of run.samples.slice(-12).reverse()) {          // newest first
        const cap = document.createElement("div");
        cap.className = "muted";
        cap.textContent = `epoch ${s.epoch ?? "?"}` + (s.temperature != null ? `, temperature ${s.temperature}` : "");
        const pre = document.createElement("pre");
        const b = document.createElement("b");
        b.textContent = s.prime || "";
        pre.appendChild(b);
        pre.appendChild(document.createTextNode(s.text));
        box.append(cap, pre);
      }
      samples.appendChild(box);
    }
  });
  if (!samples.childNodes.length) samples.textContent = "no samples in the log";
  lineChart($("chart-loss"), loss, { xlabel: "epoch", empty: "no losses logged (no log.jsonl or state.json history)" });
  lineChart($("chart-lr"), lr, { xlabel: "epoch", logy: true, empty: "no learning rate logged" });
  lineChart($("chart-grad"), grad, { xlabel: "epoch", logy: true, empty: "no per-batch gradient norms logged" });
}
async function poll() {
  try {
    const info = await api("GET", "/api/runs", S.signature ? { since: S.signature } : null);
    if (!info.unchanged) {
      const before = (S.runs[S.run] || {}).model_stamp;
      renderTraining(info);
      const run = S.runs[S.run] || {};
      if (BOOT.mode === "served" && run.model_stamp !== before) {   // a newer model was saved
        message(`${run.name}: the model file changed; the text was read again with the new one`,
                "info", "model");
        const keep = $("text-input").value;
        setupCells();
        $("text-input").value = keep;
        if (!$("cells-ui").hidden) await readText();
      }
    }
    $("live").textContent = "live";
  } catch (e) {
    $("live").textContent = "server not answering";
  }
}

// ---- hidden cells -----------------------------------------------------------------------------
function colour(v, scale) {
  const t = Math.max(-1, Math.min(1, v / scale));
  if (t >= 0) { const c = Math.round(255 * (1 - t)); return [255, c, c]; }
  const c = Math.round(255 * (1 + t)); return [c, c, 255];
}
function showChar(ch) { return ch === "\n" ? "↵" : ch === " " ? "␣" : ch === "\t" ? "⇥" : ch; }
function sel() {
  return { layer: +$("layer-select").value, kind: $("kind-select").value, unit: +$("unit-input").value };
}
function setupCells() {
  const run = S.runs[S.run] || {};
  const reason = run.error || run.model_error || run.cells_reason;
  $("cells-reason").hidden = !reason;
  $("cells-ui").hidden = !!reason;
  $("cells-reason").textContent = reason ? "Hidden cells are not available for this run: " + reason +
    ". The training part above still works." : "";
  $("sampling-reason").hidden = !(reason || !run.is_lm || BOOT.mode === "export");
  $("sampling-reason").textContent = reason ? "Sampling is not available: " + reason :
    !run.is_lm ? "Sampling needs a character language model." : BOOT.mode === "export" ? EXPORT_ONLY : "";
  $("sample-button").disabled = !$("sampling-reason").hidden;
  if (reason) return;
  S.layers = run.layers;
  S.isLm = run.is_lm;
  const ls = $("layer-select");
  ls.textContent = "";
  run.layers.forEach((L, k) => ls.add(new Option(`${k}: ${L.name} (${L.cell}, ${L.units})`, k)));
  fillKinds();
  const ex = run.export;
  $("text-input").value = ex ? ex.text : (run.default_text || "");
  const primes = (run.samples || []).map((x) => x.prime).filter(Boolean);
  if (primes.length) $("prime-input").value = primes[primes.length - 1];
  renderUnitList();
}
function fillKinds() {
  const L = S.layers[+$("layer-select").value], ks = $("kind-select"), old = ks.value;
  ks.textContent = "";
  for (const k of L.kinds) ks.add(new Option(k, k));
  if (L.kinds.includes(old)) ks.value = old;
  $("unit-input").max = L.units - 1;
  $("unit-range").textContent = `0..${L.units - 1}`;
}
function renderUnitList() {
  const box = $("unit-list"), words = $("unit-filter").value.trim().split(/\s+/).filter(Boolean);
  box.textContent = "";
  let n = 0;
  outer: for (let k = 0; k < S.layers.length; k++) for (const kind of S.layers[k].kinds)
    for (let u = 0; u < S.layers[k].units; u++) {
      const label = `layer ${k} ${kind} ${u}`, parts = [String(k), kind, String(u)];
      if (words.length && !words.every((w, i) => parts[i] === w || (i === words.length - 1 &&
                                                                     parts[i].startsWith(w)))) continue;
      const b = document.createElement("button");
      b.textContent = label;
      b.dataset.layer = k; b.dataset.kind = kind; b.dataset.unit = u;
      box.appendChild(b);
      if (++n >= 300) { const more = document.createElement("div"); more.className = "muted";
                        more.textContent = "… (filter to see more)"; box.appendChild(more); break outer; }
    }
}
function choose(layer, kind, unit) {
  $("layer-select").value = layer; fillKinds();
  $("kind-select").value = kind; $("unit-input").value = unit;
  loadUnit();
}
async function readText() {
  const text = $("text-input").value, view = $("text-view");
  clearMessages("cells");
  view.dataset.state = "reading";
  try {
    const r = await api("POST", "/api/read", { run: S.run, text });
    S.textId = r.text_id; S.nextCache = {};
    if (r.warning) message(r.warning, "warning", "cells");
    const frag = document.createDocumentFragment();
    S.spans = [];
    for (let i = 0; i < text.length; i++) {
      const s = document.createElement("span");
      s.textContent = text[i];
      s.dataset.i = i;
      S.spans.push(s); frag.appendChild(s);
    }
    view.textContent = "";
    view.appendChild(frag);
    view.dataset.textId = r.text_id;
    $("chart-gradient").textContent = "";
    await loadUnit();
  } catch (e) {
    view.dataset.state = "error";
    message(e.message, "error", "cells");
  }
}
async function loadUnit() {
  if (!S.textId) return;
  const view = $("text-view"), q = sel();
  clearMessages("unit");
  view.dataset.state = "loading";
  try {
    const r = await api("GET", "/api/unit", { text_id: S.textId, ...q });
    const v = r.values instanceof Float32Array ? r.values : decodeF32(r.values);
    let mx = 0;
    for (const x of v) mx = Math.max(mx, Math.abs(x));
    const scale = q.kind === "c" ? Math.max(1, mx) : 1;
    S.values = v; S.scale = scale;
    for (let i = 0; i < S.spans.length; i++) {
      const [R, G, B] = colour(v[i], scale), s = S.spans[i];
      s.style.backgroundColor = `rgb(${R},${G},${B})`;
      s.dataset.v = v[i].toPrecision(8);
    }
    Object.assign(view.dataset, { layer: q.layer, kind: q.kind, unit: q.unit, scale, state: "ready" });
    $("legend").innerHTML = `<span>-${fmt(scale)}</span> <span class="swatch"></span> <span>+${fmt(scale)}</span> `;
    $("legend").appendChild(document.createTextNode(
      ` layer ${q.layer} ${q.kind} unit ${q.unit}: min ${fmt(Math.min(...v))}, max ${fmt(mx && Math.max(...v))}`));
    document.querySelectorAll("#unit-list .current").forEach((b) => b.classList.remove("current"));
  } catch (e) {
    view.dataset.state = "error";
    message(e.message, "error", "unit");
  }
}
async function hover(ev) {
  const s = ev.target.closest("#text-view span");
  const tip = $("tooltip");
  document.querySelectorAll("#text-view span.hover").forEach((x) => x.classList.remove("hover"));
  if (!s) { tip.hidden = true; return; }
  s.classList.add("hover");
  const i = +s.dataset.i, v = S.values ? S.values[i] : NaN;
  tip.textContent = "";
  const head = document.createElement("div");
  head.textContent = `#${i} '${showChar(s.textContent)}'  value ${isFinite(v) ? v.toFixed(4) : "?"}`;
  tip.appendChild(head);
  const rect = s.getBoundingClientRect();
  tip.style.left = (rect.left + window.scrollX) + "px";
  tip.style.top = (rect.bottom + window.scrollY + 4) + "px";
  tip.hidden = false;
  tip.dataset.pos = i;
  if (!S.isLm) return;
  try {
    const r = S.nextCache[i] || (S.nextCache[i] = await api("GET", "/api/next", { text_id: S.textId, pos: i }));
    if (+tip.dataset.pos !== i) return;
    const cap = document.createElement("div");
    cap.className = "muted";
    cap.textContent = "next character:";
    tip.appendChild(cap);
    for (const [ch, p] of r.top) {
      const row = document.createElement("div");
      row.className = "top-row";
      row.dataset.char = ch; row.dataset.p = p;
      row.textContent = `'${showChar(ch)}' ${(100 * p).toFixed(1)}%`;
      const bar = document.createElement("span");
      bar.className = "bar"; bar.style.width = Math.round(60 * p) + "px";
      row.appendChild(bar);
      tip.appendChild(row);
    }
    tip.dataset.state = "ready";
  } catch (e) {
    message(e.message, "error", "unit");
  }
}
async function rank() {
  const list = $("rank-list");
  list.textContent = "";
  clearMessages("rank");
  try {
    if (!S.textId) await readText();
    const r = await api("POST", "/api/rank", { text_id: S.textId, feature: $("feature-select").value,
                                               regex: $("regex-input").value });
    for (const u of r.units) {
      const li = document.createElement("li");
      li.textContent = `layer ${u.layer} ${u.kind} ${u.unit}   r = ${u.corr >= 0 ? "+" : ""}${u.corr.toFixed(3)}`;
      Object.assign(li.dataset, { layer: u.layer, kind: u.kind, unit: u.unit, corr: u.corr });
      list.appendChild(li);
    }
    list.dataset.state = "ready";
  } catch (e) {
    message(e.message, "error", "rank");
  }
}
async function gradient() {
  clearMessages("unit");
  try {
    const r = await api("GET", "/api/gradient", { text_id: S.textId, layer: sel().layer });
    const v = decodeF32(r.values);
    lineChart($("chart-gradient"), [{ label: "||dL/dh_t||", color: "#333", id: "gradient",
                                      points: Array.from(v, (y, t) => [t, y]) }],
              { xlabel: "position t in the text", logy: true, width: 760, height: 180 });
  } catch (e) {
    message(e.message, "error", "unit");
  }
}

// ---- sampling -----------------------------------------------------------------------------------
async function sample() {
  const view = $("sample-view"), q = sel();
  clearMessages("sample");
  view.textContent = "";
  view.dataset.state = "sampling";
  const num = (id) => ($(id).value === "" ? null : +$(id).value);
  const prime = document.createElement("b");
  prime.textContent = $("prime-input").value;
  view.appendChild(prime);
  try {
    const res = await fetch("/api/sample", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ run: S.run, prime: $("prime-input").value, length: num("length-input"),
        temperature: num("temperature-input"), top_k: num("topk-input"), top_p: num("topp-input"),
        seed: num("seed-input"), ...q }) });
    if (!res.ok) throw new Error((await res.json()).error || `HTTP ${res.status}`);
    const reader = res.body.getReader(), dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (value) buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const d = JSON.parse(buf.slice(0, nl)); buf = buf.slice(nl + 1);
        if (d.error) throw new Error(d.error);
        const s = document.createElement("span"), [R, G, B] = colour(d.v, q.kind === "c" ? (S.scale || 1) : 1);
        s.textContent = d.ch; s.dataset.v = d.v;
        s.style.backgroundColor = `rgb(${R},${G},${B})`;
        view.appendChild(s);
      }
      if (done) break;
    }
    view.dataset.state = "done";
  } catch (e) {
    view.dataset.state = "error";
    message(e.message, "error", "sample");
  }
}

// ---- start ----------------------------------------------------------------------------------------
async function start() {
  const fsel = $("feature-select");
  for (const [k, label] of [["quotes", "inside quotes"], ["brackets", "bracket depth"],
    ["line_pos", "position in line"], ["word_start", "start of word"], ["upper", "upper case"],
    ["digit", "digit"], ["regex", "regular expression…"]]) fsel.add(new Option(label, k));
  fsel.addEventListener("change", () => { $("regex-input").hidden = fsel.value !== "regex"; });
  $("read-button").addEventListener("click", readText);
  $("layer-select").addEventListener("change", () => { fillKinds(); loadUnit(); });
  $("kind-select").addEventListener("change", loadUnit);
  $("unit-input").addEventListener("change", loadUnit);
  $("unit-filter").addEventListener("input", renderUnitList);
  $("unit-list").addEventListener("click", (e) => { const b = e.target.closest("button");
    if (b) choose(+b.dataset.layer, b.dataset.kind, +b.dataset.unit); });
  $("rank-list").addEventListener("click", (e) => { const li = e.target.closest("li");
    if (li) choose(+li.dataset.layer, li.dataset.kind, +li.dataset.unit); });
  $("rank-button").addEventListener("click", rank);
  $("gradient-button").addEventListener("click", gradient);
  $("sample-button").addEventListener("click", sample);
  $("text-view").addEventListener("mouseover", hover);
  $("text-view").addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
  $("run-select").addEventListener("change", () => { S.run = +$("run-select").value; S.textId = null;
    setupCells(); if (!$("cells-ui").hidden) readText(); });
  let info;
  try { info = await api("GET", "/api/runs"); } catch (e) { message(e.message); return; }
  renderTraining(info);
  info.runs.forEach((r, k) => $("run-select").add(new Option(r.name, k)));
  S.run = Math.max(0, info.runs.findIndex((r) => r.layers && r.layers.length));
  $("run-select").value = S.run;
  setupCells();
  if (!$("cells-ui").hidden) await readText();
  document.body.dataset.state = "ready";
  if (BOOT.mode === "served") setInterval(poll, 2000);
  else $("live").textContent = "exported " + (BOOT.exported || "");
}
start();
