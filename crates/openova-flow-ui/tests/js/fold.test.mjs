// contract.md §7: the client fold, case by case.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyMessage, emptyState, toSnapshot, compareBytes, nodeKey } from "../../assets/fold.mjs";

const fold = (msgs, flowId = "f1") => {
  const s = emptyState();
  for (const m of msgs) applyMessage(s, m, flowId);
  return s;
};
const ids = (s) => toSnapshot(s, "f1").nodes.map((n) => `${n.flowId}/${n.id}`);
const rels = (s) => toSnapshot(s, "f1").relationships.map((r) => `${r.fromId}>${r.toId}:${r.type}`);

test("snapshot replaces everything", () => {
  const s = fold([
    { type: "upsert-nodes", nodes: [{ id: "old", label: "x", status: "running" }] },
    { type: "upsert-rels", relationships: [{ fromId: "old", toId: "b", type: "contains" }] },
    { type: "snapshot", flow: { id: "f1", status: "running", startedAt: 1 }, nodes: [{ id: "n1", flowId: "f1", label: "a", status: "succeeded" }], relationships: [] },
  ]);
  assert.deepEqual(ids(s), ["f1/n1"]);
  assert.deepEqual(rels(s), []);
  assert.equal(s.flow.status, "running");
});

test("snapshot without nodes/relationships keys is an empty state", () => {
  const s = fold([{ type: "upsert-nodes", nodes: [{ id: "a" }] }, { type: "snapshot", flow: { id: "f1" } }]);
  assert.equal(s.nodes.size, 0);
  assert.equal(s.rels.size, 0);
});

test("upsert-flow replaces the whole flow object (no merge)", () => {
  const s = fold([
    { type: "upsert-flow", flow: { id: "f1", status: "running", startedAt: 1, meta: { a: 1 } } },
    { type: "upsert-flow", flow: { id: "f1", status: "succeeded", startedAt: 1 } },
  ]);
  assert.deepEqual(s.flow, { id: "f1", status: "succeeded", startedAt: 1 });
});

test("upsert-nodes replaces whole nodes; later elements win", () => {
  const s = fold([
    { type: "upsert-nodes", nodes: [{ id: "a", label: "A", status: "running", meta: { reason: "x" } }] },
    { type: "upsert-nodes", nodes: [{ id: "a", label: "A1", status: "pending" }, { id: "a", label: "A2", status: "failed" }] },
  ]);
  assert.deepEqual([...s.nodes.values()], [{ id: "a", flowId: "f1", label: "A2", status: "failed" }]);
});

test("nodes without flowId are stamped with the URL flowId; others keep theirs", () => {
  const s = fold([{ type: "upsert-nodes", nodes: [{ id: "x" }, { id: "x", flowId: "other" }, { id: "y", flowId: "" }] }]);
  assert.deepEqual(ids(s), ["f1/x", "f1/y", "other/x"]);
});

test("delete-nodes removes an id under every flowId and prunes incident edges", () => {
  const s = fold([
    { type: "upsert-nodes", nodes: [{ id: "a" }, { id: "b" }, { id: "c" }, { id: "b", flowId: "other" }] },
    {
      type: "upsert-rels",
      relationships: [
        { fromId: "a", toId: "b", type: "finish-to-start" },
        { fromId: "b", toId: "c", type: "finish-to-start" },
        { fromId: "a", toId: "c", type: "finish-to-start" },
        { fromId: "ghost", toId: "b", type: "contains" },
      ],
    },
    { type: "delete-nodes", ids: ["b"] },
  ]);
  assert.deepEqual(ids(s), ["f1/a", "f1/c"]);
  assert.deepEqual(rels(s), ["a>c:finish-to-start"]);
});

test("delete-nodes of an unknown id also prunes edges to it", () => {
  const s = fold([
    { type: "upsert-rels", relationships: [{ fromId: "a", toId: "never", type: "triggers" }] },
    { type: "delete-nodes", ids: ["never"] },
  ]);
  assert.equal(s.rels.size, 0);
});

test("relationships are keyed by (fromId, toId, type); flow ids are payload", () => {
  const s = fold([
    {
      type: "upsert-rels",
      relationships: [
        { fromId: "a", toId: "b", type: "finish-to-start", condition: "on-success" },
        { fromId: "a", toId: "b", type: "triggers" },
        { fromId: "a", toId: "b", type: "finish-to-start", toFlowId: "sister", lag: 3 },
      ],
    },
  ]);
  assert.deepEqual(rels(s), ["a>b:finish-to-start", "a>b:triggers"]);
  assert.deepEqual(toSnapshot(s, "f1").relationships[0], { fromId: "a", toId: "b", type: "finish-to-start", toFlowId: "sister", lag: 3 });
});

test("delete-rels removes by key; missing keys are a no-op", () => {
  const s = fold([
    { type: "upsert-rels", relationships: [{ fromId: "a", toId: "b", type: "contains" }, { fromId: "a", toId: "b", type: "triggers" }] },
    { type: "delete-rels", pairs: [{ fromId: "a", toId: "b", type: "contains" }, { fromId: "x", toId: "y", type: "contains" }] },
  ]);
  assert.deepEqual(rels(s), ["a>b:triggers"]);
});

test("unknown types and heartbeats change nothing", () => {
  const s = fold([{ type: "upsert-nodes", nodes: [{ id: "a" }] }]);
  assert.equal(applyMessage(s, { type: "heartbeat" }, "f1").applied, false);
  assert.equal(applyMessage(s, null, "f1").applied, false);
  assert.equal(s.nodes.size, 1);
});

test("structure flag: status-only upserts keep the layout", () => {
  const s = fold([{ type: "upsert-nodes", nodes: [{ id: "a", label: "A", status: "pending", region: "r" }] }]);
  assert.equal(applyMessage(s, { type: "upsert-nodes", nodes: [{ id: "a", label: "A", status: "running", region: "r" }] }, "f1").structure, false);
  assert.equal(applyMessage(s, { type: "upsert-nodes", nodes: [{ id: "a", label: "A", status: "running", region: "q" }] }, "f1").structure, true);
  assert.equal(applyMessage(s, { type: "upsert-nodes", nodes: [{ id: "b" }] }, "f1").structure, true);
  assert.equal(applyMessage(s, { type: "upsert-flow", flow: { id: "f1" } }, "f1").structure, false);
});

test("snapshot output: synthesised flow and bytewise order", () => {
  const s = fold([{ type: "upsert-nodes", nodes: [{ id: "é" }, { id: "z" }, { id: "Z" }, { id: "a", flowId: "e" }] }]);
  const snap = toSnapshot(s, "f1");
  assert.deepEqual(snap.flow, { id: "f1", status: "open", startedAt: 0 });
  assert.deepEqual(snap.nodes.map((n) => `${n.flowId}/${n.id}`), ["e/a", "f1/Z", "f1/z", "f1/é"]);
});

test("compareBytes is UTF-8 bytewise, not UTF-16", () => {
  // U+FF61 sorts after U+1F600 in UTF-16 code units but before it in UTF-8.
  assert.ok(compareBytes("\uFF61", "\u{1F600}") < 0);
  assert.ok(compareBytes("a", "ab") < 0);
  assert.equal(compareBytes("x", "x"), 0);
  assert.notEqual(nodeKey("a", "b"), nodeKey("a\u0000b", ""));
});
