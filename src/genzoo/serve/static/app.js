// genzoo serve: the page. Plain JavaScript, no libraries; talks to the JSON/PNG API of genzoo.serve.app.
"use strict";

const $ = (sel, el = document) => el.querySelector(sel);
const main = () => $("#main");
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf"];

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c.nodeType ? c : String(c));
  return el;
}

function api(path, params = {}) {
  const q = new URLSearchParams(params);
  return path + "?" + q.toString();
}

async function getJSON(url) {
  const r = await fetch(url);
  const body = await r.json().catch(() => ({error: "bad response " + r.status}));
  if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
  return body;
}

function fmt(v, digits = 4) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(digits);
  return String(v);
}

// An <img> fed by one request at a time: while a request is in flight only the newest wanted URL is kept,
// so fast pointer moves never queue up. Errors go to errEl. Resolves to the blob URL shown.
class LiveImage {
  constructor(img, errEl, onShown) {
    this.img = img; this.errEl = errEl; this.busy = false; this.next = null; this.onShown = onShown;
  }
  set(url) { this.next = url; if (!this.busy) this.pump(); }
  async pump() {
    while (this.next) {
      const url = this.next; this.next = null; this.busy = true;
      try {
        const r = await fetch(url);
        if (!r.ok) {
          const body = await r.json().catch(() => ({}));
          throw new Error(body.error || ("HTTP " + r.status));
        }
        const blob = await r.blob();
        const old = this.img.src;
        await new Promise((res) => { this.img.onload = res; this.img.onerror = res; this.img.src = URL.createObjectURL(blob); });
        if (old.startsWith("blob:")) URL.revokeObjectURL(old);
        this.img.dataset.url = url;
        this.img.dataset.count = String(Number(this.img.dataset.count || 0) + 1);
        if (this.errEl) this.errEl.textContent = "";
        this.img.style.opacity = "";
        if (this.onShown) this.onShown(url);
      } catch (e) {
        if (this.errEl) this.errEl.textContent = e.message;
        this.img.style.opacity = "0.3";  // the picture no longer matches the inputs
      }
      this.busy = false;
    }
  }
}

function downloads(getUrl) {
  const png = h("a", {href: "#", download: "genzoo.png"}, "PNG");
  const num = h("a", {href: "#", target: "_blank"}, "numbers");
  const upd = () => { const u = getUrl(); if (u) { png.href = u; num.href = u + "&format=json"; } };
  png.addEventListener("mouseenter", upd); num.addEventListener("mouseenter", upd);
  png.addEventListener("focus", upd); num.addEventListener("focus", upd);
  return h("span", {class: "muted"}, " download: ", png, " · ", num);
}

// ---- line plot (SVG) -------------------------------------------------------------------------------
function linePlot(series, {width = 520, height = 260, xlabel = "epoch", ylabel = ""} = {}) {
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("width", width); svg.setAttribute("height", height);
  const pts = series.flatMap((s) => s.x.map((x, i) => [x, s.y[i]])).filter(([x, y]) => x !== null && y !== null && isFinite(y));
  const mk = (tag, attrs, text) => { const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text !== undefined) e.textContent = text; svg.append(e); return e; };
  if (!pts.length) { mk("text", {x: 10, y: 20}, "no numbers to plot"); return svg; }
  const L = 60, R = 10, T = 10, B = 30;
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (x1 === x0) x1 = x0 + 1; if (y1 === y0) { y1 += 0.5; y0 -= 0.5; }
  const sx = (x) => L + (x - x0) / (x1 - x0) * (width - L - R);
  const sy = (y) => height - B - (y - y0) / (y1 - y0) * (height - T - B);
  mk("line", {x1: L, y1: height - B, x2: width - R, y2: height - B, stroke: "#999"});
  mk("line", {x1: L, y1: T, x2: L, y2: height - B, stroke: "#999"});
  for (const t of [0, 0.5, 1]) {
    const yv = y0 + t * (y1 - y0), xv = x0 + t * (x1 - x0);
    mk("text", {x: 4, y: sy(yv) + 4}, fmt(yv, 4));
    mk("text", {x: sx(xv) - 8, y: height - B + 14}, fmt(xv, 3));
  }
  mk("text", {x: width / 2, y: height - 2}, xlabel);
  series.forEach((s, k) => {
    const d = s.x.map((x, i) => [x, s.y[i]]).filter(([x, y]) => x !== null && y !== null && isFinite(y))
      .map(([x, y], i) => (i ? "L" : "M") + sx(x).toFixed(1) + "," + sy(y).toFixed(1)).join(" ");
    mk("path", {d, fill: "none", stroke: s.color || COLORS[k % COLORS.length], "stroke-width": 1.5,
                "stroke-dasharray": s.dash ? "4 3" : "none"});
    mk("text", {x: L + 8, y: T + 12 + 13 * k, fill: s.color || COLORS[k % COLORS.length]}, s.name);
  });
  return svg;
}

