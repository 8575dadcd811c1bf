// The page: wires the connection, the fold and the layout to the DOM.
// All logic that can be pure lives in fold.mjs, model.mjs, layout.mjs and
// connection.mjs (tested with `node --test`); this file only draws.

import { applyMessage, emptyState } from "./fold.mjs";
import { buildGraph, laneStats, nodeDetails, progressText, formatDuration, formatTime, STATUSES } from "./model.mjs";
import { layout, neighbour } from "./layout.mjs";
import { FlowConnection, resolveApiBase, logLinesUrl, authHeaders } from "./connection.mjs";

// Script errors are kept on <html data-error> (for tests and bug reports).
window.addEventListener("error", (ev) => {
  document.documentElement.dataset.error = String(ev.message || ev.error || "error");
});

const SVG = "http://www.w3.org/2000/svg";
const FLOW_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;
const ICONS = { pending: "\u25CB", running: "\u25D0", succeeded: "\u2713", failed: "\u2717" };
const $ = (id) => document.getElementById(id);

const root = document.documentElement;
const apiBase = resolveApiBase(root.dataset.apiBase, location.search);
const flowId = pickFlowId();
const tokenKey = `openova-flow-token:${apiBase}`;

const ui = {
  state: emptyState(),
  graph: null,
  lay: null,
  structureDirty: true,
  scheduled: false,
  collapsed: new Set(),
  selected: null,
  detailsOpen: false,
  zoom: 1,
  elements: { nodes: new Map(), edges: new Map(), lanes: new Map(), cards: new Map() },
  lastStatus: new Map(),
  logs: { key: null, afterSeq: 0, timer: null, busy: false },
};

function pickFlowId() {
  const fromAttr = root.dataset.flowId;
  if (fromAttr && FLOW_ID_RE.test(fromAttr)) return fromAttr;
  const q = new URLSearchParams(location.search).get("flow");
  return q && FLOW_ID_RE.test(q) ? q : null;
}

