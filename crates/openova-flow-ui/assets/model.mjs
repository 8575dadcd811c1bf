// From the folded state to what the page shows: lanes (regions), laid-out
// items, edges, counts and node details. Pure functions, no DOM.

import { nodeKey } from "./fold.mjs";

/** The four statuses the page draws; anything else is drawn as pending. */
export const STATUSES = Object.freeze(["pending", "running", "succeeded", "failed"]);

export function normaliseStatus(status) {
  return STATUSES.includes(status) ? status : "pending";
}

/** Lane id of nodes that belong to no region. */
export const NO_REGION = "";

/** Relationship types that order work in time (drawn as edges). */
export const TEMPORAL_TYPES = Object.freeze([
  "finish-to-start",
  "start-to-start",
  "finish-to-finish",
  "start-to-finish",
  "triggers",
]);

function isGroupNode(node, containerIds) {
  return (node.meta && node.meta.isGroup === true) || containerIds.has(node.id);
}

/**
 * Resolves node ids to node keys: the node under the page's flowId wins over
 * a cross-flow node with the same id (edges carry ids only).
 */
function idIndex(state, flowId) {
  const byId = new Map();
  for (const [key, n] of state.nodes) {
    const prev = byId.get(n.id);
    if (prev === undefined || n.flowId === flowId) byId.set(n.id, key);
  }
  return byId;
}

/**
 * Builds the drawable graph:
 * - `lanes`: one per top-level group node (region) plus one per `region`
 *   value of ungrouped nodes, sorted by meta.sortKey, then label;
 *   nodes without any region go to the lane `NO_REGION`, last.
 * - `items`: every non-group node (and nested group) with its lane;
 * - `edges`: temporal relationships between two existing items.
 */
export function buildGraph(state, flowId) {
  const byId = idIndex(state, flowId);
  const containerIds = new Set();
  const parentOf = new Map(); // child id -> container id (first by key order)
  const rels = [...state.rels.values()];
  for (const r of rels) {
    if (r.type !== "contains") continue;
    if (!byId.has(r.toId)) continue;
    containerIds.add(r.toId);
    if (!parentOf.has(r.fromId)) parentOf.set(r.fromId, r.toId);
  }
  // Top-level group of an id: walk `contains` upwards (cycle-safe).
  const topGroup = (id) => {
    let cur = id;
    let top = null;
    const seen = new Set();
    while (parentOf.has(cur) && !seen.has(cur)) {
      seen.add(cur);
      cur = parentOf.get(cur);
      top = cur;
    }
    return top;
  };

  const lanes = new Map();
  const laneFor = (laneId, groupNode) => {
    let lane = lanes.get(laneId);
    if (!lane) {
      lane = { id: laneId, label: laneId === NO_REGION ? "(no region)" : laneId, group: null, sortKey: null };
      lanes.set(laneId, lane);
    }
    if (groupNode && !lane.group) {
      lane.group = groupNode;
      lane.label = groupNode.label || laneId;
      const sk = groupNode.meta && groupNode.meta.sortKey;
      if (sk !== undefined && sk !== null) lane.sortKey = String(sk);
    }
    return lane;
  };

  const items = [];
  const itemByKey = new Map();
  for (const [key, n] of state.nodes) {
    if (byId.get(n.id) !== key) continue; // shadowed cross-flow duplicate
    const group = isGroupNode(n, containerIds);
    const top = topGroup(n.id);
    if (group && top === null) {
      laneFor(n.region || n.id, n);
      continue;
    }
    let laneId;
    if (top !== null) {
      const g = state.nodes.get(byId.get(top));
      laneId = g.region || g.id;
      laneFor(laneId, g);
    } else {
      laneId = n.region || NO_REGION;
      laneFor(laneId, null);
    }
    const item = { key, id: n.id, node: n, lane: laneId, group, status: normaliseStatus(n.status) };
    items.push(item);
    itemByKey.set(key, item);
  }

  const edges = [];
  for (const r of rels) {
    if (!TEMPORAL_TYPES.includes(r.type)) continue;
    const from = byId.get(r.fromId);
    const to = byId.get(r.toId);
    if (from === undefined || to === undefined || from === to) continue;
    if (!itemByKey.has(from) || !itemByKey.has(to)) continue;
    edges.push({ key: `${r.fromId}\u0000${r.toId}\u0000${r.type}`, from, to, type: r.type, condition: r.condition ?? null });
  }

  const laneList = [...lanes.values()].sort(compareLanes);
  return { lanes: laneList, items, edges, itemByKey };
}

