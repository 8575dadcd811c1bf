import { test } from "node:test";
import assert from "node:assert/strict";
import { nodeKey } from "../../assets/fold.mjs";
import { buildGraph } from "../../assets/model.mjs";
import { layout, laneDepths, neighbour, GEOMETRY } from "../../assets/layout.mjs";
import { regionFlow } from "./helpers.mjs";

const e = (from, to, type = "finish-to-start") => ({ from, to, type });

test("depth = longest path over finish-to-start edges", () => {
  // a -> b -> c, a -> c, d alone, e after c
  const d = laneDepths(["a", "b", "c", "d", "e"], [e("a", "b"), e("b", "c"), e("a", "c"), e("c", "e")]);
  assert.deepEqual(Object.fromEntries(d), { a: 0, b: 1, c: 2, d: 0, e: 3 });
});

test("other edge types and edges leaving the lane do not count", () => {
  const d = laneDepths(["a", "b"], [e("a", "b", "triggers"), e("a", "b", "start-to-start"), e("x", "b")]);
  assert.deepEqual(Object.fromEntries(d), { a: 0, b: 0 });
});

test("cycles are broken deterministically and every node is placed", () => {
  const d = laneDepths(["a", "b", "c", "z"], [e("a", "b"), e("b", "c"), e("c", "a"), e("c", "z")]);
  assert.equal(d.size, 4);
  assert.deepEqual(Object.fromEntries(d), { a: 0, b: 1, c: 2, z: 3 });
  const again = laneDepths(["c", "b", "a", "z"], [e("c", "a"), e("b", "c"), e("a", "b"), e("c", "z")]);
  assert.deepEqual(Object.fromEntries(again), Object.fromEntries(d));
});

test("lanes stack vertically; columns follow depth; regions are independent", () => {
  const s = regionFlow({
    fsn1: [["cilium", "succeeded"], ["cert", "running", ["cilium"]], ["app", "pending", ["cert"]]],
    hel1: [["cilium", "running"], ["app", "pending", ["cilium"]]],
  });
  const lay = layout(buildGraph(s, "dep"));
  const at = (id) => lay.nodes.get(nodeKey("dep", id));
  assert.deepEqual(lay.lanes.map((l) => l.id), ["fsn1", "hel1"]);
  assert.deepEqual([at("fsn1:cilium").depth, at("fsn1:cert").depth, at("fsn1:app").depth], [0, 1, 2]);
  assert.deepEqual([at("hel1:cilium").depth, at("hel1:app").depth], [0, 1]);
  assert.ok(at("fsn1:cert").x > at("fsn1:cilium").x);
  assert.ok(at("hel1:cilium").y > at("fsn1:app").y, "second lane below the first");
  assert.equal(lay.lanes[1].y, lay.lanes[0].height + GEOMETRY.laneGap);
  assert.equal(lay.edges.length, 3);
  assert.match(lay.edges[0].d, /^M[\d.]+,[\d.]+ C/);
  assert.equal(lay.width, GEOMETRY.left * 2 + 3 * GEOMETRY.nodeW + 2 * GEOMETRY.colGap);
});

test("collapsed lanes keep a header only; their nodes and edges vanish", () => {
  const s = regionFlow({ fsn1: [["a", "running"], ["b", "running", ["a"]]], hel1: [["a", "running"]] });
  const lay = layout(buildGraph(s, "dep"), new Set(["fsn1"]));
  assert.equal(lay.lanes[0].collapsed, true);
  assert.equal(lay.lanes[0].height, GEOMETRY.collapsedHeight);
  assert.equal(lay.nodes.has(nodeKey("dep", "fsn1:a")), false);
  assert.equal(lay.nodes.has(nodeKey("dep", "hel1:a")), true);
  assert.equal(lay.edges.length, 0);
});

test("rows follow predecessors (barycentre) so edges stay short", () => {
  const s = regionFlow({ r: [["a", "running"], ["b", "running"], ["zz-after-b", "pending", ["b"]], ["aa-after-a", "pending", ["a"]]] });
  const lay = layout(buildGraph(s, "dep"));
  assert.equal(lay.nodes.get(nodeKey("dep", "r:aa-after-a")).row, 0);
  assert.equal(lay.nodes.get(nodeKey("dep", "r:zz-after-b")).row, 1);
});

test("500 nodes in 4 regions: every node laid out, no overlaps", () => {
  const regions = {};
  for (const r of ["fsn1", "hel1", "nbg1", "ash"]) {
    regions[r] = [];
    for (let i = 0; i < 125; i++) {
      const deps = i === 0 ? [] : [`hr-${Math.floor((i - 1) / 3)}`];
      regions[r].push([`hr-${i}`, ["pending", "running", "succeeded", "failed"][i % 4], deps]);
    }
  }
  const s = regionFlow(regions);
  const lay = layout(buildGraph(s, "dep"));
  assert.equal(lay.nodes.size, 500);
  const seen = new Set();
  for (const p of lay.nodes.values()) {
    const k = `${p.x},${p.y}`;
    assert.ok(!seen.has(k), `overlap at ${k}`);
    seen.add(k);
  }
  assert.equal(lay.edges.length, 4 * 124);
});

test("keyboard neighbours move across columns, rows and lanes", () => {
  const s = regionFlow({ fsn1: [["a", "running"], ["b", "running"], ["c", "running", ["a"]]], hel1: [["x", "running"]] });
  const lay = layout(buildGraph(s, "dep"));
  const k = (id) => nodeKey("dep", id);
  assert.equal(neighbour(lay, null, "right"), k("fsn1:a"));
  assert.equal(neighbour(lay, k("fsn1:a"), "right"), k("fsn1:c"));
  assert.equal(neighbour(lay, k("fsn1:c"), "left"), k("fsn1:a"));
  assert.equal(neighbour(lay, k("fsn1:a"), "down"), k("fsn1:b"));
  assert.equal(neighbour(lay, k("fsn1:b"), "down"), k("hel1:x"));
  assert.equal(neighbour(lay, k("hel1:x"), "up"), k("fsn1:b"));
  assert.equal(neighbour(lay, k("fsn1:a"), "up"), k("fsn1:a"));
  assert.equal(neighbour(lay, k("fsn1:a"), "left"), k("fsn1:a"));
});
