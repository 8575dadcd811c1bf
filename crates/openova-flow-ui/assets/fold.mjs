// The client-side fold: contract.md §7, exactly. Pure functions, no DOM.
//
// State = the optional flow object, nodes by (flowId, id) and relationships by
// (fromId, toId, type). Every message replaces whole objects; delete-nodes
// removes an id under every flowId and prunes every relationship touching it.

/** Separator for composite keys: NUL never occurs in ids (contract.md §5.4). */
const SEP = "\u0000";

/** The six message variants (contract.md §2); SSE event names are the same. */
export const MESSAGE_TYPES = Object.freeze([
  "snapshot",
  "upsert-flow",
  "upsert-nodes",
  "upsert-rels",
  "delete-nodes",
  "delete-rels",
]);

export function nodeKey(flowId, id) {
  return `${flowId}${SEP}${id}`;
}

export function relKey(fromId, toId, type) {
  return `${fromId}${SEP}${toId}${SEP}${type}`;
}

/** A fresh, empty flow state. */
export function emptyState() {
  return { flow: null, nodes: new Map(), rels: new Map() };
}

function asArray(v) {
  return Array.isArray(v) ? v : [];
}

/** Stamps a node without flowId with the URL flowId (contract.md §7.1). */
function stamped(node, urlFlowId) {
  if (node.flowId === undefined || node.flowId === null || node.flowId === "") {
    return { ...node, flowId: urlFlowId };
  }
  return node;
}

function putNode(state, node, urlFlowId) {
  if (!node || typeof node.id !== "string" || node.id === "") return;
  const n = stamped(node, urlFlowId);
  state.nodes.set(nodeKey(n.flowId, n.id), n);
}

function putRel(state, rel) {
  if (!rel || typeof rel.fromId !== "string" || typeof rel.toId !== "string") return;
  state.rels.set(relKey(rel.fromId, rel.toId, rel.type), rel);
}

/**
 * Applies one message to `state` (mutating it) and reports what changed:
 * `structure` is true when the set of nodes or relationships (or a node's
 * region) may have changed, i.e. the layout must be recomputed.
 * Unknown message types change nothing.
 */
export function applyMessage(state, msg, urlFlowId) {
  const result = { applied: true, structure: false };
  if (!msg || typeof msg !== "object") return { applied: false, structure: false };
  switch (msg.type) {
    case "snapshot": {
      state.flow = msg.flow ?? null;
      state.nodes = new Map();
      state.rels = new Map();
      for (const n of asArray(msg.nodes)) putNode(state, n, urlFlowId);
      for (const r of asArray(msg.relationships)) putRel(state, r);
      result.structure = true;
      break;
    }
    case "upsert-flow":
      state.flow = msg.flow ?? null;
      break;
    case "upsert-nodes":
      for (const n of asArray(msg.nodes)) {
        if (!n || typeof n.id !== "string") continue;
        const key = nodeKey(stamped(n, urlFlowId).flowId, n.id);
        const before = state.nodes.get(key);
        if (!before || before.region !== n.region || before.label !== n.label || groupish(before) !== groupish(n) || sortKey(before) !== sortKey(n)) {
          result.structure = true;
        }
        putNode(state, n, urlFlowId);
      }
      break;
    case "upsert-rels":
      for (const r of asArray(msg.relationships)) putRel(state, r);
      result.structure = true;
      break;
    case "delete-nodes": {
      const ids = new Set(asArray(msg.ids));
      for (const [key, n] of state.nodes) {
        if (ids.has(n.id)) state.nodes.delete(key);
      }
      for (const [key, r] of state.rels) {
        if (ids.has(r.fromId) || ids.has(r.toId)) state.rels.delete(key);
      }
      result.structure = true;
      break;
    }
    case "delete-rels":
      for (const p of asArray(msg.pairs)) {
        if (p) state.rels.delete(relKey(p.fromId, p.toId, p.type));
      }
      result.structure = true;
      break;
    default:
      return { applied: false, structure: false };
  }
  return result;
}

function sortKey(n) {
  return n && n.meta ? JSON.stringify(n.meta.sortKey ?? null) : "null";
}

function groupish(n) {
  return Boolean(n && n.meta && n.meta.isGroup === true);
}

/**
 * The state as a server snapshot (contract.md §6.3): nodes ascending by
 * (flowId, id), relationships by (fromId, toId, type), bytewise; the flow
 * synthesised as {id, status "open", startedAt 0} when none was posted.
 */
export function toSnapshot(state, urlFlowId) {
  const byBytes = (a, b) => compareBytes(a[0], b[0]);
  const nodes = [...state.nodes.entries()].sort(byBytes).map((e) => e[1]);
  const relationships = [...state.rels.entries()].sort(byBytes).map((e) => e[1]);
  const flow = state.flow ?? { id: urlFlowId, status: "open", startedAt: 0 };
  return { type: "snapshot", flow, nodes, relationships };
}

const encoder = new TextEncoder();

/** Bytewise (UTF-8) comparison, the server's ordering. */
export function compareBytes(a, b) {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}
