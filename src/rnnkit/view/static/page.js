// rnnkit view: the page. Plain JavaScript, no library; the charts are in charts.js.
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
  const ticket = (S.readTicket = (S.readTicket || 0) + 1);
  try {
    const r = await api("POST", "/api/read", { run: S.run, text });
    if (ticket !== S.readTicket) return;                 // a newer text was sent meanwhile
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
  const view = $("text-view"), q = sel(), ticket = (S.unitTicket = (S.unitTicket || 0) + 1);
  clearMessages("unit");
  view.dataset.state = "loading";
  try {
    const r = await api("GET", "/api/unit", { text_id: S.textId, ...q });
    if (ticket !== S.unitTicket) return;                 // a newer choice was made meanwhile
    const v = r.values instanceof Float32Array ? r.values : decodeF32(r.values);
    let mx = 0;
    for (const x of v) mx = Math.max(mx, Math.abs(x));
    // gates and tanh states stay in [-1, 1] (scale 1); c, and h / hh of a linear candidate
    // (MinGRU, MinLSTM), are unbounded: scaled to their largest value
    const scale = Math.max(1, mx);
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
    if (ticket !== S.unitTicket) return;
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
        const s = document.createElement("span"), [R, G, B] = colour(d.v, S.scale || 1);
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
