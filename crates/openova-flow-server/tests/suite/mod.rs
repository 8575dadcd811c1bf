//! The behavioural acceptance suite of server.md §12 (compatibility
//! checklist, `cNN_…`) and §13 (acceptance behaviours, `dNN_…`), written once
//! and instantiated per backend with [`acceptance_tests!`]:
//!
//! ```ignore
//! mod suite;
//! acceptance_tests!(suite::support::Memory);
//! ```
//!
//! Every case starts its own server through the [`support::Starter`], so a
//! backend only has to say how a server with extra CLI args is started.
//! Clauses that only exist on the memory backend (`MAX_FLOWS`, `FLOW_TTL`,
//! `LOG_LINES_PER_FLOW`) print a SKIP line elsewhere.

#![allow(dead_code, clippy::unwrap_used)]

pub mod cases;
pub mod support;

/// Generates one `#[tokio::test]` per case for the given starter.
#[macro_export]
macro_rules! acceptance_tests {
    ($starter:expr) => {
        $crate::acceptance_tests!(@each $starter;
            c01_round_trip_bodies_reframe_with_same_type,
            c02_reference_rejections,
            c03_cross_flow_relationship_keeps_fields,
            c04_triggered_by_two_entries,
            c05_healthz_and_readyz,
            c06_flow_node_relationship_snapshot,
            c07_unknown_flow_snapshot_404,
            c08_bad_json_and_unknown_type_400,
            c09_delete_then_snapshot_404,
            c10_stream_snapshot_then_live_frame,
            c11_seq_only_clients_and_proxy_headers,
            d1_validation_texts,
            d1_decode_error_and_accepted_oddities,
            d1_rejected_post_consumes_no_seq,
            d2_flow_id_length,
            d2_flow_id_bad_encoding_on_every_route,
            d3_snapshot_bytes_and_escaping,
            d3_foreign_keys_dropped_and_snapshot_arrays_present,
            d4_state_survives_ring_eviction,
            d4_delete_nodes_prunes_edges,
            d4_node_flow_id_stamping_and_cross_flow_nodes,
            d5_consecutive_seqs_one_epoch,
            d5_concurrent_posts_delivered_in_order,
            d5_delete_restarts_at_seq_1_with_new_epoch,
            d6_resume_header_replays_without_snapshot,
            d6_resume_query_param_replays,
            d6_resume_header_beats_query,
            d6_resume_at_head_is_live,
            d6_resume_miss_gets_snapshot,
            d6_snapshot_then_next_id_with_racing_posts,
            d7_lagging_subscriber_resyncs_with_snapshot,
            d8_heartbeat_exact_frame_after_idle,
            d9_unknown_flow_stream_and_snapshot,
            d9_delete_nodes_only_flow_has_snapshot,
            d10_delete_ends_streams_and_resume_gets_new_state,
            d11_body_limit_exact_and_plus_one,
            d11_oversized_content_length_refused_unread,
            d11_max_nodes_per_flow,
            d11_max_flows_evicts_least_recently_updated_idle_flow,
            d11_max_subscribers,
            d11_idle_flow_ttl,
            d11_log_lines_per_flow,
            d12_ingest_tokens,
            d12_read_tokens,
            d13_cors_unset,
            d13_cors_set,
            d14_metrics,
            d17_root_descriptor_and_head,
            d17_readyz_503_while_shutting_down,
            d18_routing,
            d19_log_lines,
            d20_testing_api_restart_on_same_port,
        );
    };
    (@each $starter:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::suite::cases::$name(&$starter).await;
            }
        )*
    };
}