function readToken() {
  const hash = new URLSearchParams(location.hash.replace(/^#/, ""));
  const fromHash = hash.get("access_token");
  if (fromHash) {
    sessionStorage.setItem(tokenKey, fromHash);
    hash.delete("access_token");
    const rest = hash.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
    return fromHash;
  }
  return sessionStorage.getItem(tokenKey);
}

// ---------------------------------------------------------------- start


function showOpenForm() {
  $("open-flow").hidden = false;
  $("graph").hidden = true;
  $("flow-name").textContent = "";
  $("open-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = $("open-id").value.trim();
    if (!FLOW_ID_RE.test(id)) {
      $("open-id").setCustomValidity("1–128 characters of A–Z a–z 0–9 . _ : -");
      $("open-id").reportValidity();
      return;
    }
    const dir = location.pathname.replace(/\/?$/, "/");
    const api = new URLSearchParams(location.search).get("api");
    location.assign(`${dir}flows/${encodeURIComponent(id)}${api ? `?api=${encodeURIComponent(api)}` : ""}`);
  });
  $("open-id").addEventListener("input", () => $("open-id").setCustomValidity(""));
  $("open-id").focus();
}

let conn = null;

function start() {
  $("flow-name").textContent = flowId;
  document.title = `${flowId} — OpenovaFlow`;
  conn = new FlowConnection({
    apiBase,
    flowId,
    token: readToken(),
    EventSourceImpl: window.EventSource,
    fetchImpl: window.fetch.bind(window),
    onMessage: (msg, id) => {
      const r = applyMessage(ui.state, msg, flowId);
      if (r.structure) ui.structureDirty = true;
      if (id) $("conn").dataset.lastEventId = id;
      schedule();
    },
    onState: (state, detail) => showConnection(state, detail),
  });
  bindControls();
  schedule();
  conn.start();
}

function showConnection(state, detail) {
  const el = $("conn");
  el.dataset.state = state;
  const text = {
    connecting: "connecting…",
    live: "live",
    reconnecting: "reconnecting…",
    unauthorized: "unauthorized",
    offline: "offline",
    stopped: "not connected",
  }[state];
  $("conn-text").textContent = detail ? `${text} (${detail})` : text;
  el.title = detail || text;
  $("token-form-wrap").hidden = state !== "unauthorized";
  if (state === "unauthorized") $("token-input").focus();
}

// ---------------------------------------------------------------- controls

function bindControls() {
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("token-input").value.trim();
    $("token-input").value = "";
    if (t) sessionStorage.setItem(tokenKey, t);
    else sessionStorage.removeItem(tokenKey);
    conn.setToken(t);
    $("graph").focus();
  });
  $("zoom-in").addEventListener("click", () => setZoom(ui.zoom * 1.25));
  $("zoom-out").addEventListener("click", () => setZoom(ui.zoom / 1.25));
  $("next-failed").addEventListener("click", () => selectNextFailed());
  $("d-close").addEventListener("click", () => closeDetails());
  $("nodes").addEventListener("click", (ev) => {
    const g = ev.target.closest("g.node");
    if (g) {
      select(g.dataset.key, true);
      $("graph").focus({ preventScroll: true });
    }
  });
  $("lanes").addEventListener("click", (ev) => {
    const g = ev.target.closest("g.lane");
    if (g && ev.target.closest(".lane-toggle")) toggleLane(g.dataset.lane);
  });
  $("graph").addEventListener("keydown", onGraphKey);
  $("details").addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") {
      ev.preventDefault();
      closeDetails();
    }
  });
  window.addEventListener("hashchange", () => {
    if (new URLSearchParams(location.hash.replace(/^#/, "")).has("access_token")) conn.setToken(readToken());
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && ui.detailsOpen) pollLogs();
  });
}

function onGraphKey(ev) {
  if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
  const dirs = { ArrowLeft: "left", ArrowRight: "right", ArrowUp: "up", ArrowDown: "down" };
  if (dirs[ev.key] && ui.lay) {
    ev.preventDefault();
    const next = neighbour(ui.lay, ui.selected, dirs[ev.key]);
    if (next) select(next, ui.detailsOpen);
  } else if (ev.key === "Enter" || ev.key === " ") {
    ev.preventDefault();
    if (ui.selected === null && ui.lay) select(neighbour(ui.lay, null, "right"), true);
    else if (ui.selected !== null) openDetails();
  } else if (ev.key === "Escape") {
    ev.preventDefault();
    closeDetails();
  } else if (ev.key === "f") {
    ev.preventDefault();
    selectNextFailed();
  } else if (ev.key === "+" || ev.key === "=") {
    ev.preventDefault();
    setZoom(ui.zoom * 1.25);
  } else if (ev.key === "-") {
    ev.preventDefault();
    setZoom(ui.zoom / 1.25);
  } else if (ev.key === "Home" && ui.lay) {
    ev.preventDefault();
    select(neighbour(ui.lay, null, "right"), ui.detailsOpen);
  }
}

function setZoom(z) {
  ui.zoom = Math.min(2.5, Math.max(0.25, z));
  applySize();
}

function toggleLane(laneId) {
  if (ui.collapsed.has(laneId)) ui.collapsed.delete(laneId);
  else ui.collapsed.add(laneId);
  ui.structureDirty = true;
  schedule();
}

function layoutOrder() {
  const keys = [];
  for (const lane of ui.lay ? ui.lay.lanes : []) for (const col of lane.columns) for (const k of col) if (ui.lay.nodes.has(k)) keys.push(k);
  return keys;
}

function selectNextFailed() {
  const order = layoutOrder();
  const failed = order.filter((k) => ui.graph.itemByKey.get(k)?.status === "failed");
  if (failed.length === 0) {
    announce("No failed nodes.");
    return;
  }
  const i = failed.indexOf(ui.selected);
  select(failed[(i + 1) % failed.length], true);
  $("graph").focus({ preventScroll: true });
}

// ---------------------------------------------------------------- selection

function select(key, open) {
  if (key === null || key === undefined) return;
  ui.selected = key;
  const el = ui.elements.nodes.get(key);
  for (const [k, e] of ui.elements.nodes) e.classList.toggle("selected", k === key);
  for (const [, e] of ui.elements.edges) e.classList.toggle("hl", e.dataset.from === key || e.dataset.to === key);
  if (el) {
    $("graph").setAttribute("aria-activedescendant", el.id);
    scrollIntoView(key);
  }
  const it = ui.graph && ui.graph.itemByKey.get(key);
  if (it) announce(`${it.node.label || it.id}, ${it.status}${it.node.region ? `, region ${it.node.region}` : ""}`);
  if (open) openDetails();
  else if (ui.detailsOpen) renderDetails();
}

function scrollIntoView(key) {
  const p = ui.lay && ui.lay.nodes.get(key);
  if (!p) return;
  const g = $("graph");
  const x = p.x * ui.zoom;
  const y = p.y * ui.zoom;
  const w = p.w * ui.zoom;
  const h = p.h * ui.zoom;
  if (x < g.scrollLeft || x + w > g.scrollLeft + g.clientWidth) g.scrollLeft = Math.max(0, x - g.clientWidth / 3);
  if (y < g.scrollTop || y + h > g.scrollTop + g.clientHeight) g.scrollTop = Math.max(0, y - g.clientHeight / 3);
}

function announce(text) {
  $("sr-announce").textContent = text;
}

function openDetails() {
  if (ui.selected === null) return;
  ui.detailsOpen = true;
  $("details").hidden = false;
  renderDetails();
  startLogs();
}

function closeDetails() {
  ui.detailsOpen = false;
  $("details").hidden = true;
  stopLogs();
  $("graph").focus({ preventScroll: true });
}

// ---------------------------------------------------------------- details

function field(dl, name, value, cls) {
  if (value === null || value === undefined || value === "") return;
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  if (value instanceof Node) dd.append(value);
  else dd.textContent = String(value);
  if (cls) dd.className = cls;
  dd.dataset.field = name.toLowerCase();
  dl.append(dt, dd);
}

function badge(status) {
  const b = document.createElement("span");
  b.className = `badge status-${status}`;
  b.textContent = `${ICONS[status]} ${status}`;
  return b;
}

function depList(ul, deps) {
  ul.replaceChildren();
  for (const d of deps) {
    const li = document.createElement("li");
    const target = d.key;
    if (target !== null && ui.lay && ui.lay.nodes.has(target)) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = d.label;
      b.addEventListener("click", () => select(target, true));
      li.append(b);
    } else {
      li.append(document.createTextNode(d.label));
    }
    li.append(" ", d.status === null ? document.createTextNode("(not reported)") : badge(d.status));
    if (d.condition && d.condition !== "on-success") li.append(` (${d.condition})`);
    ul.append(li);
  }
  ul.parentElement.hidden = deps.length === 0;
}

