-- OpenovaFlow flow server, schema version 1 (server.md §10.2).
-- Everything lives in the `flow_server` schema, so tables of other
-- applications (e.g. the reference implementation's, in `public`) are never
-- touched. Key text columns use COLLATE "C": bytewise order, as in memory.
-- Objects and payloads are canonical JSON *text* (jsonb would reorder keys
-- and rejects \u0000).

CREATE SCHEMA IF NOT EXISTS flow_server;

CREATE TABLE flow_server.schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE flow_server.flows (
    flow_id    text COLLATE "C" PRIMARY KEY,
    epoch      text COLLATE "C" NOT NULL,
    last_seq   bigint      NOT NULL DEFAULT 0,
    flow       text,
    node_count integer     NOT NULL DEFAULT 0,
    rel_count  integer     NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE flow_server.nodes (
    flow_id      text COLLATE "C" NOT NULL
                 REFERENCES flow_server.flows (flow_id) ON DELETE CASCADE,
    node_flow_id text COLLATE "C" NOT NULL,
    node_id      text COLLATE "C" NOT NULL,
    node         text NOT NULL,
    PRIMARY KEY (flow_id, node_flow_id, node_id)
);
CREATE INDEX nodes_flow_id_node_id ON flow_server.nodes (flow_id, node_id);

CREATE TABLE flow_server.relationships (
    flow_id  text COLLATE "C" NOT NULL
             REFERENCES flow_server.flows (flow_id) ON DELETE CASCADE,
    from_id  text COLLATE "C" NOT NULL,
    to_id    text COLLATE "C" NOT NULL,
    rel_type text COLLATE "C" NOT NULL,
    rel      text NOT NULL,
    PRIMARY KEY (flow_id, from_id, to_id, rel_type)
);
CREATE INDEX relationships_flow_id_to_id ON flow_server.relationships (flow_id, to_id);

CREATE TABLE flow_server.events (
    flow_id    text COLLATE "C" NOT NULL
               REFERENCES flow_server.flows (flow_id) ON DELETE CASCADE,
    seq        bigint      NOT NULL,
    event_type text        NOT NULL,
    payload    text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (flow_id, seq)
);

CREATE TABLE flow_server.log_lines (
    seq         bigserial   PRIMARY KEY,
    flow_id     text COLLATE "C" NOT NULL,
    node_id     text COLLATE "C" NOT NULL,
    exec_id     text COLLATE "C" NOT NULL,
    level       text        NOT NULL,
    message     text        NOT NULL,
    occurred_at bigint      NOT NULL
);
CREATE INDEX log_lines_flow_id_seq ON flow_server.log_lines (flow_id, seq);
CREATE INDEX log_lines_flow_id_exec_id_seq ON flow_server.log_lines (flow_id, exec_id, seq);