// ---- runs table --------------------------------------------------------------------------------------
const state = {sort: "id", desc: false, filter: "", selected: new Set(), runs: [], curve: "valid_loss"};

async function showRuns() {
  main().replaceChildren(h("p", {}, "Loading runs…"));
  let data;
  try { data = await getJSON("/api/runs"); } catch (e) { main().replaceChildren(h("p", {class: "error"}, e.message)); return; }
  $("#root").textContent = data.root;
  state.runs = data.runs;
  const filter = h("input", {id: "filter", placeholder: "filter (model, data, id…)", value: state.filter,
    oninput: (ev) => { state.filter = ev.target.value; drawTable(); }});
  const curveSel = h("select", {id: "curve", onchange: (ev) => { state.curve = ev.target.value; drawOverlay(); }},
    ["valid_loss", "train_loss"].map((c) => h("option", {value: c, selected: c === state.curve}, c)));
  main().replaceChildren(
    h("h2", {}, `Runs (${data.runs.length})`),
    h("div", {class: "row"}, filter, " overlay the selected runs' ", curveSel),
    h("div", {id: "table"}), h("div", {id: "overlay", class: "panel"}, h("span", {class: "muted"}, "tick runs to overlay their curves")));
  drawTable();
  drawOverlay();
}

const COLUMNS = [["", null], ["run", "id"], ["model", "model"], ["data", "data"], ["epochs", "epochs"],
                 ["best valid loss", "best_valid_loss"], ["eval", "evals"], ["train time (s)", "train_seconds"]];

function evalText(evals) {
  return Object.entries(evals || {}).map(([split, d]) => {
    const keys = ["nll_nats", "bits_per_dim", "neg_elbo_nats", "fid", "accuracy"].filter((k) => k in d);
    return split + ": " + keys.map((k) => `${k}=${fmt(d[k])}`).join(" ");
  }).join("; ");
}

function drawTable() {
  const f = state.filter.toLowerCase();
  let rows = state.runs.filter((r) => !f || [r.id, r.model, r.data, r.objective].join(" ").toLowerCase().includes(f));
  const key = state.sort;
  rows.sort((a, b) => {
    let va = a[key], vb = b[key];
    if (key === "evals") { va = evalText(va); vb = evalText(vb); }
    if (va === null || va === undefined) return 1; if (vb === null || vb === undefined) return -1;
    const c = typeof va === "number" ? va - vb : String(va).localeCompare(String(vb));
    return state.desc ? -c : c;
  });
  const head = h("tr", {}, COLUMNS.map(([label, k]) => h("th", {"data-sort": k || "",
    onclick: () => { if (!k) return; state.desc = state.sort === k ? !state.desc : false; state.sort = k; drawTable(); }},
    label + (state.sort === k ? (state.desc ? " ▼" : " ▲") : ""))));
  const body = rows.map((r) => h("tr", {"data-run": r.id},
    h("td", {}, h("input", {type: "checkbox", checked: state.selected.has(r.id),
      onchange: (ev) => { ev.target.checked ? state.selected.add(r.id) : state.selected.delete(r.id); drawOverlay(); }})),
    h("td", {}, h("a", {href: "#/run/" + encodeURIComponent(r.id), class: "run-link"}, r.id)),
    h("td", {}, r.model || ""), h("td", {}, r.data || ""),
    h("td", {class: "num"}, r.epochs + (r.epochs_planned && r.epochs_planned !== r.epochs ? "/" + r.epochs_planned : "")),
    h("td", {class: "num"}, fmt(r.best_valid_loss)), h("td", {}, evalText(r.evals)),
    h("td", {class: "num"}, fmt(r.train_seconds, 3))));
  $("#table").replaceChildren(h("table", {id: "runs-table"}, h("thead", {}, head), h("tbody", {}, body)));
}

