//! The store's behaviour, asserted on both backends: every test below is an `async fn`
//! taking a fresh, migrated [`Store`], and the `both!` macro at the bottom instantiates it
//! on a new SQLite file, on a new PostgreSQL database as the server's (super)user, and on a
//! new PostgreSQL database as an ordinary role bound by row-level security.

use std::collections::HashSet;
use std::time::Duration;

use qf_store::testing::{with_postgres, with_postgres_as_app, with_sqlite};
use qf_store::{
    ClaimOptions, Completion, CreatedBy, DatasetId, Dialect, Heartbeat, Idem, JobId, JobState,
    NewDataset, NewRun, Page, Reservation, Role, RunFilter, RunId, RunKind, Status, Store,
    StoreError, StrategyId, TenantId, now_ns,
};
use serde_json::json;

// ---------------------------------------------------------------- fixtures

/// A tenant with one dataset and one strategy, ready to submit runs.
struct Fixture {
    tenant: TenantId,
    dataset: DatasetId,
    strategy: StrategyId,
}

async fn fixture(store: &Store, name: &str) -> Fixture {
    let tenant = store.create_tenant(name).await.unwrap().id;
    let dataset = store
        .create_dataset(&tenant, &new_dataset("bars"))
        .await
        .unwrap()
        .id;
    let (strategy, _) = store
        .create_strategy(
            &tenant,
            "sma",
            "python",
            "def on_bar(): pass",
            "abc",
            json!({}),
        )
        .await
        .unwrap();
    Fixture {
        tenant,
        dataset,
        strategy: strategy.id,
    }
}

fn new_dataset(name: &str) -> NewDataset {
    NewDataset {
        id: DatasetId::new(),
        name: name.into(),
        format: "csv".into(),
        rows: 1000,
        bytes: 64_000,
        symbols: vec!["AAPL".into(), "MSFT".into()],
        quality: json!({"gaps": 0}),
    }
}

fn new_run(f: &Fixture, priority: i32, max_attempts: i32) -> NewRun {
    NewRun {
        kind: RunKind::Backtest,
        dataset_id: f.dataset.clone(),
        strategy_id: f.strategy.clone(),
        strategy_version: 1,
        request: json!({"fast": 10, "slow": 30}),
        priority,
        max_attempts,
    }
}

async fn submit(store: &Store, f: &Fixture, priority: i32) -> (RunId, JobId) {
    let (run, job) = store
        .submit_run(&f.tenant, &new_run(f, priority, 3))
        .await
        .unwrap();
    (run.id, job.id)
}

fn opts(worker: &str) -> ClaimOptions<'_> {
    ClaimOptions {
        worker,
        lease: Duration::from_secs(30),
        tenant_limit: 0,
    }
}

fn short_lease(worker: &str) -> ClaimOptions<'_> {
    ClaimOptions {
        worker,
        lease: Duration::from_millis(250),
        tenant_limit: 0,
    }
}

