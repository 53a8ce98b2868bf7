// rnnkit view: an exported file answers the page's questions from the data embedded in it
// (the default text of each run with every unit, hover probabilities, feature rankings).
// Loaded with page.js in the same inline script; S and BOOT are page.js's.
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