async function drawOverlay() {
  const box = $("#overlay");
  if (!box) return;
  const ids = [...state.selected];
  if (!ids.length) { box.replaceChildren(h("span", {class: "muted"}, "tick runs to overlay their curves")); return; }
  const runs = await Promise.all(ids.map((id) => getJSON(api("/api/run", {run: id})).catch(() => null)));
  const series = [];
  runs.forEach((r, i) => { if (r && r.metrics[state.curve]) series.push({name: ids[i], x: r.metrics.epoch || [], y: r.metrics[state.curve]}); });
  box.replaceChildren(h("h3", {}, state.curve), linePlot(series, {ylabel: state.curve}));
}

// ---- run page -----------------------------------------------------------------------------------------
async function showRun(id) {
  main().replaceChildren(h("p", {}, "Loading " + id + "…"));
  let run;
  try { run = await getJSON(api("/api/run", {run: id})); } catch (e) { main().replaceChildren(h("p", {class: "error"}, e.message)); return; }
  const s = run.summary, m = run.metrics;
  const curves = Object.keys(m).filter((k) => /loss|nll|elbo|kl|bpd|bits/.test(k));
  const series = curves.map((k) => ({name: k, x: m.epoch || [], y: m[k], dash: k.startsWith("train")}));
  const fileUrl = (name) => api("/api/file", {run: id, name});
  main().replaceChildren(
    h("h2", {}, id, " ", h("span", {class: "muted"}, `${s.model} on ${s.data}, ${s.epochs} epoch(s)`)),
    h("div", {id: "views"}, h("p", {class: "muted"}, "loading the model…")),
    h("div", {class: "panel"}, h("h3", {}, "training curves"), linePlot(series),
      h("div", {}, h("a", {href: fileUrl("metrics.csv")}, "metrics.csv"))),
    h("div", {class: "panel"}, h("h3", {}, "pictures"),
      run.images.length ? run.images.map((f) => h("figure", {}, h("img", {class: "pic", src: fileUrl(f), alt: f}), h("figcaption", {}, f)))
        : h("span", {class: "muted"}, "none")),
    h("div", {class: "panel"}, h("h3", {}, "evaluations"),
      Object.keys(run.evals).length ? Object.entries(run.evals).map(([k, v]) => h("div", {}, h("b", {}, k), h("pre", {}, JSON.stringify(v, null, 1))))
        : h("span", {class: "muted"}, "no eval_*.json (run 'genzoo eval')")),
    h("div", {class: "panel"}, h("h3", {}, "config.json"), h("pre", {}, JSON.stringify(run.config, null, 1))));
  let info;
  try { info = await getJSON(api("/api/model", {run: id})); }
  catch (e) { $("#views").replaceChildren(h("p", {class: "error", id: "model-error"}, e.message)); return; }
  const views = $("#views");
  views.replaceChildren(h("p", {class: "muted"}, `${info.class} (${info.family}), data ${info.shape.join("×")}; views: ${info.views.join(", ")}`));
  // the model's own interactive views first, plain samples last
  const order = [...info.views.filter((v) => v !== "sample"), ...info.views.filter((v) => v === "sample")];
  for (const v of order) if (VIEWS[v]) views.append(VIEWS[v](id, info));
}

function panel(title, ...children) { return h("div", {class: "panel", "data-view": title}, h("h3", {}, title), ...children); }
function numInput(id, value, attrs = {}) { return h("input", {id, type: "number", value, style: "width:6em", ...attrs}); }

