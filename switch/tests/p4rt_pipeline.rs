//! SetForwardingPipelineConfig (all five actions) and GetForwardingPipelineConfig
//! (all response types) over gRPC.

mod p4rt_support;

use flashmesh_proto::p4::v1::{
    self as p4v1, get_forwarding_pipeline_config_request::ResponseType,
    set_forwarding_pipeline_config_request::Action, update::Type,
};
use p4rt_support::*;

const DEV: u64 = 1;

async fn get(
    client: &mut p4v1::p4_runtime_client::P4RuntimeClient<tonic::transport::Channel>,
    kind: ResponseType,
) -> Result<p4v1::ForwardingPipelineConfig, tonic::Status> {
    let resp = client
        .get_forwarding_pipeline_config(p4v1::GetForwardingPipelineConfigRequest {
            device_id: DEV,
            response_type: kind as i32,
        })
        .await?;
    Ok(resp.into_inner().config.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_read_back_with_every_response_type() {
    let Some((source, p4info)) = reference("tables") else {
        return;
    };
    let h = Harness::start(DEV).await;
    let mut c = h.client().await;
    let (_s, _) = Stream::open(&mut c, DEV, 1).await;

    let caps = c
        .capabilities(p4v1::CapabilitiesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(caps.p4runtime_api_version, "1.4.1");

    let none = get(&mut c, ResponseType::All).await.unwrap_err();
    assert_eq!(
        none.code(),
        tonic::Code::FailedPrecondition,
        "nothing pushed yet"
    );

    push(&mut c, DEV, 1, &source, &p4info, Action::VerifyAndCommit)
        .await
        .expect("push");
    let all = get(&mut c, ResponseType::All).await.unwrap();
    assert_eq!(all.p4info.as_ref(), Some(&p4info));
    assert_eq!(all.p4_device_config, source.as_bytes());
    assert_eq!(all.cookie.map(|c| c.cookie), Some(42));

    let cookie = get(&mut c, ResponseType::CookieOnly).await.unwrap();
    assert!(cookie.p4info.is_none() && cookie.p4_device_config.is_empty());
    assert_eq!(cookie.cookie.map(|c| c.cookie), Some(42));

    let info = get(&mut c, ResponseType::P4infoAndCookie).await.unwrap();
    assert_eq!(info.p4info.as_ref(), Some(&p4info));
    assert!(info.p4_device_config.is_empty());

    let dev = get(&mut c, ResponseType::DeviceConfigAndCookie)
        .await
        .unwrap();
    assert!(dev.p4info.is_none());
    assert_eq!(dev.p4_device_config, source.as_bytes());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configs_are_refused_with_clear_errors() {
    let Some((source, p4info)) = reference("tables") else {
        return;
    };
    let h = Harness::start(DEV).await;
    let mut c = h.client().await;
    let (_s, _) = Stream::open(&mut c, DEV, 1).await;

    let json = std::fs::read_to_string(reference_dir().join("tables.json")).unwrap();
    let err = push(&mut c, DEV, 1, &json, &p4info, Action::VerifyAndCommit)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("BMv2 JSON"), "{}", err.message());

    let err = push(
        &mut c,
        DEV,
        1,
        "control broken {",
        &p4info,
        Action::VerifyAndCommit,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");

    // A P4Info that does not describe the program: the error says what differs.
    let Some((_, other)) = reference("cpu") else {
        return;
    };
    let err = push(&mut c, DEV, 1, &source, &other, Action::VerifyAndCommit)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("does not match"),
        "{}",
        err.message()
    );
    let mut changed = p4info.clone();
    let param = &mut changed
        .actions
        .iter_mut()
        .find(|a| !a.params.is_empty())
        .unwrap()
        .params[0];
    param.bitwidth += 1;
    let name = param.name.clone();
    let err = push(&mut c, DEV, 1, &source, &changed, Action::Verify)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains(&format!("param {name}")),
        "{}",
        err.message()
    );

    let err = push(&mut c, DEV, 1, &source, &p4info, Action::Unspecified)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    let err = c
        .set_forwarding_pipeline_config(p4v1::SetForwardingPipelineConfigRequest {
            device_id: DEV,
            election_id: election(1),
            action: Action::Commit as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        tonic::Code::FailedPrecondition,
        "COMMIT with nothing saved"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_save_commit_and_reconcile() {
    let Some((source, p4info)) = reference("tables") else {
        return;
    };
    let h = Harness::start(DEV).await;
    let names = Names(&p4info);
    let mut c = h.client().await;
    let (_s, _) = Stream::open(&mut c, DEV, 1).await;

    // VERIFY changes nothing.
    push(&mut c, DEV, 1, &source, &p4info, Action::Verify)
        .await
        .expect("verify");
    assert_eq!(
        get(&mut c, ResponseType::CookieOnly)
            .await
            .unwrap_err()
            .code(),
        tonic::Code::FailedPrecondition
    );

    // VERIFY_AND_SAVE then COMMIT.
    push(&mut c, DEV, 1, &source, &p4info, Action::VerifyAndSave)
        .await
        .expect("save");
    assert_eq!(
        get(&mut c, ResponseType::CookieOnly)
            .await
            .unwrap_err()
            .code(),
        tonic::Code::FailedPrecondition
    );
    let commit = p4v1::SetForwardingPipelineConfigRequest {
        device_id: DEV,
        election_id: election(1),
        action: Action::Commit as i32,
        ..Default::default()
    };
    c.set_forwarding_pipeline_config(commit)
        .await
        .expect("commit");
    assert!(get(&mut c, ResponseType::CookieOnly).await.is_ok());

    // Install an entry; RECONCILE_AND_COMMIT keeps it, VERIFY_AND_COMMIT clears it.
    let e = names.entry(
        "MyIngress.t_exact",
        vec![("hdr.tin.k16", exact(&[0, 1])), ("hdr.tin.k4", exact(&[1]))],
        "MyIngress.set_a",
        &[("p", &[5]), ("x", &[3])],
        0,
    );
    let e_key = e.clone();
    write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Insert, p4v1::entity::Entity::TableEntry(e))],
    )
    .await
    .expect("insert");
    let wanted = p4v1::Entity {
        entity: Some(p4v1::entity::Entity::TableEntry(p4v1::TableEntry {
            table_id: names.table("MyIngress.t_exact"),
            ..Default::default()
        })),
    };
    assert_eq!(
        read(&mut c, DEV, vec![wanted.clone()]).await.unwrap().len(),
        1
    );
    push(&mut c, DEV, 1, &source, &p4info, Action::ReconcileAndCommit)
        .await
        .expect("reconcile");
    assert_eq!(
        read(&mut c, DEV, vec![wanted.clone()]).await.unwrap().len(),
        1,
        "reconcile keeps entries"
    );
    // Another program text (same P4Info): entries and their direct counters are replayed
    // into the new program's instance, default actions too.
    let mut key = e_key.clone();
    key.action = None;
    let counted = p4v1::DirectCounterEntry {
        table_entry: Some(key.clone()),
        data: Some(p4v1::CounterData {
            byte_count: 77,
            packet_count: 7,
        }),
    };
    write(
        &mut c,
        DEV,
        Some(1),
        vec![update(
            Type::Modify,
            p4v1::entity::Entity::DirectCounterEntry(counted.clone()),
        )],
    )
    .await
    .expect("counter write");
    let mut dflt = names.entry(
        "MyIngress.t_dflt",
        vec![],
        "MyIngress.set_dflt",
        &[("v", &[0x33])],
        0,
    );
    dflt.is_default_action = true;
    write(
        &mut c,
        DEV,
        Some(1),
        vec![update(
            Type::Modify,
            p4v1::entity::Entity::TableEntry(dflt.clone()),
        )],
    )
    .await
    .expect("default write");
    let v2 = format!("{source}\n// second revision of the program text\n");
    push(&mut c, DEV, 1, &v2, &p4info, Action::ReconcileAndCommit)
        .await
        .expect("reconcile to v2");
    let back = read(
        &mut c,
        DEV,
        vec![p4v1::Entity {
            entity: Some(p4v1::entity::Entity::DirectCounterEntry(counted.clone())),
        }],
    )
    .await
    .unwrap();
    assert_eq!(back.len(), 1);
    let Some(p4v1::entity::Entity::DirectCounterEntry(dc)) = &back[0].entity else {
        panic!("direct counter entry expected")
    };
    assert_eq!(
        dc.data, counted.data,
        "the direct counter survived the reconcile"
    );
    let mut wanted_default = p4v1::TableEntry {
        table_id: dflt.table_id,
        is_default_action: true,
        ..Default::default()
    };
    let d = read(
        &mut c,
        DEV,
        vec![p4v1::Entity {
            entity: Some(p4v1::entity::Entity::TableEntry(wanted_default.clone())),
        }],
    )
    .await
    .unwrap();
    wanted_default.action = dflt.action.clone();
    assert_eq!(
        d,
        vec![p4v1::Entity {
            entity: Some(p4v1::entity::Entity::TableEntry(wanted_default))
        }]
    );
    let all = get(&mut c, ResponseType::DeviceConfigAndCookie)
        .await
        .unwrap();
    assert_eq!(
        all.p4_device_config,
        v2.as_bytes(),
        "the new program is active"
    );
    push(&mut c, DEV, 1, &source, &p4info, Action::VerifyAndCommit)
        .await
        .expect("commit");
    assert_eq!(
        read(&mut c, DEV, vec![wanted]).await.unwrap().len(),
        0,
        "a new commit starts empty"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn program_loaded_at_start_is_served_without_a_push() {
    let Some((source, p4info)) = reference("tables") else {
        return;
    };
    let h = Harness::start_with(DEV, Some(&source)).await;
    let names = Names(&p4info);
    let mut c = h.client().await;
    let (_s, _) = Stream::open(&mut c, DEV, 1).await;
    let info = get(&mut c, ResponseType::P4infoAndCookie)
        .await
        .expect("a pipeline is set");
    let derived = info.p4info.expect("derived P4Info");
    assert_eq!(derived.tables.len(), p4info.tables.len());
    let e = names.entry(
        "MyIngress.t_lpm",
        vec![("hdr.tin.addr", lpm(&[10, 0, 0, 0], 8))],
        "MyIngress.set_lpm",
        &[("v", &[1])],
        0,
    );
    write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Insert, p4v1::entity::Entity::TableEntry(e))],
    )
    .await
    .expect("write without a push");
    h.stop().await;
}