fn conflict(err: StoreError) -> String {
    match err {
        StoreError::Conflict(msg) => msg,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

// ---------------------------------------------------------------- schema

async fn migrate_twice_is_a_no_op(store: Store) {
    assert!(store.migrate().await.unwrap().is_empty());
    assert_eq!(
        store.applied_migrations().await.unwrap(),
        ["0001_init", "0002_queue_index", "0003_hardening"]
    );
    store.ping().await.unwrap();
}

// ---------------------------------------------------------------- tenants, users, members

async fn tenants_and_users(store: Store) {
    let t = store.create_tenant("  Acme  ").await.unwrap();
    assert_eq!(t.name, "Acme");
    assert_eq!(
        store.rename_tenant(&t.id, "Acme Ltd").await.unwrap().name,
        "Acme Ltd"
    );
    assert_eq!(store.tenant(&t.id).await.unwrap().name, "Acme Ltd");
    assert!(matches!(
        store.tenant(&TenantId::new()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.create_tenant(" ").await,
        Err(StoreError::Invalid(_))
    ));

    let ada = store
        .create_user("Ada@Example.com", "Ada", "hash-1")
        .await
        .unwrap();
    assert_eq!(ada.email, "ada@example.com");
    let msg = conflict(
        store
            .create_user("ADA@example.COM", "Other", "h")
            .await
            .unwrap_err(),
    );
    assert!(msg.contains("ada@example.com"), "{msg}");
    let (found, hash) = store
        .user_by_email(" ada@EXAMPLE.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id.clone(), hash.as_str()),
        (ada.id.clone(), "hash-1")
    );
    assert!(
        store
            .user_by_email("nobody@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.user(&ada.id).await.unwrap().name, "Ada");
    store.set_password_hash(&ada.id, "hash-2").await.unwrap();
    assert_eq!(
        store
            .user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap()
            .1,
        "hash-2"
    );
    assert!(matches!(
        store.create_user("not-an-email", "x", "h").await,
        Err(StoreError::Invalid(_))
    ));
}

async fn members_and_roles(store: Store) {
    let a = store.create_tenant("A").await.unwrap().id;
    let b = store.create_tenant("B").await.unwrap().id;
    let ada = store
        .create_user("ada@example.com", "Ada", "h")
        .await
        .unwrap()
        .id;
    let bob = store
        .create_user("bob@example.com", "Bob", "h")
        .await
        .unwrap()
        .id;

    let m = store.add_member(&a, &ada, Role::Owner).await.unwrap();
    assert_eq!(
        (m.role, m.email.as_str(), m.name.as_str()),
        (Role::Owner, "ada@example.com", "Ada")
    );
    store.add_member(&a, &bob, Role::Viewer).await.unwrap();
    store.add_member(&b, &bob, Role::Admin).await.unwrap();
    conflict(store.add_member(&a, &ada, Role::Admin).await.unwrap_err());
    assert!(matches!(
        store
            .add_member(&a, &qf_store::UserId::new(), Role::Admin)
            .await,
        Err(StoreError::NotFound)
    ));

    let members = store.members(&a).await.unwrap();
    assert_eq!(
        members
            .iter()
            .map(|m| m.user_id.clone())
            .collect::<Vec<_>>(),
        vec![ada.clone(), bob.clone()]
    );
    assert_eq!(
        store.member(&a, &bob).await.unwrap().unwrap().role,
        Role::Viewer
    );
    assert!(store.member(&b, &ada).await.unwrap().is_none());

    assert_eq!(
        store
            .set_member_role(&a, &bob, Role::Developer)
            .await
            .unwrap()
            .role,
        Role::Developer
    );
    // Tenant B cannot change A's membership of Ada.
    assert!(matches!(
        store.set_member_role(&b, &ada, Role::Viewer).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.remove_member(&b, &ada).await,
        Err(StoreError::NotFound)
    ));

    let of_bob = store.memberships_of(&bob).await.unwrap();
    let tenants: HashSet<_> = of_bob
        .iter()
        .map(|m| (m.tenant_id.clone(), m.role))
        .collect();
    assert_eq!(
        tenants,
        HashSet::from([(a.clone(), Role::Developer), (b.clone(), Role::Admin)])
    );

    // Removing a member revokes their sessions in that tenant only.
    let in_a = store
        .create_session(
            &a,
            &bob,
            Role::Developer,
            "tok-a",
            "ref-a",
            now_ns() + 1_000,
            now_ns() + 2_000,
        )
        .await
        .unwrap();
    let in_b = store
        .create_session(
            &b,
            &bob,
            Role::Admin,
            "tok-b",
            "ref-b",
            now_ns() + 1_000,
            now_ns() + 2_000,
        )
        .await
        .unwrap();
    store.remove_member(&a, &bob).await.unwrap();
    assert!(store.member(&a, &bob).await.unwrap().is_none());
    assert!(
        store
            .session_by_token("tok-a")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert!(
        store
            .session_by_token("tok-b")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert_eq!((in_a.tenant_id, in_b.tenant_id), (a, b));
}

async fn invitations_accept_once(store: Store) {
    let a = store.create_tenant("A").await.unwrap().id;
    let b = store.create_tenant("B").await.unwrap().id;
    let cy = store
        .create_user("cy@example.com", "Cy", "h")
        .await
        .unwrap()
        .id;
    let dee = store
        .create_user("dee@example.com", "Dee", "h")
        .await
        .unwrap()
        .id;
    let later = now_ns() + 3_600_000_000_000;

    let inv = store
        .create_invitation(&a, "CY@example.com", Role::Developer, "inv-1", later)
        .await
        .unwrap();
    assert_eq!(inv.email, "cy@example.com");
    conflict(
        store
            .create_invitation(&a, "x@example.com", Role::Viewer, "inv-1", later)
            .await
            .unwrap_err(),
    );

    let m = store.accept_invitation("inv-1", &cy).await.unwrap();
    assert_eq!((m.tenant_id.clone(), m.role), (a.clone(), Role::Developer));
    assert!(matches!(
        store.accept_invitation("inv-1", &dee).await,
        Err(StoreError::NotFound)
    ));
    let listed = store.invitations(&a).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].accepted_at.is_some());
    conflict(store.revoke_invitation(&a, &inv.id).await.unwrap_err());

    // Expired and revoked invitations cannot be accepted; other tenants cannot revoke.
    store
        .create_invitation(&a, "dee@example.com", Role::Viewer, "inv-old", now_ns() - 1)
        .await
        .unwrap();
    assert!(matches!(
        store.accept_invitation("inv-old", &dee).await,
        Err(StoreError::NotFound)
    ));
    let revoked = store
        .create_invitation(&a, "dee@example.com", Role::Viewer, "inv-2", later)
        .await
        .unwrap();
    assert!(matches!(
        store.revoke_invitation(&b, &revoked.id).await,
        Err(StoreError::NotFound)
    ));
    store.revoke_invitation(&a, &revoked.id).await.unwrap();
    assert!(matches!(
        store.accept_invitation("inv-2", &dee).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.member(&a, &dee).await.unwrap().is_none());
    assert!(store.invitations(&b).await.unwrap().is_empty());
}

// ---------------------------------------------------------------- credentials

async fn api_keys_lookup_touch_revoke(store: Store) {
    let a = store.create_tenant("A").await.unwrap().id;
    let b = store.create_tenant("B").await.unwrap().id;
    let ada = store
        .create_user("ada@example.com", "Ada", "h")
        .await
        .unwrap()
        .id;
    let scopes = vec!["runs:write".to_string(), "data:read".to_string()];
    let key = store
        .create_api_key(
            &a,
            "ci",
            "qf_ab12",
            "hash-a",
            Role::Developer,
            &scopes,
            Some(CreatedBy::User(&ada)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (key.scopes.clone(), key.created_by.clone()),
        (scopes.clone(), Some(ada.clone()))
    );
    // A key made with another key records that key, not a person.
    let child = store
        .create_api_key(
            &a,
            "bot",
            "qf_cd34",
            "hash-c",
            Role::Viewer,
            &[],
            Some(CreatedBy::Key(&key.id)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (child.created_by.clone(), child.created_by_key.clone()),
        (None, Some(key.id.clone()))
    );
    assert_eq!(store.api_key(&a, &child.id).await.unwrap().id, child.id);
    assert!(matches!(
        store.api_key(&b, &child.id).await,
        Err(StoreError::NotFound)
    ));
    conflict(
        store
            .create_api_key(
                &b,
                "dup",
                "qf_ab12",
                "hash-a",
                Role::Viewer,
                &[],
                None,
                None,
            )
            .await
            .unwrap_err(),
    );

    let found = store.api_key_by_hash("hash-a").await.unwrap().unwrap();
    assert_eq!(
        (found.id.clone(), found.tenant_id.clone(), found.role),
        (key.id.clone(), a.clone(), Role::Developer)
    );
    assert!(found.is_active(now_ns()));
    assert!(store.api_key_by_hash("nope").await.unwrap().is_none());

    // last_used_at moves at most once a minute.
    let t0 = now_ns();
    store.touch_api_key(&key.id, t0).await.unwrap();
    store
        .touch_api_key(&key.id, t0 + 1_000_000_000)
        .await
        .unwrap();
    assert_eq!(
        store
            .api_key_by_hash("hash-a")
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(t0)
    );
    store
        .touch_api_key(&key.id, t0 + 61_000_000_000)
        .await
        .unwrap();
    assert_eq!(
        store
            .api_key_by_hash("hash-a")
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(t0 + 61_000_000_000)
    );

    assert!(matches!(
        store.revoke_api_key(&b, &key.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.api_keys(&b).await.unwrap().is_empty());
    let revoked = store.revoke_api_key(&a, &key.id).await.unwrap();
    let again = store.revoke_api_key(&a, &key.id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(again.revoked_at, revoked.revoked_at);
    let still_found = store.api_key_by_hash("hash-a").await.unwrap().unwrap();
    assert!(!still_found.is_active(now_ns()));
    assert_eq!(store.api_keys(&a).await.unwrap().len(), 2);
}

async fn sessions_rotate_and_revoke(store: Store) {
    let a = store.create_tenant("A").await.unwrap().id;
    let ada = store
        .create_user("ada@example.com", "Ada", "h")
        .await
        .unwrap()
        .id;
    let now = now_ns();
    let s = store
        .create_session(&a, &ada, Role::Owner, "t1", "r1", now + 10, now + 20)
        .await
        .unwrap();
    assert_eq!(
        store.session_by_token("t1").await.unwrap().unwrap().id,
        s.id
    );
    assert_eq!(
        store.session_by_refresh("r1").await.unwrap().unwrap().id,
        s.id
    );

    let rotated = store
        .rotate_session(&s.id, "r1", "t2", "r2", now + 30, now + 40)
        .await
        .unwrap();
    assert_eq!(
        (rotated.expires_at, rotated.refresh_expires_at),
        (now + 30, now + 40)
    );
    assert!(store.session_by_token("t1").await.unwrap().is_none());
    assert!(store.session_by_refresh("r1").await.unwrap().is_none());
    assert_eq!(
        store.session_by_refresh("r2").await.unwrap().unwrap().id,
        s.id
    );
    // The rotated-away token is remembered, so its reuse can be recognised.
    assert_eq!(
        store
            .session_by_retired_refresh("r1")
            .await
            .unwrap()
            .unwrap()
            .id,
        s.id
    );
    assert!(
        store
            .session_by_retired_refresh("r2")
            .await
            .unwrap()
            .is_none()
    );

    store.revoke_session(&s.id).await.unwrap();
    store.revoke_session(&s.id).await.unwrap();
    assert!(
        store
            .session_by_token("t2")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    conflict(
        store
            .rotate_session(&s.id, "r2", "t3", "r3", now, now)
            .await
            .unwrap_err(),
    );

    // Two refreshes with one token: the second (stale) one revokes the session.
    let s2 = store
        .create_session(&a, &ada, Role::Owner, "u1", "q1", now + 10, now + 20)
        .await
        .unwrap();
    store
        .rotate_session(&s2.id, "q1", "u2", "q2", now + 30, now + 40)
        .await
        .unwrap();
    let msg = conflict(
        store
            .rotate_session(&s2.id, "q1", "u3", "q3", now + 30, now + 40)
            .await
            .unwrap_err(),
    );
    assert!(msg.contains("already used"), "{msg}");
    assert!(
        store
            .session_by_refresh("q2")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    let unknown = qf_store::SessionId::new();
    assert!(matches!(
        store.revoke_session(&unknown).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.rotate_session(&unknown, "x", "a", "b", 1, 2).await,
        Err(StoreError::NotFound)
    ));
}

// ---------------------------------------------------------------- datasets and strategies

async fn datasets_list_and_delete(store: Store) {
    let f = fixture(&store, "A").await;
    let b = store.create_tenant("B").await.unwrap().id;
    for name in ["eur_usd 2020", "eur_usd 2021", "EUR_gbp", "btc%"] {
        store
            .create_dataset(&f.tenant, &new_dataset(name))
            .await
            .unwrap();
    }
    let d = store.dataset(&f.tenant, &f.dataset).await.unwrap();
    assert_eq!(
        (d.rows, d.bytes, d.symbols.len(), d.quality.clone()),
        (1000, 64_000, 2, json!({"gaps": 0}))
    );

    let names = |l: qf_store::Listed<qf_store::Dataset>| {
        l.items.into_iter().map(|d| d.name).collect::<Vec<_>>()
    };
    let page = Page::default();
    // Prefixes are literal and case-sensitive on both backends (no LIKE wildcards).
    assert_eq!(
        names(
            store
                .datasets(&f.tenant, Some("eur_"), &page)
                .await
                .unwrap()
        ),
        ["eur_usd 2020", "eur_usd 2021"]
    );
    assert_eq!(
        names(store.datasets(&f.tenant, Some("eur"), &page).await.unwrap()).len(),
        2
    );
    assert_eq!(
        names(
            store
                .datasets(&f.tenant, Some("btc%"), &page)
                .await
                .unwrap()
        ),
        ["btc%"]
    );
    assert!(names(store.datasets(&f.tenant, Some("b_c"), &page).await.unwrap()).is_empty());
    assert_eq!(
        store
            .datasets(&f.tenant, None, &page)
            .await
            .unwrap()
            .items
            .len(),
        5
    );

    // Another tenant sees nothing and can delete nothing.
    assert!(
        store
            .datasets(&b, None, &page)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(matches!(
        store.dataset(&b, &f.dataset).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_dataset(&b, &f.dataset).await,
        Err(StoreError::NotFound)
    ));
    conflict(
        store
            .create_dataset(
                &f.tenant,
                &NewDataset {
                    id: f.dataset.clone(),
                    ..new_dataset("x")
                },
            )
            .await
            .unwrap_err(),
    );

    // A dataset in use by an unfinished run cannot be deleted; afterwards it can.
    let (run, job) = submit(&store, &f, 0).await;
    let msg = conflict(
        store
            .delete_dataset(&f.tenant, &f.dataset)
            .await
            .unwrap_err(),
    );
    assert!(msg.contains(run.as_str()), "{msg}");
    let claimed = store.claim(&opts("w1")).await.unwrap().unwrap();
    assert_eq!(claimed.id, job);
    conflict(
        store
            .delete_dataset(&f.tenant, &f.dataset)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        store
            .complete(&job, "w1", json!({"sharpe": 1.2}))
            .await
            .unwrap(),
        Completion::Succeeded
    );
    store.delete_dataset(&f.tenant, &f.dataset).await.unwrap();
    assert!(matches!(
        store.dataset(&f.tenant, &f.dataset).await,
        Err(StoreError::NotFound)
    ));
    // The finished run keeps its record.
    assert_eq!(
        store.run(&f.tenant, &run).await.unwrap().dataset_id,
        f.dataset
    );
}

async fn strategy_versions(store: Store) {
    let a = store.create_tenant("A").await.unwrap().id;
    let b = store.create_tenant("B").await.unwrap().id;
    let (s, v1) = store
        .create_strategy(
            &a,
            "momentum",
            "python",
            "v1 source",
            "sha-1",
            json!({"n": 1}),
        )
        .await
        .unwrap();
    assert_eq!(
        (s.latest_version, v1.version, v1.source.as_str()),
        (1, 1, "v1 source")
    );
    let msg = conflict(
        store
            .create_strategy(&a, "momentum", "wasm", "x", "y", json!({}))
            .await
            .unwrap_err(),
    );
    assert!(msg.contains("momentum"), "{msg}");
    // The same name is free in another tenant.
    store
        .create_strategy(&b, "momentum", "python", "b", "b", json!({}))
        .await
        .unwrap();

    let v2 = store
        .add_strategy_version(&a, &s.id, "v2 source", "sha-2", json!({"n": 2}))
        .await
        .unwrap();
    let v3 = store
        .add_strategy_version(&a, &s.id, "v3 source", "sha-3", json!({"n": 3}))
        .await
        .unwrap();
    assert_eq!((v2.version, v3.version), (2, 3));
    let s2 = store.strategy(&a, &s.id).await.unwrap();
    assert_eq!(s2.latest_version, 3);
    assert!(s2.updated_at >= s.updated_at);
    assert_eq!(
        store
            .strategy_version(&a, &s.id, None)
            .await
            .unwrap()
            .source,
        "v3 source"
    );
    assert_eq!(
        store
            .strategy_version(&a, &s.id, Some(2))
            .await
            .unwrap()
            .params,
        json!({"n": 2})
    );
    assert!(matches!(
        store.strategy_version(&a, &s.id, Some(9)).await,
        Err(StoreError::NotFound)
    ));
    let all = store.strategy_versions(&a, &s.id).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|v| (v.version, v.sha256.as_str()))
            .collect::<Vec<_>>(),
        [(1, "sha-1"), (2, "sha-2"), (3, "sha-3")]
    );

    // Tenant B sees none of it.
    assert!(matches!(
        store.strategy(&b, &s.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.strategy_versions(&b, &s.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.strategy_version(&b, &s.id, None).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .add_strategy_version(&b, &s.id, "x", "x", json!({}))
            .await,
        Err(StoreError::NotFound)
    ));

    store
        .create_strategy(&a, "wasm one", "wasm", "w", "w", json!({}))
        .await
        .unwrap();
    let wasm = store
        .strategies(&a, Some("wasm"), &Page::default())
        .await
        .unwrap();
    assert_eq!(
        wasm.items
            .iter()
            .map(|s| s.strategy.name.as_str())
            .collect::<Vec<_>>(),
        ["wasm one"]
    );
    // Lists carry the latest version's digest and parameters.
    let all = store.strategies(&a, None, &Page::default()).await.unwrap();
    assert_eq!(
        all.items
            .iter()
            .map(|l| (
                l.strategy.latest_version,
                l.sha256.as_str(),
                l.params.clone()
            ))
            .collect::<Vec<_>>(),
        [(3, "sha-3", json!({"n": 3})), (1, "w", json!({}))]
    );
}

// ---------------------------------------------------------------- runs: isolation, pagination

async fn tenant_isolation_of_runs_and_jobs(store: Store) {
    let a = fixture(&store, "A").await;
    let b = fixture(&store, "B").await;
    let (run, job) = submit(&store, &a, 0).await;

    assert!(matches!(
        store.run(&b.tenant, &run).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.job(&b.tenant, &job).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.cancel_run(&b.tenant, &run).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.cancel_job(&b.tenant, &job).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .runs(
                &b.tenant,
                &RunFilter::kind(RunKind::Backtest),
                &Page::default()
            )
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        store
            .jobs(&b.tenant, None, &Page::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // B cannot submit a run on A's dataset or strategy.
    let mut cross = new_run(&b, 0, 1);
    cross.dataset_id = a.dataset.clone();
    assert!(matches!(
        store.submit_run(&b.tenant, &cross).await,
        Err(StoreError::Invalid(_))
    ));
    let mut cross = new_run(&b, 0, 1);
    cross.strategy_id = a.strategy.clone();
    assert!(matches!(
        store.submit_run(&b.tenant, &cross).await,
        Err(StoreError::Invalid(_))
    ));
    let mut bad = new_run(&a, 0, 1);
    bad.strategy_version = 2;
    assert!(matches!(
        store.submit_run(&a.tenant, &bad).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.submit_run(&a.tenant, &new_run(&a, 0, 0)).await,
        Err(StoreError::Invalid(_))
    ));

    // A's own view is intact.
    assert_eq!(
        store.run(&a.tenant, &run).await.unwrap().status,
        Status::Queued
    );
    assert_eq!(
        store
            .jobs(&a.tenant, None, &Page::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    // Idempotency keys are per tenant too.
    let hour = 3_600_000_000_000;
    for t in [&a.tenant, &b.tenant] {
        assert_eq!(
            store
                .idempotency_reserve(t, "k", "POST /v1/backtests", "h", hour)
                .await
                .unwrap(),
            Reservation::Reserved
        );
    }
}

async fn pagination(store: Store) {
    let f = fixture(&store, "A").await;
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(submit(&store, &f, 0).await.0);
    }
    let filter = RunFilter::kind(RunKind::Backtest);
    let page = |limit, after: Option<&RunId>, desc| Page {
        limit,
        after: after.map(|r| r.to_string()),
        desc,
    };
    let got = |l: &qf_store::Listed<qf_store::Run>| {
        l.items.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
    };

    // Oldest first, three at a time.
    let p1 = store
        .runs(&f.tenant, &filter, &page(3, None, false))
        .await
        .unwrap();
    assert_eq!(got(&p1), ids[0..3]);
    assert_eq!(p1.next.as_deref(), Some(ids[2].as_str()));
    let p2 = store
        .runs(&f.tenant, &filter, &page(3, ids.get(2), false))
        .await
        .unwrap();
    assert_eq!(got(&p2), ids[3..6]);
    let p3 = store
        .runs(&f.tenant, &filter, &page(3, ids.get(5), false))
        .await
        .unwrap();
    assert_eq!(got(&p3), ids[6..7]);
    assert_eq!(p3.next, None);

    // Newest first, and a cursor taken from the other end.
    let d1 = store
        .runs(&f.tenant, &filter, &page(4, None, true))
        .await
        .unwrap();
    let mut newest: Vec<_> = ids.iter().rev().cloned().collect();
    assert_eq!(got(&d1), newest[0..4]);
    assert_eq!(d1.next.as_deref(), Some(ids[3].as_str()));
    let d2 = store
        .runs(&f.tenant, &filter, &page(4, ids.get(3), true))
        .await
        .unwrap();
    assert_eq!(got(&d2), newest[4..7]);
    assert_eq!(d2.next, None);
    let from_end = store
        .runs(&f.tenant, &filter, &page(50, ids.get(3), false))
        .await
        .unwrap();
    assert_eq!(got(&from_end), ids[4..7]);

    // An exact fit has no next page; limits are clamped.
    assert_eq!(
        store
            .runs(&f.tenant, &filter, &page(7, None, false))
            .await
            .unwrap()
            .next,
        None
    );
    assert_eq!(
        store
            .runs(&f.tenant, &filter, &page(0, None, false))
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    // Filters combine with the cursor.
    let claimed = store.claim(&opts("w")).await.unwrap().unwrap();
    assert_eq!(claimed.run_id.as_ref(), Some(&ids[0]));
    let running = RunFilter {
        status: Some(Status::Running),
        ..filter.clone()
    };
    assert_eq!(
        got(&store
            .runs(&f.tenant, &running, &Page::default())
            .await
            .unwrap()),
        ids[0..1]
    );
    let queued = RunFilter {
        status: Some(Status::Queued),
        strategy_id: Some(f.strategy.clone()),
        dataset_id: Some(f.dataset.clone()),
        ..filter.clone()
    };
    newest.truncate(6);
    assert_eq!(
        got(&store
            .runs(&f.tenant, &queued, &page(50, None, true))
            .await
            .unwrap()),
        newest
    );
    let other_strategy = RunFilter {
        strategy_id: Some(StrategyId::new()),
        ..filter.clone()
    };
    assert!(
        store
            .runs(&f.tenant, &other_strategy, &Page::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        store
            .runs(
                &f.tenant,
                &RunFilter::kind(RunKind::Sweep),
                &Page::default()
            )
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let jobs = store
        .jobs(&f.tenant, Some(JobState::Queued), &Page::first(4))
        .await
        .unwrap();
    assert_eq!(jobs.items.len(), 4);
    assert!(jobs.next.is_some());
}

async fn idempotency_reserve_complete_release(store: Store) {
    let t = store.create_tenant("A").await.unwrap().id;
    let scope = "POST /v1/backtests";
    let hour = 3_600_000_000_000;
    let reserve = |key: &'static str, hash: &'static str| {
        let (store, t) = (store.clone(), t.clone());
        async move {
            store
                .idempotency_reserve(&t, key, scope, hash, hour)
                .await
                .unwrap()
        }
    };
    assert_eq!(reserve("key-1", "req-a").await, Reservation::Reserved);
    // Held: a retry and a different request both see it in progress, with the holder's hash.
    for hash in ["req-a", "req-b"] {
        assert_eq!(
            reserve("key-1", hash).await,
            Reservation::InProgress {
                request_hash: "req-a".into()
            }
        );
    }
    assert!(
        store
            .idempotency_complete(&t, "key-1", scope, 201, r#"{"id":1}"#)
            .await
            .unwrap()
    );
    // The first answer is kept: a second completion and a release change nothing.
    assert!(
        !store
            .idempotency_complete(&t, "key-1", scope, 500, "later")
            .await
            .unwrap()
    );
    store.idempotency_release(&t, "key-1", scope).await.unwrap();
    let done = Reservation::Done(Idem {
        request_hash: "req-a".into(),
        status: 201,
        body: r#"{"id":1}"#.into(),
    });
    assert_eq!(reserve("key-1", "req-b").await, done);

    // A released key may be used again.
    assert_eq!(reserve("key-2", "req-a").await, Reservation::Reserved);
    store.idempotency_release(&t, "key-2", scope).await.unwrap();
    assert_eq!(reserve("key-2", "req-c").await, Reservation::Reserved);

    // A reservation older than the stale age is taken over (its holder died).
    assert!(matches!(
        store
            .idempotency_reserve(&t, "key-2", scope, "req-d", 0)
            .await
            .unwrap(),
        Reservation::Reserved
    ));

    // The same key under another endpoint is another record.
    assert_eq!(
        store
            .idempotency_reserve(&t, "key-1", "POST /v1/sweeps", "req-c", hour)
            .await
            .unwrap(),
        Reservation::Reserved
    );
    assert_eq!(store.idempotency_prune(now_ns() + 1).await.unwrap(), 3);
    assert_eq!(reserve("key-1", "req-e").await, Reservation::Reserved);
}

/// Many requests with one new key at once: exactly one gets to do the work.
async fn idempotency_reserve_race(store: Store) {
    let t = store.create_tenant("A").await.unwrap().id;
    for round in 0..3 {
        let key = format!("race-{round}");
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (store, t, key) = (store.clone(), t.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                store
                    .idempotency_reserve(&t, &key, "POST /v1/backtests", "same", 3_600_000_000_000)
                    .await
                    .unwrap()
            }));
        }
        let mut reserved = 0;
        for task in tasks {
            match task.await.unwrap() {
                Reservation::Reserved => reserved += 1,
                Reservation::InProgress { request_hash } => assert_eq!(request_hash, "same"),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(reserved, 1, "round {round}");
    }
}

// ---------------------------------------------------------------- the queue

async fn claim_order_by_priority(store: Store) {
    let f = fixture(&store, "A").await;
    assert!(store.claim(&opts("w")).await.unwrap().is_none());
    let (low_run, low) = submit(&store, &f, 0).await;
    let (_, high) = submit(&store, &f, 10).await;
    let (_, mid_old) = submit(&store, &f, 5).await;
    let (_, mid_new) = submit(&store, &f, 5).await;

    let order: Vec<JobId> = futures_order(&store).await;
    assert_eq!(order, vec![high, mid_old, mid_new, low.clone()]);
    assert!(store.claim(&opts("w")).await.unwrap().is_none());

    let job = store.job(&f.tenant, &low).await.unwrap();
    assert_eq!(
        (job.state, job.attempts, job.lease_owner.as_deref()),
        (JobState::Running, 1, Some("w"))
    );
    assert!(job.lease_expires_at.unwrap() > now_ns());
    let run = store.run(&f.tenant, &low_run).await.unwrap();
    assert_eq!(run.status, Status::Running);
    assert!(run.started_at.is_some());

    let depth = store.queue_depth().await.unwrap();
    assert_eq!(depth.iter().find(|(s, _)| s == "running").unwrap().1, 4);
    assert_eq!(depth.iter().find(|(s, _)| s == "queued").unwrap().1, 0);
    assert_eq!(depth.len(), 6);
}

/// Claims until the queue is empty and returns the job ids in claim order.
async fn futures_order(store: &Store) -> Vec<JobId> {
    let mut out = Vec::new();
    while let Some(job) = store.claim(&opts("w")).await.unwrap() {
        out.push(job.id);
    }
    out
}

async fn per_tenant_limit(store: Store) {
    let a = fixture(&store, "A").await;
    let b = fixture(&store, "B").await;
    let (_, a1) = submit(&store, &a, 0).await;
    let (_, a2) = submit(&store, &a, 0).await;
    let (_, a3) = submit(&store, &a, 0).await;
    let (_, b1) = submit(&store, &b, 0).await;
    let limited = ClaimOptions {
        tenant_limit: 2,
        ..opts("w")
    };

    assert_eq!(store.claim(&limited).await.unwrap().unwrap().id, a1);
    assert_eq!(store.claim(&limited).await.unwrap().unwrap().id, a2);
    // A has two running: its third job waits and B's goes ahead.
    assert_eq!(store.claim(&limited).await.unwrap().unwrap().id, b1);
    assert!(store.claim(&limited).await.unwrap().is_none());
    assert_eq!(
        store.complete(&a1, "w", json!({})).await.unwrap(),
        Completion::Succeeded
    );
    assert_eq!(store.claim(&limited).await.unwrap().unwrap().id, a3);
    assert_eq!(
        store.queue_depth().await.unwrap()[1],
        ("running".to_string(), 3)
    );
}

async fn lease_expiry_reclaims_and_counts_attempts(store: Store) {
    let f = fixture(&store, "A").await;
    let (run, job) = submit(&store, &f, 0).await;
    let first = store.claim(&short_lease("w1")).await.unwrap().unwrap();
    assert_eq!((first.id.clone(), first.attempts), (job.clone(), 1));
    // While the lease is live nobody else gets it.
    assert!(store.claim(&opts("w2")).await.unwrap().is_none());
    // Queued jobs submitted meanwhile: one ranks above the orphaned job, one below.
    let (_, urgent) = submit(&store, &f, 1).await;
    let (_, later) = submit(&store, &f, -1).await;
    tokio::time::sleep(Duration::from_millis(350)).await;

    // Orphaned and queued jobs share one claim order.
    assert_eq!(store.claim(&opts("w3")).await.unwrap().unwrap().id, urgent);
    let second = store.claim(&opts("w2")).await.unwrap().unwrap();
    assert_eq!(
        (
            second.id.clone(),
            second.attempts,
            second.lease_owner.as_deref()
        ),
        (job.clone(), 2, Some("w2"))
    );
    assert_eq!(
        second.started_at, first.started_at,
        "started_at records the first start"
    );
    // The presumed-dead worker has lost the job and can change nothing.
    assert_eq!(
        store
            .heartbeat(&job, "w1", Duration::from_secs(30))
            .await
            .unwrap(),
        Heartbeat::Lost
    );
    assert_eq!(
        store
            .complete(&job, "w1", json!({"by": "w1"}))
            .await
            .unwrap(),
        Completion::NotHeld
    );
    conflict(
        store
            .fail(&job, "w1", json!({}), true, Duration::ZERO)
            .await
            .unwrap_err(),
    );
    assert!(!store.mark_cancelled(&job, "w1").await.unwrap());
    assert_eq!(
        store
            .heartbeat(&job, "w2", Duration::from_secs(30))
            .await
            .unwrap(),
        Heartbeat::Continue
    );
    assert_eq!(
        store
            .complete(&job, "w2", json!({"by": "w2"}))
            .await
            .unwrap(),
        Completion::Succeeded
    );
    assert_eq!(store.claim(&opts("w3")).await.unwrap().unwrap().id, later);
    let run = store.run(&f.tenant, &run).await.unwrap();
    assert_eq!(
        (run.status, run.result),
        (Status::Succeeded, Some(json!({"by": "w2"})))
    );
}

async fn lease_expiry_on_last_attempt_is_dead(store: Store) {
    let f = fixture(&store, "A").await;
    let (run, job) = store
        .submit_run(&f.tenant, &new_run(&f, 0, 1))
        .await
        .unwrap();
    let (_, other) = submit(&store, &f, -1).await;
    store.claim(&short_lease("w1")).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;

    // The expired job has no attempts left: it is settled, and the claim moves on.
    let next = store.claim(&opts("w2")).await.unwrap().unwrap();
    assert_eq!(next.id, other);
    let job = store.job(&f.tenant, &job.id).await.unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Dead, 1));
    assert!(job.finished_at.is_some());
    let run = store.run(&f.tenant, &run.id).await.unwrap();
    assert_eq!(run.status, Status::Failed);
    assert_eq!(run.error.unwrap()["type"], "lease-expired");
    assert!(run.finished_at.is_some());
}

async fn retry_backoff_then_dead(store: Store) {
    let f = fixture(&store, "A").await;
    let (run, job) = store
        .submit_run(&f.tenant, &new_run(&f, 0, 2))
        .await
        .unwrap();
    let base = Duration::from_millis(300);
    store.claim(&opts("w")).await.unwrap().unwrap();
    let before = now_ns();
    let state = store
        .fail(&job.id, "w", json!({"title": "flaky"}), true, base)
        .await
        .unwrap();
    assert_eq!(state, JobState::Queued);

    let queued = store.job(&f.tenant, &job.id).await.unwrap();
    assert_eq!(
        (
            queued.state,
            queued.lease_owner.clone(),
            queued.lease_expires_at
        ),
        (JobState::Queued, None, None)
    );
    assert!(
        queued.run_after >= before + 300_000_000,
        "backoff base · 2^0"
    );
    assert!(queued.last_error.as_deref().unwrap().contains("flaky"));
    assert_eq!(
        store.run(&f.tenant, &run.id).await.unwrap().status,
        Status::Queued
    );
    // Not claimable until the backoff has passed.
    assert!(store.claim(&opts("w")).await.unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(450)).await;
    let again = store.claim(&opts("w")).await.unwrap().unwrap();
    assert_eq!((again.id.clone(), again.attempts), (job.id.clone(), 2));
    assert_eq!(
        store.run(&f.tenant, &run.id).await.unwrap().status,
        Status::Running
    );

    // Out of attempts: dead, and the run carries the error.
    let state = store
        .fail(&job.id, "w", json!({"title": "flaky again"}), true, base)
        .await
        .unwrap();
    assert_eq!(state, JobState::Dead);
    let run = store.run(&f.tenant, &run.id).await.unwrap();
    assert_eq!(
        (run.status, run.error),
        (Status::Failed, Some(json!({"title": "flaky again"})))
    );
    assert!(store.claim(&opts("w")).await.unwrap().is_none());

    // A non-retryable failure is final on the first attempt.
    let (run2, job2) = store
        .submit_run(&f.tenant, &new_run(&f, 0, 5))
        .await
        .unwrap();
    store.claim(&opts("w")).await.unwrap().unwrap();
    assert_eq!(
        store
            .fail(&job2.id, "w", json!({"title": "bad strategy"}), false, base)
            .await
            .unwrap(),
        JobState::Failed
    );
    assert_eq!(
        store.run(&f.tenant, &run2.id).await.unwrap().status,
        Status::Failed
    );
    assert!(matches!(
        store.fail(&JobId::new(), "w", json!({}), false, base).await,
        Err(StoreError::NotFound)
    ));
}

async fn complete_only_by_owner_and_once(store: Store) {
    let f = fixture(&store, "A").await;
    let (run, job) = submit(&store, &f, 0).await;
    // Not claimed yet: nobody can complete it.
    let complete = |worker: &'static str, n: i32| {
        let store = store.clone();
        let job = job.clone();
        async move {
            store
                .complete(&job, worker, json!({ "n": n }))
                .await
                .unwrap()
        }
    };
    assert_eq!(complete("w1", 0).await, Completion::NotHeld);
    store.claim(&opts("w1")).await.unwrap().unwrap();
    assert_eq!(complete("w2", 2).await, Completion::NotHeld);
    assert_eq!(complete("w1", 1).await, Completion::Succeeded);
    assert_eq!(complete("w1", 3).await, Completion::NotHeld);

    let run = store.run(&f.tenant, &run).await.unwrap();
    assert_eq!(
        (run.status, run.result.clone()),
        (Status::Succeeded, Some(json!({"n": 1})))
    );
    assert!(run.finished_at.is_some());
    let job = store.job(&f.tenant, &job).await.unwrap();
    assert_eq!(
        (job.state, job.lease_expires_at),
        (JobState::Succeeded, None)
    );
    assert_eq!(
        store
            .heartbeat(&job.id, "w1", Duration::from_secs(1))
            .await
            .unwrap(),
        Heartbeat::Lost
    );
    conflict(
        store
            .fail(&job.id, "w1", json!({}), false, Duration::ZERO)
            .await
            .unwrap_err(),
    );
    let msg = conflict(store.cancel_run(&f.tenant, &run.id).await.unwrap_err());
    assert_eq!(msg, "the run has already finished (succeeded)");
}

async fn cancel_queued_and_running(store: Store) {
    let f = fixture(&store, "A").await;

    // Queued: cancelled at once, and never claimed.
    let (queued_run, queued_job) = submit(&store, &f, 5).await;
    let run = store.cancel_run(&f.tenant, &queued_run).await.unwrap();
    assert_eq!(run.status, Status::Cancelled);
    assert!(run.finished_at.is_some());
    assert_eq!(
        store.job(&f.tenant, &queued_job).await.unwrap().state,
        JobState::Cancelled
    );
    assert!(store.claim(&opts("w")).await.unwrap().is_none());
    let msg = conflict(store.cancel_run(&f.tenant, &queued_run).await.unwrap_err());
    assert_eq!(msg, "the run has already finished (cancelled)");

    // Running: flagged; the worker hears it on its heartbeat and acknowledges.
    let (running_run, running_job) = submit(&store, &f, 0).await;
    store.claim(&opts("w")).await.unwrap().unwrap();
    assert_eq!(
        store
            .heartbeat(&running_job, "w", Duration::from_secs(30))
            .await
            .unwrap(),
        Heartbeat::Continue
    );
    let run = store.cancel_run(&f.tenant, &running_run).await.unwrap();
    assert_eq!(run.status, Status::Running);
    assert!(
        store
            .job(&f.tenant, &running_job)
            .await
            .unwrap()
            .cancel_requested
    );
    // Cancelling twice while the worker has not yet noticed is harmless.
    assert_eq!(
        store
            .cancel_run(&f.tenant, &running_run)
            .await
            .unwrap()
            .status,
        Status::Running
    );
    assert_eq!(
        store
            .heartbeat(&running_job, "w", Duration::from_secs(30))
            .await
            .unwrap(),
        Heartbeat::Cancel
    );
    assert!(!store.mark_cancelled(&running_job, "other").await.unwrap());
    assert!(store.mark_cancelled(&running_job, "w").await.unwrap());
    assert_eq!(
        store.run(&f.tenant, &running_run).await.unwrap().status,
        Status::Cancelled
    );
    assert_eq!(
        store.job(&f.tenant, &running_job).await.unwrap().state,
        JobState::Cancelled
    );

    // cancel_job follows the same rules and cancels the run too.
    let (run3, job3) = submit(&store, &f, 0).await;
    let job = store.cancel_job(&f.tenant, &job3).await.unwrap();
    assert_eq!(job.state, JobState::Cancelled);
    assert_eq!(
        store.run(&f.tenant, &run3).await.unwrap().status,
        Status::Cancelled
    );
    let msg = conflict(store.cancel_job(&f.tenant, &job3).await.unwrap_err());
    assert_eq!(msg, "the job has already finished (cancelled)");

    // A retryable failure while a cancel is pending is not retried.
    let (run4, job4) = submit(&store, &f, 0).await;
    store.claim(&opts("w")).await.unwrap().unwrap();
    assert!(
        store
            .cancel_job(&f.tenant, &job4)
            .await
            .unwrap()
            .cancel_requested
    );
    assert_eq!(
        store
            .fail(&job4, "w", json!({}), true, Duration::ZERO)
            .await
            .unwrap(),
        JobState::Cancelled
    );
    assert_eq!(
        store.run(&f.tenant, &run4).await.unwrap().status,
        Status::Cancelled
    );

    // A cancel accepted while the job runs wins over the worker's success: the run ends
    // cancelled without a result, and a cancel after the end is refused, never both.
    let (run6, job6) = submit(&store, &f, 0).await;
    store.claim(&opts("w")).await.unwrap().unwrap();
    assert_eq!(
        store.cancel_run(&f.tenant, &run6).await.unwrap().status,
        Status::Running
    );
    assert_eq!(
        store.complete(&job6, "w", json!({"n": 6})).await.unwrap(),
        Completion::Cancelled
    );
    let run = store.run(&f.tenant, &run6).await.unwrap();
    assert_eq!((run.status, run.result), (Status::Cancelled, None));
    assert_eq!(
        store.job(&f.tenant, &job6).await.unwrap().state,
        JobState::Cancelled
    );
    let msg = conflict(store.cancel_run(&f.tenant, &run6).await.unwrap_err());
    assert_eq!(msg, "the run has already finished (cancelled)");

    // A worker that dies after a cancel request leaves a cancelled job, not a retry.
    let (run5, job5) = submit(&store, &f, 0).await;
    store.claim(&short_lease("w")).await.unwrap().unwrap();
    store.cancel_run(&f.tenant, &run5).await.unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(store.claim(&opts("w2")).await.unwrap().is_none());
    assert_eq!(
        store.job(&f.tenant, &job5).await.unwrap().state,
        JobState::Cancelled
    );
    assert_eq!(
        store.run(&f.tenant, &run5).await.unwrap().status,
        Status::Cancelled
    );
}

async fn concurrent_claims_never_share_a_job(store: Store) {
    const JOBS: usize = 120;
    const WORKERS: usize = 8;
    let tenants = [
        fixture(&store, "A").await,
        fixture(&store, "B").await,
        fixture(&store, "C").await,
    ];
    let mut submitted = HashSet::new();
    for i in 0..JOBS {
        let f = &tenants[i % tenants.len()];
        submitted.insert(submit(&store, f, (i % 4) as i32).await.1);
    }

    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("worker-{w}");
            let mut mine = Vec::new();
            while let Some(job) = store.claim(&opts(&worker)).await.unwrap() {
                assert_eq!(job.lease_owner.as_deref(), Some(worker.as_str()));
                assert_eq!(
                    store
                        .complete(&job.id, &worker, json!({"by": worker}))
                        .await
                        .unwrap(),
                    Completion::Succeeded
                );
                mine.push(job.id);
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    let mut busy_workers = 0;
    for t in tasks {
        let mine = t.await.unwrap();
        busy_workers += usize::from(!mine.is_empty());
        for id in mine {
            assert!(seen.insert(id.clone()), "job {id} was handed out twice");
        }
    }
    assert_eq!(seen, submitted);
    assert!(busy_workers > 1, "the claims were not actually concurrent");
    let depth = store.queue_depth().await.unwrap();
    assert_eq!(
        depth.iter().find(|(s, _)| s == "succeeded").unwrap().1,
        JOBS as i64
    );
    for f in &tenants {
        let runs = store
            .runs(
                &f.tenant,
                &RunFilter {
                    status: Some(Status::Succeeded),
                    ..RunFilter::kind(RunKind::Backtest)
                },
                &Page::first(200),
            )
            .await
            .unwrap();
        assert_eq!(runs.items.len(), JOBS / tenants.len());
        assert!(
            runs.items
                .iter()
                .all(|r| r.job_id.as_str().starts_with("job_"))
        );
    }
}

async fn concurrent_submit_and_claim(store: Store) {
    // Writers of every kind at once: submitters, claimers and a canceller. On SQLite this
    // proves that busy_timeout + BEGIN IMMEDIATE never surface "database is locked".
    let f = std::sync::Arc::new(fixture(&store, "A").await);
    let mut tasks = Vec::new();
    for s in 0..3 {
        let (store, f) = (store.clone(), f.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..30 {
                let (run, _) = submit(&store, &f, i % 3).await;
                if (s + i) % 10 == 0 {
                    // May race the claimers: either outcome is fine, but never an error
                    // other than "already finished".
                    match store.cancel_run(&f.tenant, &run).await {
                        Ok(_) | Err(StoreError::Conflict(_)) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            0usize
        }));
    }
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("w{w}");
            let mut done = 0;
            let mut idle = 0;
            while idle < 20 {
                match store.claim(&opts(&worker)).await.unwrap() {
                    Some(job) => {
                        idle = 0;
                        match store
                            .heartbeat(&job.id, &worker, Duration::from_secs(30))
                            .await
                            .unwrap()
                        {
                            Heartbeat::Cancel => {
                                assert!(store.mark_cancelled(&job.id, &worker).await.unwrap())
                            }
                            // A cancel may land between the heartbeat and the completion;
                            // then it wins.
                            Heartbeat::Continue => assert_ne!(
                                store.complete(&job.id, &worker, json!({})).await.unwrap(),
                                Completion::NotHeld
                            ),
                            Heartbeat::Lost => panic!("lost a live lease"),
                        }
                        done += 1;
                    }
                    None => {
                        idle += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            done
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let depth = store.queue_depth().await.unwrap();
    let count = |s: &str| depth.iter().find(|(n, _)| n == s).unwrap().1;
    assert_eq!(count("succeeded") + count("cancelled"), 90);
    assert_eq!(count("queued") + count("running"), 0);
}

// ---------------------------------------------------------------- PostgreSQL row-level security

async fn rls_policy_hides_other_tenants(store: Store) {
    assert_eq!(store.dialect(), Dialect::Postgres);
    let a = fixture(&store, "A").await;
    let b = fixture(&store, "B").await;
    submit(&store, &a, 0).await;
    submit(&store, &b, 0).await;

    // Superusers bypass RLS, so probe as a plain role. Roles are cluster-wide: another test
    // run may have created it already.
    let pool = store.pool();
    let exists = sqlx::query("SELECT 1 FROM pg_roles WHERE rolname = 'qf_rls_probe'")
        .fetch_optional(pool)
        .await
        .unwrap()
        .is_some();
    if !exists
        && let Err(e) = sqlx::query("CREATE ROLE qf_rls_probe NOLOGIN")
            .execute(pool)
            .await
    {
        eprintln!("CREATE ROLE raced another run: {e}");
    }
    sqlx::query(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO qf_rls_probe",
    )
    .execute(pool)
    .await
    .unwrap();

    for table in [
        "datasets",
        "strategies",
        "strategy_versions",
        "runs",
        "jobs",
        "tenants",
    ] {
        let column = if table == "tenants" {
            "id"
        } else {
            "tenant_id"
        };
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("SET LOCAL ROLE qf_rls_probe")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("SELECT set_config('qf.tenant', $1, true)")
            .bind(a.tenant.as_str())
            .execute(&mut *tx)
            .await
            .unwrap();
        let (visible, foreign): (i64, i64) = sqlx::query_as(&format!(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE {column} <> $1) FROM {table}"
        ))
        .bind(a.tenant.as_str())
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(
            (visible, foreign),
            (1, 0),
            "{table}: tenant A must see only its own row"
        );
    }

    // Writing a row for B while scoped to A is refused by the policy's WITH CHECK.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE qf_rls_probe")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SELECT set_config('qf.tenant', $1, true)")
        .bind(a.tenant.as_str())
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = sqlx::query(
        "INSERT INTO datasets (id, tenant_id, name, format, row_count, byte_count, symbols, quality, created_at) \
         VALUES ($1, $2, 'x', 'csv', 0, 0, '[]', '{}', 0)",
    )
    .bind(DatasetId::new().as_str())
    .bind(b.tenant.as_str())
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    tx.rollback().await.unwrap();

    // Nor can it update B's rows (they are invisible), and with no scope it sees nothing.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE qf_rls_probe")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SELECT set_config('qf.tenant', $1, true)")
        .bind(a.tenant.as_str())
        .execute(&mut *tx)
        .await
        .unwrap();
    let updated = sqlx::query("UPDATE runs SET status = 'cancelled' WHERE tenant_id = $1")
        .bind(b.tenant.as_str())
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 0);
    tx.rollback().await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE qf_rls_probe")
        .execute(&mut *tx)
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM runs")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // The system scope sees every tenant.
    sqlx::query("SELECT set_config('qf.tenant', '*', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM runs")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 2);
    tx.rollback().await.unwrap();
}

// ---------------------------------------------------------------- instantiation

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::with_sqlite(super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::with_postgres(super::$name).await;
                }
            )*
        }
        /// As an ordinary role that owns the tables: FORCEd row-level security binds
        /// every statement, so a method that forgot its tenant scope fails here.
        mod postgres_app {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::with_postgres_as_app(super::$name).await;
                }
            )*
        }
    };
}

both!(
    migrate_twice_is_a_no_op,
    tenants_and_users,
    members_and_roles,
    invitations_accept_once,
    api_keys_lookup_touch_revoke,
    sessions_rotate_and_revoke,
    datasets_list_and_delete,
    strategy_versions,
    tenant_isolation_of_runs_and_jobs,
    pagination,
    idempotency_reserve_complete_release,
    idempotency_reserve_race,
    claim_order_by_priority,
    per_tenant_limit,
    lease_expiry_reclaims_and_counts_attempts,
    lease_expiry_on_last_attempt_is_dead,
    retry_backoff_then_dead,
    complete_only_by_owner_and_once,
    cancel_queued_and_running,
    concurrent_claims_never_share_a_job,
    concurrent_submit_and_claim,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rls_policy_hides_other_tenants() {
    with_postgres(rls_policy_hides_other_tenants).await;
}

#[tokio::test]
async fn in_memory_sqlite_keeps_its_one_database() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    assert_eq!(
        store.migrate().await.unwrap(),
        ["0001_init", "0002_queue_index", "0003_hardening"]
    );
    let t = store.create_tenant("A").await.unwrap();
    // Later calls reach the same database (one pooled connection that is never retired).
    assert_eq!(store.tenant(&t.id).await.unwrap().name, "A");
    assert!(store.migrate().await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_relative_and_absolute_urls_create_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested-ok.db");
    let store = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    assert!(path.exists());
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let (fk,): (i64,) = sqlx::query_as("PRAGMA foreign_keys")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(fk, 1);
    store.close().await;
}

#[tokio::test]
async fn postgres_app_store_is_bound_by_rls() {
    with_postgres_as_app(|store: Store| async move {
        let f = fixture(&store, "A").await;
        submit(&store, &f, 0).await;
        let (user, superuser, bypass): (String, bool, bool) = sqlx::query_as(
            "SELECT current_user::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!((user.as_str(), superuser, bypass), ("qf_test_app", false, false));
        let (forced,): (bool,) =
            sqlx::query_as("SELECT relforcerowsecurity FROM pg_class WHERE relname = 'runs'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert!(forced);
        // Outside a scoped transaction the tenant pool sees no tenant rows at all.
        let (runs,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM runs")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(runs, 0);
        // Through the store, the tenant sees its run.
        let listed = store
            .runs(&f.tenant, &RunFilter::kind(RunKind::Backtest), &Page::default())
            .await
            .unwrap();
        assert_eq!(listed.items.len(), 1);
    })
    .await;
}