function renderDetails() {
  const d = nodeDetails(ui.state, flowId, ui.selected, Date.now());
  if (d === null) {
    $("d-title").textContent = "Node removed";
    $("d-fields").replaceChildren();
    for (const id of ["d-wait", "d-deps", "d-rdeps"]) depList($(id), []);
    return;
  }
  $("details").dataset.key = d.key;
  $("details").dataset.status = d.status;
  $("d-title").textContent = d.label;
  const dl = $("d-fields");
  dl.replaceChildren();
  field(dl, "Status", badge(d.status));
  if (d.rawStatus && d.rawStatus !== d.status) field(dl, "Reported", d.rawStatus);
  field(dl, "Reason", d.reason);
  field(dl, "Message", d.message, "message");
  field(dl, "Id", d.id);
  if (d.flowId !== flowId) field(dl, "Flow", d.flowId);
  field(dl, "Region", d.region);
  field(dl, "Family", d.family);
  field(dl, "Namespace", d.namespace);
  field(dl, "Chart", d.chart);
  if (d.suspended) field(dl, "Suspended", "yes");
  field(dl, "Started", formatTime(d.startedAt));
  field(dl, "Ended", formatTime(d.endedAt));
  field(dl, "Duration", formatDuration(d.durationMs));
  depList($("d-wait"), d.waitingFor);
  depList($("d-deps"), d.dependsOn);
  depList($("d-rdeps"), d.dependents);
}

function startLogs() {
  const n = ui.state.nodes.get(ui.selected);
  const key = ui.selected;
  if (ui.logs.key !== key) {
    stopLogs();
    ui.logs.key = key;
    ui.logs.nodeId = n ? n.id : null;
    ui.logs.afterSeq = 0;
    $("d-log").replaceChildren();
    $("d-log-note").textContent = "Loading…";
  }
  pollLogs();
}

