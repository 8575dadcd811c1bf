import { test } from "node:test";
import assert from "node:assert/strict";
import { applyMessage, emptyState, nodeKey } from "../../assets/fold.mjs";
import { buildGraph, laneStats, nodeDetails, normaliseStatus, progressText, formatDuration, formatTime, NO_REGION } from "../../assets/model.mjs";
import { regionFlow } from "./helpers.mjs";

test("statuses: the four canonical ones; anything else is pending", () => {
  for (const s of ["pending", "running", "succeeded", "failed"]) assert.equal(normaliseStatus(s), s);
  for (const s of ["", "open", "Succeeded", "weird", undefined, null]) assert.equal(normaliseStatus(s), "pending");
});

test("one lane per region group node; group nodes are lanes, not items", () => {
  const s = regionFlow({
    hel1: [["bp-cilium", "succeeded"]],
    fsn1: [["bp-cilium", "succeeded"], ["bp-cert-manager", "running", ["bp-cilium"]]],
  });
  const g = buildGraph(s, "dep");
  assert.deepEqual(g.lanes.map((l) => l.id), ["fsn1", "hel1"]);
  assert.deepEqual(g.items.map((i) => `${i.lane}|${i.id}`).sort(), ["fsn1|fsn1:bp-cert-manager", "fsn1|fsn1:bp-cilium", "hel1|hel1:bp-cilium"]);
  assert.deepEqual(g.edges.map((e) => e.type), ["finish-to-start"]);
});

test("lanes from region field without group node; no region goes last", () => {
  const s = emptyState();
  applyMessage(s, { type: "upsert-nodes", nodes: [{ id: "x", region: "b" }, { id: "y" }, { id: "z", region: "a" }] }, "f");
  const g = buildGraph(s, "f");
  assert.deepEqual(g.lanes.map((l) => l.id), ["a", "b", NO_REGION]);
  assert.equal(g.lanes[2].label, "(no region)");
});

test("contains beats the region field; nested groups resolve to the top lane", () => {
  const s = emptyState();
  applyMessage(s, { type: "upsert-nodes", nodes: [
    { id: "r1", region: "r1", meta: { isGroup: true } },
    { id: "sb", label: "sandbox", meta: { kind: "Sandbox" } },
    { id: "pod", label: "pod", region: "elsewhere" },
  ] }, "f");
  applyMessage(s, { type: "upsert-rels", relationships: [
    { fromId: "sb", toId: "r1", type: "contains" },
    { fromId: "pod", toId: "sb", type: "contains" },
  ] }, "f");
  const g = buildGraph(s, "f");
  assert.deepEqual(g.lanes.map((l) => l.id), ["r1"]);
  const byId = Object.fromEntries(g.items.map((i) => [i.id, i]));
  assert.equal(byId.pod.lane, "r1");
  assert.equal(byId.sb.group, true);
});

test("contains cycles do not hang", () => {
  const s = emptyState();
  applyMessage(s, { type: "upsert-nodes", nodes: [{ id: "a" }, { id: "b" }] }, "f");
  applyMessage(s, { type: "upsert-rels", relationships: [{ fromId: "a", toId: "b", type: "contains" }, { fromId: "b", toId: "a", type: "contains" }] }, "f");
  const g = buildGraph(s, "f");
  assert.equal(g.items.length, 2);
});

test("dangling edges and contains edges are not drawn; cross-flow duplicate ids prefer the page's flow", () => {
  const s = emptyState();
  applyMessage(s, { type: "upsert-nodes", nodes: [{ id: "a" }, { id: "b" }, { id: "b", flowId: "other", label: "theirs" }] }, "f");
  applyMessage(s, { type: "upsert-rels", relationships: [
    { fromId: "a", toId: "b", type: "finish-to-start" },
    { fromId: "a", toId: "ghost", type: "finish-to-start" },
    { fromId: "a", toId: "a", type: "triggers" },
  ] }, "f");
  const g = buildGraph(s, "f");
  assert.deepEqual(g.items.map((i) => i.key).sort(), [nodeKey("f", "a"), nodeKey("f", "b")]);
  assert.equal(g.edges.length, 1);
  assert.equal(g.edges[0].to, nodeKey("f", "b"));
});

test("counts and progress per lane and overall", () => {
  const s = regionFlow({
    fsn1: [["a", "succeeded"], ["b", "failed"], ["c", "running"], ["d", "weird"]],
    hel1: [["a", "succeeded"], ["b", "succeeded"]],
  });
  const st = laneStats(buildGraph(s, "dep"));
  assert.deepEqual({ ...st.lanes.get("fsn1") }, { total: 4, pending: 1, running: 1, succeeded: 1, failed: 1, progress: 0.25, done: false });
  assert.equal(st.lanes.get("hel1").done, true);
  assert.equal(st.lanes.get("hel1").progress, 1);
  assert.equal(st.overall.total, 6);
  assert.equal(progressText(st.overall), "3/6 succeeded (50%), 1 running, 1 failed");
});

test("details: reason, message, chart, timings, waiting-for", () => {
  const s = regionFlow({
    fsn1: [
      ["bp-cilium", "succeeded"],
      ["bp-cert-manager", "running"],
      ["bp-app", "pending", ["bp-cilium", "bp-cert-manager", "bp-missing"], { reason: "DependencyNotReady", message: "dependency 'flux-system/bp-cert-manager' is not ready", chart: "app", chartVersion: "1.2.3", namespace: "flux-system" }],
    ],
  });
  applyMessage(s, { type: "upsert-nodes", nodes: [{ id: "fsn1:bp-cert-manager", label: "bp-cert-manager", status: "running", region: "fsn1", startedAt: 1000 }] }, "dep");
  const d = nodeDetails(s, "dep", nodeKey("dep", "fsn1:bp-app"), 5000);
  assert.equal(d.status, "pending");
  assert.equal(d.reason, "DependencyNotReady");
  assert.match(d.message, /not ready/);
  assert.equal(d.chart, "app@1.2.3");
  assert.equal(d.namespace, "flux-system");
  assert.deepEqual(d.waitingFor.map((w) => `${w.id}:${w.status}`), ["fsn1:bp-cert-manager:running", "fsn1:bp-missing:null"]);
  assert.equal(d.dependsOn.length, 3);
  const cm = nodeDetails(s, "dep", nodeKey("dep", "fsn1:bp-cert-manager"), 5000);
  assert.equal(cm.durationMs, 4000);
  assert.deepEqual(cm.dependents.map((x) => x.id), ["fsn1:bp-app"]);
  assert.equal(nodeDetails(s, "dep", nodeKey("dep", "nope"), 0), null);
});

test("finished nodes: duration from startedAt to endedAt", () => {
  const s = emptyState();
  applyMessage(s, { type: "upsert-nodes", nodes: [{ id: "a", status: "succeeded", startedAt: 1000, endedAt: 62_000 }] }, "f");
  const d = nodeDetails(s, "f", nodeKey("f", "a"), 99_999_999);
  assert.equal(d.durationMs, 61_000);
  assert.equal(formatDuration(d.durationMs), "1m 1s");
});

test("formatting", () => {
  assert.equal(formatDuration(350), "350ms");
  assert.equal(formatDuration(4200), "4.2s");
  assert.equal(formatDuration(3_723_000), "1h 2m 3s");
  assert.equal(formatDuration(null), "");
  assert.equal(formatTime(0), "1970-01-01T00:00:00Z");
  assert.equal(formatTime(1715680800123), "2024-05-14T10:00:00.123Z");
  assert.equal(formatTime(undefined), "");
});
