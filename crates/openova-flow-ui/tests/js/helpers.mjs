// Builders for test flows shaped like the emitter's output (emitter.md §3–§5).
import { applyMessage, emptyState } from "../../assets/fold.mjs";

export function regionFlow(regions, { flowId = "dep" } = {}) {
  const s = emptyState();
  const nodes = [];
  const relationships = [];
  for (const [region, releases] of Object.entries(regions)) {
    nodes.push({ id: region, flowId, label: region, status: "running", family: "region", region, meta: { isGroup: true, layout: "lane-vertical" } });
    for (const [name, status, deps = [], meta] of releases) {
      const id = `${region}:${name}`;
      nodes.push({ id, flowId, label: name, status, region, ...(meta ? { meta } : {}) });
      relationships.push({ fromId: id, toId: region, type: "contains", condition: "always" });
      for (const d of deps) relationships.push({ fromId: `${region}:${d}`, toId: id, type: "finish-to-start", condition: "on-success" });
    }
  }
  applyMessage(s, { type: "snapshot", flow: { id: flowId, status: "running", startedAt: 1 }, nodes, relationships }, flowId);
  return s;
}