function stopLogs() {
  if (ui.logs.timer !== null) clearTimeout(ui.logs.timer);
  ui.logs.timer = null;
  ui.logs.key = null;
}

async function pollLogs() {
  if (ui.logs.timer !== null) clearTimeout(ui.logs.timer);
  ui.logs.timer = null;
  const key = ui.logs.key;
  if (key === null || ui.logs.nodeId === null || ui.logs.busy) return;
  ui.logs.busy = true;
  let again = true;
  try {
    const url = logLinesUrl(apiBase, flowId, { nodeId: ui.logs.nodeId, afterSeq: ui.logs.afterSeq, limit: 500 });
    const r = await fetch(url, { headers: authHeaders(conn.token), cache: "no-store" });
    if (ui.logs.key !== key) return;
    if (r.status === 404 || r.status === 405) {
      $("d-log-note").textContent = "Log lines are not available through this API.";
      again = false;
    } else if (r.status === 401 || r.status === 403) {
      $("d-log-note").textContent = "Not allowed to read log lines.";
      again = false;
    } else if (!r.ok) {
      $("d-log-note").textContent = `Could not load log lines (HTTP ${r.status}).`;
    } else {
      const body = await r.json();
      const lines = Array.isArray(body.lines) ? body.lines : [];
      const ol = $("d-log");
      for (const l of lines) {
        const li = document.createElement("li");
        li.className = `lvl-${l.level}`;
        const t = document.createElement("time");
        t.textContent = formatTime(l.occurredAt);
        li.append(t, `${l.level.toUpperCase()} ${l.message}`);
        ol.append(li);
        if (typeof l.seq === "number") ui.logs.afterSeq = Math.max(ui.logs.afterSeq, l.seq);
      }
      while (ol.childElementCount > 1000) ol.firstElementChild.remove();
      $("d-log-note").textContent = ol.childElementCount === 0 ? "No log lines for this node." : "";
    }
  } catch {
    if (ui.logs.key === key) $("d-log-note").textContent = "Could not load log lines (server unreachable).";
  } finally {
    ui.logs.busy = false;
  }
  if (again && ui.logs.key === key && !document.hidden) ui.logs.timer = setTimeout(pollLogs, 3000);
}

// ---------------------------------------------------------------- drawing

function schedule() {
  if (ui.scheduled) return;
  ui.scheduled = true;
  // rAF pauses in background tabs; the timeout keeps a hidden page current.
  const t = setTimeout(render, 200);
  requestAnimationFrame(() => {
    clearTimeout(t);
    render();
  });
}

function svgEl(name, attrs = {}) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function setAttr(e, name, value) {
  const v = String(value);
  if (e.getAttribute(name) !== v) e.setAttribute(name, v);
}

function setText(e, text) {
  if (e.textContent !== text) e.textContent = text;
}

function truncate(s, n) {
  return s.length > n ? `${s.slice(0, n - 1)}\u2026` : s;
}

function render() {
  if (!ui.scheduled) return;
  ui.scheduled = false;
  ui.graph = buildGraph(ui.state, flowId);
  if (ui.structureDirty || ui.lay === null) {
    ui.lay = layout(ui.graph, ui.collapsed);
    ui.structureDirty = false;
  }
  const stats = laneStats(ui.graph);
  renderHeader(stats);
  renderLanes(stats);
  renderEdges();
  renderNodes();
  applySize();
  $("empty").hidden = ui.graph.items.length > 0;
  if (ui.selected !== null && !ui.graph.itemByKey.has(ui.selected)) ui.selected = ui.detailsOpen ? ui.selected : null;
  if (ui.detailsOpen) renderDetails();
}

function applySize() {
  if (!ui.lay) return;
  const svg = $("canvas");
  const w = Math.max(ui.lay.width, 320);
  const h = Math.max(ui.lay.height, 40);
  setAttr(svg, "viewBox", `0 0 ${w} ${h}`);
  setAttr(svg, "width", Math.round(w * ui.zoom));
  setAttr(svg, "height", Math.round(h * ui.zoom));
}

