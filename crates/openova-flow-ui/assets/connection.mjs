// The live connection: URLs of the flow API, and an EventSource wrapper that
// resumes after reconnects. No DOM; EventSource, fetch and timers are
// injected so the logic runs under `node --test`.

import { MESSAGE_TYPES } from "./fold.mjs";

/** `<apiBase>/<flowId>/<resource>`, the flowId as one encoded path segment. */
export function apiUrl(apiBase, flowId, resource) {
  const base = String(apiBase).replace(/\/+$/, "");
  return `${base}/${encodeURIComponent(flowId)}/${resource}`;
}

function withQuery(url, params) {
  const q = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join("&");
  return q ? `${url}${url.includes("?") ? "&" : "?"}${q}` : url;
}

/**
 * The stream URL. EventSource cannot send headers, so a read token travels
 * as `access_token` (server.md §5, proxy.md §5); `lastEventId` is used only
 * for a manual reconnect (EventSource's own reconnects send the header).
 */
export function streamUrl(apiBase, flowId, { token = null, lastEventId = null } = {}) {
  return withQuery(apiUrl(apiBase, flowId, "stream"), { access_token: token, lastEventId });
}

export function snapshotUrl(apiBase, flowId) {
  return apiUrl(apiBase, flowId, "snapshot");
}

export function logLinesUrl(apiBase, flowId, { nodeId = null, afterSeq = 0, limit = 500 } = {}) {
  return withQuery(apiUrl(apiBase, flowId, "log-lines"), { nodeId, afterSeq: afterSeq || null, limit });
}

/** Request headers for fetch(): a bearer token when one is known. */
export function authHeaders(token) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Delay before manual reconnect attempt `n` (1-based): 1 s doubling, 30 s cap. */
export function backoffMs(attempt) {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, attempt - 1));
}

/**
 * Reads the API base the page talks to: the `api` query parameter when it is
 * a same-origin absolute path, else the host's `data-api-base`, else
 * `/v1/flows` (the flow server's own routes).
 */
export function resolveApiBase(dataAttr, search) {
  const q = new URLSearchParams(search || "").get("api");
  if (q && /^\/(?!\/)/.test(q) && !q.includes("\\")) return q.replace(/\/+$/, "");
  if (dataAttr) return String(dataAttr).replace(/\/+$/, "");
  return "/v1/flows";
}

/** Connection states shown by the indicator. */
export const STATES = Object.freeze(["connecting", "live", "reconnecting", "unauthorized", "offline", "stopped"]);

/**
 * Follows one flow's stream. Calls `onMessage(msg, eventId)` per event frame
 * (heartbeats ignored) and `onState(state, detail)` on every change.
 */
export class FlowConnection {
  constructor({ apiBase, flowId, token = null, EventSourceImpl, fetchImpl, timers, onMessage, onState }) {
    this.apiBase = apiBase;
    this.flowId = flowId;
    this.token = token;
    this.ES = EventSourceImpl;
    this.fetch = fetchImpl;
    this.timers = timers ?? { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h) };
    this.onMessage = onMessage;
    this.onState = onState;
    this.es = null;
    this.lastEventId = null;
    this.attempt = 0;
    this.timer = null;
    this.state = "stopped";
    this.stopped = true;
  }

  setState(state, detail = "") {
    if (this.state === state && this.detail === detail) return;
    this.state = state;
    this.detail = detail;
    if (this.onState) this.onState(state, detail);
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    this.closeSource();
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.setState("stopped");
  }

  /** Replaces the token and reconnects at once (resuming). */
  setToken(token) {
    this.token = token || null;
    if (!this.stopped) {
      this.closeSource();
      this.open();
    }
  }

  closeSource() {
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  }

  open() {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    const url = streamUrl(this.apiBase, this.flowId, { token: this.token, lastEventId: this.lastEventId });
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting", this.attempt ? `attempt ${this.attempt}` : "");
    const es = new this.ES(url);
    this.es = es;
    const current = () => this.es === es;
    es.addEventListener("open", () => {
      if (!current()) return;
      this.attempt = 0;
      this.setState("live");
    });
    for (const name of MESSAGE_TYPES) {
      es.addEventListener(name, (ev) => {
        if (!current()) return;
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch {
          return; // not ours to fold
        }
        if (ev.lastEventId) this.lastEventId = ev.lastEventId;
        if (this.state !== "live") {
          this.attempt = 0;
          this.setState("live");
        }
        this.onMessage(msg, ev.lastEventId || null);
      });
    }
    es.addEventListener("heartbeat", () => {
      if (current() && this.state !== "live") this.setState("live");
    });
    es.addEventListener("error", () => {
      if (!current()) return;
      if (es.readyState === 0 /* CONNECTING: the browser reconnects with Last-Event-ID */) {
        this.setState("reconnecting", "");
        return;
      }
      // CLOSED: the browser gave up (non-200 answer, wrong type). Find out why,
      // then reconnect by hand with ?lastEventId=.
      this.closeSource();
      this.probe().then((status) => {
        if (this.stopped || this.es !== null) return;
        if (status === 401 || status === 403) {
          this.setState("unauthorized", status === 401 ? "a read token is required" : "this token may not read this flow");
          return;
        }
        this.attempt += 1;
        const wait = backoffMs(this.attempt);
        const why = status === 0 ? "server unreachable" : status >= 400 ? `HTTP ${status}` : "stream closed";
        this.setState("offline", `${why}; retrying in ${Math.round(wait / 1000)}s`);
        this.timer = this.timers.setTimeout(() => {
          this.timer = null;
          if (!this.stopped) this.open();
        }, wait);
      });
    });
  }

  /** The status of the snapshot route (0 when unreachable). */
  async probe() {
    if (!this.fetch) return 0;
    try {
      const r = await this.fetch(snapshotUrl(this.apiBase, this.flowId), {
        method: "GET",
        headers: authHeaders(this.token),
        cache: "no-store",
      });
      return r.status;
    } catch {
      return 0;
    }
  }
}
