// Layout: one horizontal lane per region; inside a lane, columns by
// dependency depth = the longest path over finish-to-start edges between
// nodes of that lane; rows ordered to keep edges short. Pure functions.

export const GEOMETRY = Object.freeze({
  laneHeader: 34, // height of a lane's header strip
  lanePad: 12, // vertical padding inside a lane, below the header
  laneGap: 10, // space between lanes
  left: 16, // left margin of the first column
  nodeW: 196,
  nodeH: 40,
  colGap: 56,
  rowGap: 12,
  collapsedHeight: 34,
});

/**
 * Depth of every item of one lane: longest path over finish-to-start edges
 * whose two ends are in the lane. Cycles are broken deterministically (the
 * smallest remaining key is placed after its already placed predecessors).
 * Returns Map key -> depth (0-based).
 */
export function laneDepths(keys, edges) {
  const inLane = new Set(keys);
  const preds = new Map(keys.map((k) => [k, []]));
  const succs = new Map(keys.map((k) => [k, []]));
  for (const e of edges) {
    if (e.type !== "finish-to-start") continue;
    if (!inLane.has(e.from) || !inLane.has(e.to)) continue;
    preds.get(e.to).push(e.from);
    succs.get(e.from).push(e.to);
  }
  const indeg = new Map(keys.map((k) => [k, preds.get(k).length]));
  const depth = new Map();
  const sorted = [...keys].sort();
  const ready = sorted.filter((k) => indeg.get(k) === 0);
  let head = 0; // queue read position (no O(n) shift)
  let placed = 0;
  let cursor = 0; // into `sorted`, for cycle breaking
  const place = (k) => {
    let d = 0;
    for (const p of preds.get(k)) {
      if (depth.has(p)) d = Math.max(d, depth.get(p) + 1);
    }
    depth.set(k, d);
    placed += 1;
    for (const s of succs.get(k)) {
      indeg.set(s, indeg.get(s) - 1);
      if (indeg.get(s) === 0 && !depth.has(s)) ready.push(s);
    }
  };
  while (placed < keys.length) {
    if (head < ready.length) {
      const k = ready[head++];
      if (!depth.has(k)) place(k);
      continue;
    }
    // Only cycles remain: place the smallest unplaced key.
    while (cursor < sorted.length && depth.has(sorted[cursor])) cursor += 1;
    if (cursor >= sorted.length) break;
    place(sorted[cursor]);
  }
  return depth;
}

function itemSortLabel(it) {
  const sk = it.node.meta && it.node.meta.sortKey;
  return sk === undefined || sk === null ? it.node.label || it.id : String(sk);
}

/**
 * Lays the graph out. `collapsed` is a Set of lane ids drawn as a header only.
 * Returns { width, height, lanes: [{id,label,y,height,collapsed,columns}],
 * nodes: Map key -> {x,y,w,h,lane,depth,row}, edges: [{key,from,to,type,d}] }.
 */