function renderHeader(stats) {
  const c = stats.overall;
  const flow = ui.state.flow;
  const pill = $("flow-status");
  pill.hidden = !flow || !flow.status;
  if (flow && flow.status) setText(pill, flow.status);
  setText($("overall"), c.total ? `${progressText(c)} · ${ui.graph.lanes.length} region${ui.graph.lanes.length === 1 ? "" : "s"}` : "");
  const overall = $("overall");
  for (const s of [...STATUSES, "total"]) overall.dataset[s] = String(c[s]);
  document.title = c.total ? `${Math.floor(c.progress * 100)}% ${flowId} — OpenovaFlow` : `${flowId} — OpenovaFlow`;

  const nav = $("regions");
  const seen = new Set();
  ui.graph.lanes.forEach((lane, i) => {
    seen.add(lane.id);
    let card = ui.elements.cards.get(lane.id);
    if (!card) {
      card = document.createElement("button");
      card.type = "button";
      card.className = "region-card";
      card.dataset.lane = lane.id;
      const name = document.createElement("span");
      name.className = "name";
      const nums = document.createElement("span");
      nums.className = "nums";
      const bar = document.createElement("span");
      bar.className = "bar";
      for (const s of ["succeeded", "running", "failed"]) {
        const seg = document.createElement("span");
        seg.className = `seg-${s}`;
        bar.append(seg);
      }
      card.append(name, nums, bar);
      card.addEventListener("click", () => toggleLane(lane.id));
      ui.elements.cards.set(lane.id, card);
    }
    if (nav.children[i] !== card) nav.insertBefore(card, nav.children[i] ?? null);
    const st = stats.lanes.get(lane.id);
    const collapsed = ui.collapsed.has(lane.id);
    setAttr(card, "aria-expanded", !collapsed);
    setAttr(card, "aria-pressed", collapsed);
    setAttr(card, "title", `${collapsed ? "Expand" : "Collapse"} region ${lane.label}`);
    for (const s of [...STATUSES, "total"]) card.dataset[s] = String(st[s]);
    setText(card.children[0], `${collapsed ? "\u25B8" : "\u25BE"} ${lane.label}`);
    setText(card.children[1], `${st.succeeded}/${st.total}${st.failed ? ` · ${st.failed} failed` : ""}${st.running ? ` · ${st.running} running` : ""}`);
    const segs = card.children[2].children;
    const pct = (n) => (st.total ? `${(100 * n) / st.total}%` : "0%");
    segs[0].style.width = pct(st.succeeded);
    segs[1].style.width = pct(st.running);
    segs[2].style.width = pct(st.failed);
    setAttr(card.children[2], "role", "progressbar");
    setAttr(card.children[2], "aria-valuenow", Math.floor(st.progress * 100));
    setAttr(card.children[2], "aria-valuemin", 0);
    setAttr(card.children[2], "aria-valuemax", 100);
    setAttr(card.children[2], "aria-label", `${lane.label}: ${progressText(st)}`);
  });
  for (const [id, card] of ui.elements.cards) {
    if (!seen.has(id)) {
      card.remove();
      ui.elements.cards.delete(id);
    }
  }
}

function renderLanes(stats) {
  const parent = $("lanes");
  const seen = new Set();
  const width = Math.max(ui.lay.width, 320);
  for (const lane of ui.lay.lanes) {
    seen.add(lane.id);
    let g = ui.elements.lanes.get(lane.id);
    if (!g) {
      g = svgEl("g", { class: "lane" });
      g.dataset.lane = lane.id;
      const bg = svgEl("rect", { class: "lane-bg", x: 0, y: 0 });
      const toggle = svgEl("g", { class: "lane-toggle" });
      const title = svgEl("text", { class: "lane-title", x: 12, y: 22 });
      const sum = svgEl("text", { class: "lane-sum", y: 22 });
      toggle.append(title);
      g.append(bg, toggle, sum);
      ui.elements.lanes.set(lane.id, g);
    }
    parent.append(g); // keeps lane order
    setAttr(g, "transform", `translate(0,${lane.y})`);
    setAttr(g.children[0], "width", width);
    setAttr(g.children[0], "height", lane.height);
    const title = g.children[1].children[0];
    setText(title, `${lane.collapsed ? "\u25B8" : "\u25BE"} ${lane.label}`);
    const st = stats.lanes.get(lane.id);
    const sum = g.children[2];
    let titleWidth = 0;
    try {
      titleWidth = title.getComputedTextLength();
    } catch {
      titleWidth = 0;
    }
    setAttr(sum, "x", Math.round(12 + (titleWidth || (lane.label.length + 2) * 8) + 14));
    setText(sum, st ? progressText(st) : "");
  }
  for (const [id, g] of ui.elements.lanes) {
    if (!seen.has(id)) {
      g.remove();
      ui.elements.lanes.delete(id);
    }
  }
}