const VIEWS = {
  sample(id, info) {
    const img = h("img", {class: "grid", id: "sample-img", alt: "samples"});
    const err = h("div", {class: "error"});
    const live = new LiveImage(img, err);
    const seed = numInput("sample-seed", 0, {min: 0}), n = numInput("sample-n", 16, {min: 1, max: 64});
    const url = () => api("/api/sample", {run: id, seed: seed.value, n: n.value});
    const go = () => live.set(url());
    seed.addEventListener("change", go); n.addEventListener("change", go); go();
    return panel("samples", h("div", {class: "row"}, "seed ", seed, " n ", n), img, err, downloads(url));
  },

  latent(id, info) {
    const W = 300;
    const plane = h("canvas", {id: "plane", width: W, height: W});
    const img = h("img", {class: "px", id: "decoded", alt: "decoded"});
    const err = h("div", {class: "error", id: "latent-error"});
    const live = new LiveImage(img, err);
    const coord = h("div", {class: "muted", id: "plane-coord"}, "point at the plane");
    let lastUrl = null, codes = null, span = 3, mark = null;
    const toPlane = (px, py) => [(px / W * 2 - 1) * span, (1 - py / W * 2) * span];
    const point = (ev) => {
      const r = plane.getBoundingClientRect();
      const [a, b] = toPlane(ev.clientX - r.left, ev.clientY - r.top);
      mark = [ev.clientX - r.left, ev.clientY - r.top];
      draw();
      coord.textContent = `${codes && codes.mode === "pca" ? "PC1, PC2" : "z1, z2"} = ${a.toFixed(2)}, ${b.toFixed(2)}`;
      lastUrl = api("/api/decode", {run: id, plane: a.toFixed(4) + "," + b.toFixed(4)});
      live.set(lastUrl);
    };
    plane.addEventListener("mousemove", point); plane.addEventListener("click", point);
    const draw = () => {
      const ctx = plane.getContext("2d");
      ctx.fillStyle = "#fafafa"; ctx.fillRect(0, 0, W, W);
      ctx.strokeStyle = "#ddd"; ctx.beginPath(); ctx.moveTo(W / 2, 0); ctx.lineTo(W / 2, W); ctx.moveTo(0, W / 2); ctx.lineTo(W, W / 2); ctx.stroke();
      (codes ? codes.xy : []).forEach(([a, b], i) => {
        ctx.fillStyle = codes.labels ? COLORS[codes.labels[i] % 10] : "#555";
        ctx.fillRect((a / span + 1) / 2 * W - 1.5, (1 - b / span) / 2 * W - 1.5, 3, 3);
      });
      if (mark) {  // the point being decoded
        ctx.strokeStyle = "#000"; ctx.lineWidth = 2; ctx.beginPath(); ctx.arc(mark[0], mark[1], 5, 0, 2 * Math.PI); ctx.stroke();
        ctx.lineWidth = 1;
      }
    };
    draw();
    getJSON(api("/api/codes", {run: id})).then((c) => {
      codes = c;
      const mags = c.xy.map(([a, b]) => Math.max(Math.abs(a), Math.abs(b))).sort((p, q) => p - q);
      span = Math.max(1, Math.ceil(1.2 * (mags[Math.floor(0.99 * (mags.length - 1))] || 1)));  // 99% of codes in view
      draw();
      legend.textContent = (c.mode === "pca" ? "plane of the top two principal directions of the test codes; " : "2-D latent; ") +
        `test codes coloured by label; axes ±${span}`;
    }).catch((e) => { legend.textContent = "no test codes: " + e.message; });
    const legend = h("div", {class: "muted"}, "loading test codes…");
    // sliders from a chosen test image's code: one per latent dimension (up to 32) or, for wider
    // latents, one per principal direction of the test codes (in units of the codes' spread along it)
    const sl = h("div", {class: "sliders", id: "latent-sliders"});
    const simg = h("img", {class: "px", id: "slider-decoded", alt: "decoded"});
    const serr = h("div", {class: "error"});
    const slive = new LiveImage(simg, serr);
    const idx = numInput("code-index", 0, {min: 0});
    const axes = h("select", {id: "slider-axes"}, h("option", {value: "dims"}, "latent dimensions"),
      info.latent_dim > 2 ? h("option", {value: "pca"}, "principal directions") : null);
    let z = new Array(info.latent_dim).fill(0);
    const surl = () => api("/api/decode", {run: id, z: z.map((v) => v.toFixed(4)).join(",")});
    const dot = (u, v) => u.reduce((acc, x, i) => acc + x * v[i], 0);
    const build = () => {
      const pca = axes.value === "pca" && codes && codes.directions;
      if (!pca) {
        sl.replaceChildren(...z.slice(0, 32).map((v, j) => h("label", {}, `z${j + 1} `,
          h("input", {type: "range", min: -4, max: 4, step: 0.05, value: v, id: "z" + (j + 1),
            oninput: (ev) => { z[j] = Number(ev.target.value); slive.set(surl()); }}))));
      } else {
        const {mean, directions: V, scales: S} = codes;
        const d = z.map((v, i) => v - mean[i]);
        const s = V.map((v, k) => dot(d, v) / (S[k] || 1));  // coordinates in spread units
        const rest = d.map((x, i) => x - V.reduce((acc, v, k) => acc + s[k] * S[k] * v[i], 0));  // beyond the sliders
        const update = () => { z = mean.map((m, i) => m + rest[i] + V.reduce((acc, v, k) => acc + s[k] * S[k] * v[i], 0)); slive.set(surl()); };
        sl.replaceChildren(...s.map((v, k) => h("label", {}, `PC${k + 1} `,
          h("input", {type: "range", min: -4, max: 4, step: 0.05, value: v, id: "pc" + (k + 1),
            oninput: (ev) => { s[k] = Number(ev.target.value); update(); }}))));
      }
      slive.set(surl());
    };
    axes.addEventListener("change", build);
    const load = () => getJSON(api("/api/encode", {run: id, index: idx.value}))
      .then((r) => { z = r.z; build(); serr.textContent = ""; }).catch((e) => { serr.textContent = e.message; });
    idx.addEventListener("change", load);
    build(); load();
    return h("div", {},
      panel("latent plane", h("div", {class: "row"}, plane, img), coord, legend, err, downloads(() => lastUrl)),
      panel("latent sliders", h("div", {class: "row"}, "code of test image ", idx, " along ", axes,
        info.latent_dim > 32 ? h("span", {class: "muted"}, ` (first 32 of ${info.latent_dim} dimensions)`) : null),
        h("div", {class: "row"}, sl, simg), serr, downloads(surl)));
  },

  infogan(id, info) {
    const img = h("img", {class: "px", id: "infogan-img", alt: "InfoGAN"});
    const err = h("div", {class: "error", id: "infogan-error"});
    const live = new LiveImage(img, err);
    const seed = numInput("infogan-seed", 0, {min: 0});
    const cat = h("select", {id: "infogan-cat"}, [...Array(info.categories).keys()].map((k) => h("option", {value: k}, "category " + k)));
    const c = new Array(info.continuous).fill(0);
    const url = () => api("/api/sample", {run: id, seed: seed.value, cat: cat.value, c: c.map((v) => v.toFixed(3)).join(",")});
    const go = () => live.set(url());
    const sliders = c.map((v, j) => h("label", {}, `c${j + 1} `, h("input", {type: "range", min: -2, max: 2, step: 0.05, value: 0,
      id: "infogan-c" + (j + 1), oninput: (ev) => { c[j] = Number(ev.target.value); go(); }})));
    seed.addEventListener("change", go); cat.addEventListener("change", go); go();
    return panel("InfoGAN codes", h("div", {class: "row"}, "noise seed ", seed, " ", cat),
      h("div", {class: "sliders"}, sliders), img, err, downloads(url),
      h("div", {class: "muted"}, "trained with c ~ U(-1, 1); beyond that range is extrapolation"));
  },

  label(id, info) {
    const img = h("img", {class: "grid", id: "label-img", alt: "class samples"});
    const err = h("div", {class: "error"});
    const live = new LiveImage(img, err);
    const seed = numInput("label-seed", 0, {min: 0});
    const sel = h("select", {id: "label-pick"}, [...Array(info.num_classes).keys()].map((k) => h("option", {value: k}, "class " + k)));
    const url = () => api("/api/sample", {run: id, seed: seed.value, n: 16, label: sel.value});
    const go = () => live.set(url());
    sel.addEventListener("change", go); seed.addEventListener("change", go); go();
    return panel("class", h("div", {class: "row"}, sel, " seed ", seed), img, err, downloads(url));
  },

  text(id, info) {
    const img = h("img", {class: "grid", id: "caption-img", alt: "caption samples"});
    const err = h("div", {class: "error", id: "caption-error"});
    const live = new LiveImage(img, err);
    const box = h("input", {id: "caption", value: "a thick seven", size: 30});
    const seed = numInput("caption-seed", 0, {min: 0});
    const url = () => api("/api/sample", {run: id, seed: seed.value, n: 8, text: box.value});
    const go = () => live.set(url());
    box.addEventListener("input", go); seed.addEventListener("change", go); go();
    return panel("caption", h("div", {class: "row"}, box, " seed ", seed), img, err, downloads(url),
      h("div", {class: "muted"}, "words: " + info.vocabulary.join(" ")));
  },

  stream(id, info) {
    const [C, H, W] = info.shape;
    const cv = h("canvas", {class: "px", id: "stream-canvas", width: W, height: H});
    const seed = numInput("stream-seed", 0, {min: 0});
    const status = h("div", {class: "muted", id: "stream-status"}, info.live_stream ? "" : "(sampled whole, then sent row by row)");
    let es = null;
    const start = () => {
      if (es) es.close();
      const ctx = cv.getContext("2d");
      ctx.fillStyle = "#333"; ctx.fillRect(0, 0, W, H);
      const t0 = performance.now();
      es = new EventSource(api("/api/stream", {run: id, seed: seed.value}));
      es.addEventListener("row", (ev) => {
        const d = JSON.parse(ev.data);
        const row = ctx.createImageData(W, 1);
        for (let x = 0; x < W; x++) {
          const v = d.values.map((ch) => Math.round(ch[x] * 255));
          row.data.set([v[0], v[C > 1 ? 1 : 0], v[C > 2 ? 2 : 0], 255], 4 * x);
        }
        ctx.putImageData(row, 0, d.row);
        status.textContent = `row ${d.row + 1}/${H}`;
      });
      es.addEventListener("done", () => { status.textContent = `done in ${((performance.now() - t0) / 1000).toFixed(1)} s`; es.close(); es = null; });
      es.onerror = () => { if (es) { status.textContent = "stream stopped"; es.close(); es = null; } };
    };
    return panel("autoregressive sample", h("div", {class: "row"}, "seed ", seed, h("button", {id: "stream-go", onclick: start}, "sample")),
      cv, status, h("div", {}, h("a", {href: "#", onclick: (ev) => { ev.target.href = cv.toDataURL("image/png"); }, download: "sample.png"}, "download PNG")));
  },

  logprob(id, info) {
    const x = h("img", {class: "px", alt: "test image"}), heat = h("img", {class: "px", id: "logprob-img", alt: "log-prob"});
    const err = h("div", {class: "error"}), total = h("div", {id: "logprob-total"});
    const idx = numInput("logprob-index", 0, {min: 0});
    const lx = new LiveImage(x, err), lh = new LiveImage(heat, err);
    const url = () => api("/api/logprob", {run: id, index: idx.value});
    const go = () => {
      lx.set(api("/api/test_image", {run: id, index: idx.value})); lh.set(url());
      getJSON(url() + "&format=json").then((r) => { total.textContent = `log p(x) = ${r.model_log_prob_nats.toFixed(2)} nats (exact); dark = unlikely pixel`; })
        .catch((e) => { err.textContent = e.message; });
    };
    idx.addEventListener("change", go); go();
    return panel("per-pixel log-probability", h("div", {class: "row"}, "test image ", idx), h("div", {class: "row"}, x, heat), total, err, downloads(url));
  },

  interpolate(id, info) {
    const img = h("img", {class: "strip", id: "interp-img", alt: "interpolation"});
    const err = h("div", {class: "error"});
    const live = new LiveImage(img, err);
    const a = numInput("interp-a", 0, {min: 0}), b = numInput("interp-b", 1, {min: 0}), steps = numInput("interp-steps", 8, {min: 2, max: 32});
    const url = () => api("/api/interpolate", {run: id, a: a.value, b: b.value, steps: steps.value});
    const go = () => live.set(url());
    [a, b, steps].forEach((e) => e.addEventListener("change", go)); go();
    return panel("interpolation", h("div", {class: "row"}, "test images ", a, " → ", b, " steps ", steps), img, err, downloads(url));
  },

  reconstruct(id, info) {
    const img = h("img", {class: "strip", id: "recon-img", alt: "reconstruction"});
    const err = h("div", {class: "error", id: "recon-error"});
    const live = new LiveImage(img, err);
    const idx = numInput("recon-index", 0, {min: 0});
    let lastUrl = api("/api/reconstruct", {run: id, index: 0});
    const go = () => { lastUrl = api("/api/reconstruct", {run: id, index: idx.value}); live.set(lastUrl); };
    idx.addEventListener("change", go); go();
    const up = uploader("recon", id, "/api/reconstruct", info, async (r) => showBlob(img, await r.blob()));
    return panel("reconstruction", h("div", {class: "row"}, "test image ", idx), img, err, downloads(() => lastUrl), up);
  },

  translate(id, info) {
    const img = h("img", {class: "px", id: "translate-img", alt: "translation"});
    const dir = h("select", {id: "translate-dir"}, h("option", {value: "a2b"}, "A → B"), h("option", {value: "b2a"}, "B → A"));
    const up = uploader("translate", id, "/api/translate", info, async (r) => showBlob(img, await r.blob()), () => ({direction: dir.value}));
    return panel("translate an image", dir, up, img);
  },

  anomaly(id, info) {
    const out = h("pre", {id: "anomaly-out"}, `score: ${info.anomaly_score}`);
    const up = uploader("anomaly", id, "/api/anomaly", info, async (r) => {
      const d = await r.json();
      out.textContent = `${d.score} = ${d.value.toFixed(3)} (${d.meaning})\nhigher than ${d.percentile_among_test.toFixed(1)}% of ${d.reference_n} test images`;
    });
    return panel("anomaly score of an upload", up, out);
  },
};