export function layout(graph, collapsed = new Set(), geometry = GEOMETRY) {
  const g = geometry;
  const byLane = new Map(graph.lanes.map((l) => [l.id, []]));
  for (const it of graph.items) {
    if (!byLane.has(it.lane)) byLane.set(it.lane, []);
    byLane.get(it.lane).push(it);
  }
  const predsOf = new Map();
  for (const e of graph.edges) {
    if (!predsOf.has(e.to)) predsOf.set(e.to, []);
    predsOf.get(e.to).push(e.from);
  }

  const nodes = new Map();
  const lanes = [];
  let y = 0;
  let maxCols = 0;
  for (const lane of graph.lanes) {
    const items = byLane.get(lane.id) ?? [];
    const depth = laneDepths(items.map((it) => it.key), graph.edges);
    const columns = [];
    for (const it of items) {
      const d = depth.get(it.key) ?? 0;
      while (columns.length <= d) columns.push([]);
      columns[d].push(it);
    }
    // Rows: column 0 by label; later columns by the mean row of their
    // predecessors in this lane (barycentre), then label.
    const rowOf = new Map();
    columns.forEach((col, ci) => {
      const bary = new Map();
      for (const it of col) {
        const rows = (predsOf.get(it.key) ?? []).filter((p) => rowOf.has(p)).map((p) => rowOf.get(p));
        bary.set(it.key, ci === 0 || rows.length === 0 ? Infinity : rows.reduce((a, b) => a + b, 0) / rows.length);
      }
      col.sort((a, b) => {
        const ba = bary.get(a.key);
        const bb = bary.get(b.key);
        if (ba !== bb) return ba < bb ? -1 : 1;
        const la = itemSortLabel(a);
        const lb = itemSortLabel(b);
        if (la !== lb) return la < lb ? -1 : 1;
        return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
      });
      col.forEach((it, row) => rowOf.set(it.key, row));
    });
    const isCollapsed = collapsed.has(lane.id);
    const rows = Math.max(1, ...columns.map((c) => c.length));
    const height = isCollapsed ? g.collapsedHeight : g.laneHeader + g.lanePad * 2 + rows * g.nodeH + (rows - 1) * g.rowGap;
    if (!isCollapsed) {
      maxCols = Math.max(maxCols, columns.length);
      columns.forEach((col, ci) => {
        col.forEach((it, row) => {
          nodes.set(it.key, {
            x: g.left + ci * (g.nodeW + g.colGap),
            y: y + g.laneHeader + g.lanePad + row * (g.nodeH + g.rowGap),
            w: g.nodeW,
            h: g.nodeH,
            lane: lane.id,
            depth: ci,
            row,
          });
        });
      });
    }
    lanes.push({ id: lane.id, label: lane.label, y, height, collapsed: isCollapsed, columns: columns.map((c) => c.map((it) => it.key)) });
    y += height + g.laneGap;
  }

  const edges = [];
  for (const e of graph.edges) {
    const a = nodes.get(e.from);
    const b = nodes.get(e.to);
    if (!a || !b) continue;
    edges.push({ key: e.key, from: e.from, to: e.to, type: e.type, d: edgePath(a, b, g) });
  }
  const width = g.left * 2 + Math.max(1, maxCols) * g.nodeW + Math.max(0, maxCols - 1) * g.colGap;
  return { width, height: Math.max(0, y - g.laneGap), lanes, nodes, edges };
}

/** A cubic Bézier from the right middle of `a` to the left middle of `b`. */
export function edgePath(a, b, g = GEOMETRY) {
  const x1 = a.x + a.w;
  const y1 = a.y + a.h / 2;
  const x2 = b.x - 2; // leave room for the arrow head
  const y2 = b.y + b.h / 2;
  if (x2 > x1) {
    const dx = Math.max(24, (x2 - x1) / 2);
    return `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
  }
  // Backwards or same column (cycle or cross-lane): loop around.
  const loop = g.colGap / 2;
  return `M${x1},${y1} C${x1 + loop},${y1} ${x2 - loop},${y2} ${x2},${y2}`;
}

/**
 * Keyboard navigation over a layout: the key of the neighbour of `key` in
 * `direction` ("left" | "right" | "up" | "down"), or `key` when there is none.
 * Left/right move between columns of a lane (nearest row); up/down move
 * within a column, then into the previous/next expanded lane.
 */
export function neighbour(lay, key, direction) {
  const pos = lay.nodes.get(key);
  const laneList = lay.lanes.filter((l) => !l.collapsed && l.columns.some((c) => c.length > 0));
  if (!pos) {
    const first = laneList.length ? laneList[0].columns.find((c) => c.length)[0] : undefined;
    return first ?? key;
  }
  const li = laneList.findIndex((l) => l.id === pos.lane);
  const lane = laneList[li];
  const col = lane.columns[pos.depth];
  const nearestIn = (column, row) => column[Math.min(row, column.length - 1)];
  switch (direction) {
    case "left":
      for (let c = pos.depth - 1; c >= 0; c--) if (lane.columns[c].length) return nearestIn(lane.columns[c], pos.row);
      return key;
    case "right":
      for (let c = pos.depth + 1; c < lane.columns.length; c++) if (lane.columns[c].length) return nearestIn(lane.columns[c], pos.row);
      return key;
    case "up": {
      if (pos.row > 0) return col[pos.row - 1];
      for (let l = li - 1; l >= 0; l--) {
        const other = laneList[l];
        const c = other.columns[Math.min(pos.depth, other.columns.length - 1)];
        const column = c && c.length ? c : other.columns.find((x) => x.length);
        if (column) return column[column.length - 1];
      }
      return key;
    }
    case "down": {
      if (pos.row < col.length - 1) return col[pos.row + 1];
      for (let l = li + 1; l < laneList.length; l++) {
        const other = laneList[l];
        const c = other.columns[Math.min(pos.depth, other.columns.length - 1)];
        const column = c && c.length ? c : other.columns.find((x) => x.length);
        if (column) return column[0];
      }
      return key;
    }
    default:
      return key;
  }
}
