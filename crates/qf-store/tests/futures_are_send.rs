//! Compile-time check: every public store future is `Send`, so the store can be awaited
//! inside axum handlers and `tokio::spawn`ed tasks. (sqlx executor lifetimes make it easy to
//! lose `Send` by accident; this file then fails to compile.)

use std::time::Duration;

use qf_store::*;
use serde_json::Value;

fn send<T: Send>(_: T) {}

#[test]
fn store_futures_are_send() {
    // Building the futures is enough; they are dropped without being polled.
    let store = async { Store::connect("sqlite::memory:").await };
    send(store);
}

#[allow(dead_code, clippy::too_many_lines)]
fn every_method(st: Store, t: TenantId, u: UserId) {
    let (page, v) = (Page::default(), Value::Null);
    send(st.migrate());
    send(st.applied_migrations());
    send(st.ping());
    send(st.close());
    send(st.create_tenant("x"));
    send(st.tenant(&t));
    send(st.rename_tenant(&t, "y"));
    send(st.create_user("a@b", "b", "c"));
    send(st.user_by_email("a@b"));
    send(st.user(&u));
    send(st.set_password_hash(&u, "h"));
    send(st.add_member(&t, &u, Role::Owner));
    send(st.members(&t));
    send(st.member(&t, &u));
    send(st.set_member_role(&t, &u, Role::Admin));
    send(st.remove_member(&t, &u));
    send(st.memberships_of(&u));
    send(st.create_invitation(&t, "a@b", Role::Viewer, "h", 0));
    send(st.invitations(&t));
    send(st.revoke_invitation(&t, &InvitationId::new()));
    send(st.accept_invitation("h", &u));
    send(st.create_api_key(
        &t,
        "n",
        "p",
        "h",
        Role::Viewer,
        &[],
        Some(qf_store::CreatedBy::User(&u)),
        None,
    ));
    send(st.api_key_by_hash("h"));
    send(st.touch_api_key(&ApiKeyId::new(), 1));
    send(st.api_keys(&t));
    send(st.revoke_api_key(&t, &ApiKeyId::new()));
    send(st.create_session(&t, &u, Role::Viewer, "a", "b", 1, 2));
    send(st.session_by_token("h"));
    send(st.session_by_refresh("h"));
    send(st.rotate_session(&SessionId::new(), "x", "a", "b", 1, 2));
    send(st.session_by_retired_refresh("h"));
    send(st.revoke_session(&SessionId::new()));
    let ds = NewDataset {
        id: DatasetId::new(),
        name: "d".into(),
        format: "csv".into(),
        rows: 0,
        bytes: 0,
        symbols: vec![],
        quality: Value::Null,
    };
    send(st.create_dataset(&t, &ds));
    send(st.dataset(&t, &ds.id));
    send(st.datasets(&t, Some("p"), &page));
    send(st.delete_dataset(&t, &ds.id));
    let s = StrategyId::new();
    send(st.create_strategy(&t, "a", "b", "c", "d", v.clone()));
    send(st.add_strategy_version(&t, &s, "c", "d", v.clone()));
    send(st.strategy(&t, &s));
    send(st.strategy_version(&t, &s, None));
    send(st.strategy_versions(&t, &s));
    send(st.strategies(&t, None, &page));
    let run = NewRun {
        kind: RunKind::Backtest,
        dataset_id: ds.id.clone(),
        strategy_id: s.clone(),
        strategy_version: 1,
        request: v.clone(),
        priority: 0,
        max_attempts: 1,
    };
    send(st.submit_run(&t, &run));
    send(st.run(&t, &RunId::new()));
    send(st.runs(&t, &RunFilter::kind(RunKind::Sweep), &page));
    send(st.cancel_run(&t, &RunId::new()));
    send(st.job(&t, &JobId::new()));
    send(st.jobs(&t, None, &page));
    send(st.cancel_job(&t, &JobId::new()));
    let opts = ClaimOptions {
        worker: "w",
        lease: Duration::ZERO,
        tenant_limit: 0,
    };
    send(st.claim(&opts));
    send(st.heartbeat(&JobId::new(), "w", Duration::ZERO));
    send(st.complete(&JobId::new(), "w", v.clone()));
    send(st.fail(&JobId::new(), "w", v, true, Duration::ZERO));
    send(st.mark_cancelled(&JobId::new(), "w"));
    send(st.queue_depth());
    send(st.idempotency_reserve(&t, "k", "s", "h", 1));
    send(st.idempotency_complete(&t, "k", "s", 201, "b"));
    send(st.idempotency_release(&t, "k", "s"));
    send(st.idempotency_prune(0));
}