function showBlob(img, blob) { img.src = URL.createObjectURL(blob); }

function uploader(name, id, path, info, onOk, extra = () => ({})) {
  const file = h("input", {type: "file", id: name + "-file", accept: "image/*"});
  const resize = h("input", {type: "checkbox", id: name + "-resize"});
  const err = h("div", {class: "error upload-error", id: name + "-upload-error"});
  file.addEventListener("change", async () => {
    const f = file.files[0];
    if (!f) return;
    err.textContent = "";
    try {
      const r = await fetch(api(path, {run: id, resize: resize.checked ? 1 : 0, ...extra()}), {method: "POST", body: f});
      if (!r.ok) { const b = await r.json().catch(() => ({})); throw new Error(b.error || ("HTTP " + r.status)); }
      await onOk(r);
    } catch (e) { err.textContent = e.message; }
  });
  return h("div", {}, `upload a ${info.shape[2]}×${info.shape[1]} image `, file,
    h("label", {}, resize, " resize to fit"), err);
}

// ---- routing -------------------------------------------------------------------------------------------
function route() {
  const hash = location.hash || "#/";
  if (hash.startsWith("#/run/")) showRun(decodeURIComponent(hash.slice(6)));
  else showRuns();
}
window.addEventListener("hashchange", route);
route();