function renderEdges() {
  const parent = $("edges");
  const seen = new Set();
  for (const e of ui.lay.edges) {
    seen.add(e.key);
    let p = ui.elements.edges.get(e.key);
    if (!p) {
      p = svgEl("path", { class: `edge type-${e.type}`, "marker-end": "url(#arrow)" });
      p.dataset.from = e.from;
      p.dataset.to = e.to;
      parent.append(p);
      ui.elements.edges.set(e.key, p);
    }
    setAttr(p, "d", e.d);
    p.classList.toggle("hl", ui.selected !== null && (e.from === ui.selected || e.to === ui.selected));
  }
  for (const [k, p] of ui.elements.edges) {
    if (!seen.has(k)) {
      p.remove();
      ui.elements.edges.delete(k);
    }
  }
}

let nodeSeq = 0;

function renderNodes() {
  const parent = $("nodes");
  const seen = new Set();
  for (const it of ui.graph.items) {
    const pos = ui.lay.nodes.get(it.key);
    if (!pos) continue; // collapsed lane, or not laid out yet
    seen.add(it.key);
    let g = ui.elements.nodes.get(it.key);
    if (!g) {
      g = svgEl("g", { class: "node", role: "button", id: `node-${++nodeSeq}` });
      g.dataset.key = it.key;
      const title = svgEl("title");
      const rect = svgEl("rect", { rx: 6, ry: 6 });
      const icon = svgEl("text", { class: "icon", x: 10, y: 25 });
      const label = svgEl("text", { class: "label", x: 28, y: 17 });
      const sub = svgEl("text", { class: "sub", x: 28, y: 32 });
      g.append(title, rect, icon, label, sub);
      parent.append(g);
      ui.elements.nodes.set(it.key, g);
    }
    const n = it.node;
    g.dataset.nodeId = n.id;
    g.dataset.status = it.status;
    g.dataset.lane = it.lane;
    const cls = `node status-${it.status}${it.group ? " group" : ""}${ui.selected === it.key ? " selected" : ""}`;
    setAttr(g, "class", cls);
    setAttr(g, "transform", `translate(${pos.x},${pos.y})`);
    const [title, rect, icon, label, sub] = g.children;
    setAttr(rect, "width", pos.w);
    setAttr(rect, "height", pos.h);
    const labelText = n.label || n.id;
    const reason = n.meta && n.meta.reason !== undefined ? String(n.meta.reason) : "";
    const subText = it.status === "failed" || it.status === "running" ? reason || (n.family ?? "") : n.family ?? "";
    setText(icon, ICONS[it.status]);
    setText(label, truncate(labelText, 24));
    setText(sub, truncate(subText, 28));
    setText(title, `${labelText} — ${it.status}${reason ? ` (${reason})` : ""}`);
    setAttr(g, "aria-label", `${labelText}, ${it.status}${reason ? `, ${reason}` : ""}`);
    const prev = ui.lastStatus.get(it.key);
    if (prev !== undefined && prev !== "failed" && it.status === "failed") announce(`${labelText} failed${reason ? `: ${reason}` : ""}`);
    ui.lastStatus.set(it.key, it.status);
  }
  for (const [k, g] of ui.elements.nodes) {
    if (!seen.has(k)) {
      g.remove();
      ui.elements.nodes.delete(k);
    }
  }
  for (const k of [...ui.lastStatus.keys()]) if (!ui.graph.itemByKey.has(k)) ui.lastStatus.delete(k);
}

// ---------------------------------------------------------------- go

if (flowId === null) {
  showOpenForm();
} else {
  start();
}
