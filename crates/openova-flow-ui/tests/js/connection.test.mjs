import { test } from "node:test";
import assert from "node:assert/strict";
import { apiUrl, streamUrl, snapshotUrl, logLinesUrl, authHeaders, backoffMs, resolveApiBase, FlowConnection } from "../../assets/connection.mjs";

test("URLs: flowId is one encoded segment; token and lastEventId in the query", () => {
  assert.equal(apiUrl("/v1/flows/", "dep:a.b", "stream"), "/v1/flows/dep%3Aa.b/stream");
  assert.equal(streamUrl("/v1/flows", "f1"), "/v1/flows/f1/stream");
  assert.equal(streamUrl("/api/v1/flows", "f1", { token: "t+/=", lastEventId: "q7Xk2mPz-4" }), "/api/v1/flows/f1/stream?access_token=t%2B%2F%3D&lastEventId=q7Xk2mPz-4");
  assert.equal(snapshotUrl("http://127.0.0.1:9/v1/flows", "f"), "http://127.0.0.1:9/v1/flows/f/snapshot");
  assert.equal(logLinesUrl("/v1/flows", "f", { nodeId: "fsn1:bp-x", afterSeq: 12 }), "/v1/flows/f/log-lines?nodeId=fsn1%3Abp-x&afterSeq=12&limit=500");
  assert.equal(logLinesUrl("/v1/flows", "f", { nodeId: "n" }), "/v1/flows/f/log-lines?nodeId=n&limit=500");
  assert.deepEqual(authHeaders(null), {});
  assert.deepEqual(authHeaders("abc"), { Authorization: "Bearer abc" });
});

test("API base: same-origin ?api= wins, then data attribute, then /v1/flows", () => {
  assert.equal(resolveApiBase("", ""), "/v1/flows");
  assert.equal(resolveApiBase("/api/v1/flows/", ""), "/api/v1/flows");
  assert.equal(resolveApiBase("/v1/flows", "?api=/api/v1/flows"), "/api/v1/flows");
  for (const evil of ["//evil.example/x", "https://evil.example/v1", "javascript:alert(1)", "/\\evil"]) {
    assert.equal(resolveApiBase("/v1/flows", `?api=${encodeURIComponent(evil)}`), "/v1/flows", evil);
  }
});

test("backoff doubles from 1 s to a 30 s cap", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(backoffMs), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
});

class FakeES {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.listeners = {};
    this.closed = false;
    FakeES.all.push(this);
  }
  addEventListener(name, f) {
    (this.listeners[name] ??= []).push(f);
  }
  emit(name, ev = {}) {
    for (const f of this.listeners[name] ?? []) f(ev);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
}

function harness({ probeStatus = 200 } = {}) {
  FakeES.all = [];
  const timers = [];
  const messages = [];
  const states = [];
  const c = new FlowConnection({
    apiBase: "/v1/flows",
    flowId: "f1",
    token: "tok",
    EventSourceImpl: FakeES,
    fetchImpl: async (url, init) => {
      harness.lastFetch = { url, init };
      if (probeStatus === 0) throw new Error("down");
      return { status: probeStatus };
    },
    timers: { setTimeout: (f, ms) => timers.push({ f, ms }) && timers.length, clearTimeout: () => {} },
    onMessage: (m, id) => messages.push([m.type, id]),
    onState: (s, d) => states.push(d ? `${s}:${d}` : s),
  });
  return { c, timers, messages, states };
}

const tick = () => new Promise((r) => setImmediate(r));

test("folds named events, ignores heartbeats, tracks the last id", () => {
  const h = harness();
  h.c.start();
  const es = FakeES.all[0];
  assert.equal(es.url, "/v1/flows/f1/stream?access_token=tok");
  es.readyState = 1;
  es.emit("open");
  es.emit("snapshot", { data: '{"type":"snapshot","flow":{"id":"f1"}}', lastEventId: "E-1" });
  es.emit("heartbeat", { data: "{}" });
  es.emit("upsert-nodes", { data: '{"type":"upsert-nodes","nodes":[]}', lastEventId: "E-2" });
  es.emit("upsert-nodes", { data: "not json", lastEventId: "E-3" });
  assert.deepEqual(h.messages, [["snapshot", "E-1"], ["upsert-nodes", "E-2"]]);
  assert.equal(h.c.lastEventId, "E-2");
  assert.deepEqual(h.states, ["connecting", "live"]);
});

test("browser-driven reconnect (CONNECTING) is left to EventSource", () => {
  const h = harness();
  h.c.start();
  const es = FakeES.all[0];
  es.emit("open");
  es.readyState = 0;
  es.emit("error");
  assert.equal(FakeES.all.length, 1);
  assert.equal(h.states.at(-1), "reconnecting");
  es.emit("open");
  assert.equal(h.states.at(-1), "live");
});

test("closed stream: manual reconnect resumes with ?lastEventId= after backoff", async () => {
  const h = harness({ probeStatus: 0 });
  h.c.start();
  const es = FakeES.all[0];
  es.emit("upsert-flow", { data: '{"type":"upsert-flow","flow":{}}', lastEventId: "q7Xk2mPz-7" });
  es.readyState = 2;
  es.emit("error");
  assert.equal(es.closed, true);
  await tick();
  assert.equal(h.states.at(-1), "offline:server unreachable; retrying in 1s");
  assert.equal(h.timers.length, 1);
  assert.equal(h.timers[0].ms, 1000);
  h.timers[0].f();
  const es2 = FakeES.all[1];
  assert.equal(es2.url, "/v1/flows/f1/stream?access_token=tok&lastEventId=q7Xk2mPz-7");
  // Events of the old source are ignored once replaced.
  es.emit("upsert-flow", { data: '{"type":"upsert-flow","flow":{}}', lastEventId: "old-1" });
  assert.equal(h.messages.length, 1);
  es2.readyState = 2;
  es2.emit("error");
  await tick();
  assert.equal(h.timers[1].ms, 2000, "second failure doubles the wait");
  es2.emit("open"); // stale source, ignored
  h.timers[1].f();
  FakeES.all[2].emit("open");
  assert.equal(h.states.at(-1), "live");
  assert.equal(h.c.attempt, 0);
});

test("401 on the probe: unauthorized, no retry loop; a new token reconnects", async () => {
  const h = harness({ probeStatus: 401 });
  h.c.start();
  FakeES.all[0].readyState = 2;
  FakeES.all[0].emit("error");
  await tick();
  assert.equal(h.states.at(-1), "unauthorized:a read token is required");
  assert.equal(h.timers.length, 0);
  assert.deepEqual(harness.lastFetch.init.headers, { Authorization: "Bearer tok" });
  assert.equal(harness.lastFetch.url, "/v1/flows/f1/snapshot");
  h.c.setToken("new");
  assert.equal(FakeES.all[1].url, "/v1/flows/f1/stream?access_token=new");
});

test("stop closes the source and cancels retries", async () => {
  const h = harness({ probeStatus: 503 });
  h.c.start();
  FakeES.all[0].readyState = 2;
  FakeES.all[0].emit("error");
  await tick();
  assert.match(h.states.at(-1), /^offline:HTTP 503/);
  h.c.stop();
  assert.equal(h.states.at(-1), "stopped");
  h.timers[0].f();
  assert.equal(FakeES.all.length, 1);
});