function compareLanes(a, b) {
  if ((a.id === NO_REGION) !== (b.id === NO_REGION)) return a.id === NO_REGION ? 1 : -1;
  const ka = a.sortKey ?? a.label;
  const kb = b.sortKey ?? b.label;
  if (ka !== kb) return ka < kb ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Counts per status and progress for a list of items. */
export function countStatuses(items) {
  const c = { total: 0, pending: 0, running: 0, succeeded: 0, failed: 0 };
  for (const it of items) {
    if (it.group) continue;
    c.total += 1;
    c[it.status] += 1;
  }
  c.progress = c.total === 0 ? 0 : c.succeeded / c.total;
  c.done = c.total > 0 && c.pending === 0 && c.running === 0;
  return c;
}

/** Per-lane counts (a Map lane id -> counts) and the overall counts. */
export function laneStats(graph) {
  const per = new Map(graph.lanes.map((l) => [l.id, []]));
  for (const it of graph.items) {
    if (!per.has(it.lane)) per.set(it.lane, []);
    per.get(it.lane).push(it);
  }
  const lanes = new Map();
  for (const [id, items] of per) lanes.set(id, countStatuses(items));
  return { lanes, overall: countStatuses(graph.items) };
}

/** "3 of 10 done" style summary used in headers and the title. */
export function progressText(c) {
  const pct = Math.floor(c.progress * 100);
  let s = `${c.succeeded}/${c.total} succeeded (${pct}%)`;
  if (c.running) s += `, ${c.running} running`;
  if (c.failed) s += `, ${c.failed} failed`;
  return s;
}

/**
 * What the side panel shows for one node: identity, status, reason, message,
 * chart, timings, and the finish-to-start dependencies it is waiting for
 * (those not succeeded, including ones never reported) and its dependents.
 */
export function nodeDetails(state, flowId, key, nowMs) {
  const n = state.nodes.get(key);
  if (!n) return null;
  const byId = idIndex(state, flowId);
  const meta = n.meta ?? {};
  const dependsOn = [];
  const dependents = [];
  for (const r of state.rels.values()) {
    if (r.type !== "finish-to-start") continue;
    if (r.toId === n.id) {
      const dk = byId.get(r.fromId);
      const dn = dk === undefined ? null : state.nodes.get(dk);
      dependsOn.push({
        id: r.fromId,
        key: dk ?? null,
        label: dn ? dn.label || dn.id : r.fromId,
        status: dn ? normaliseStatus(dn.status) : null,
        condition: r.condition ?? "on-success",
      });
    } else if (r.fromId === n.id) {
      const dk = byId.get(r.toId);
      const dn = dk === undefined ? null : state.nodes.get(dk);
      dependents.push({
        id: r.toId,
        key: dk ?? null,
        label: dn ? dn.label || dn.id : r.toId,
        status: dn ? normaliseStatus(dn.status) : null,
      });
    }
  }
  const waitingFor = dependsOn.filter((d) => d.status !== "succeeded");
  const chart = meta.chart === undefined ? null : String(meta.chart) + (meta.chartVersion === undefined ? "" : `@${meta.chartVersion}`);
  const started = typeof n.startedAt === "number" ? n.startedAt : null;
  const ended = typeof n.endedAt === "number" ? n.endedAt : null;
  let durationMs = null;
  if (started !== null && ended !== null) durationMs = Math.max(0, ended - started);
  else if (started !== null && typeof nowMs === "number" && normaliseStatus(n.status) === "running") {
    durationMs = Math.max(0, nowMs - started);
  }
  return {
    key,
    id: n.id,
    flowId: n.flowId,
    label: n.label || n.id,
    status: normaliseStatus(n.status),
    rawStatus: n.status ?? "",
    region: n.region ?? null,
    family: n.family ?? null,
    namespace: meta.namespace === undefined ? null : String(meta.namespace),
    reason: meta.reason === undefined ? null : String(meta.reason),
    message: meta.message === undefined ? null : String(meta.message),
    chart,
    suspended: meta.suspended === true,
    startedAt: started,
    endedAt: ended,
    durationMs,
    dependsOn,
    dependents,
    waitingFor,
  };
}

/** `1h 2m 3s` / `4.2s` / `350ms`. */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  let s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return [h ? `${h}h` : "", h || m ? `${m}m` : "", `${s}s`].filter(Boolean).join(" ");
}

/** ISO 8601 UTC text of a unix-ms timestamp, or "" when absent. */
export function formatTime(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "";
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString().replace(".000Z", "Z");
}

export { nodeKey };
