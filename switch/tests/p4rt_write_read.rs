//! Write and Read over gRPC: every match kind, default entries, every write error
//! code (per update, in order), wildcard reads of tables, direct counters, counters
//! and registers.

mod p4rt_support;

use flashmesh_proto::p4::v1::{
    self as p4v1, entity::Entity as E, set_forwarding_pipeline_config_request::Action,
    update::Type, write_request::Atomicity,
};
use p4rt_support::*;

const DEV: u64 = 0;

fn table_read(table_id: u32) -> p4v1::Entity {
    p4v1::Entity {
        entity: Some(E::TableEntry(p4v1::TableEntry {
            table_id,
            ..Default::default()
        })),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_before_pipeline_is_failed_precondition() {
    let h = Harness::start(DEV).await;
    let mut c = h.client().await;
    let (_s, _) = Stream::open(&mut c, DEV, 1).await;
    let err = write(&mut c, DEV, Some(1), vec![]).await.unwrap_err();
    assert_eq!(err.0, tonic::Code::FailedPrecondition);
    let err = read(&mut c, DEV, vec![table_read(0)]).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_all_match_kinds_errors_and_wildcard_reads() {
    let Some((source, p4info)) = reference("tables") else {
        return;
    };
    let h = Harness::start(DEV).await;
    let n = Names(&p4info);
    let mut c = h.client().await;
    let (_s, _) = Stream::open(&mut c, DEV, 1).await;
    push(&mut c, DEV, 1, &source, &p4info, Action::VerifyAndCommit)
        .await
        .expect("push");

    let exact_e = n.entry(
        "MyIngress.t_exact",
        vec![("hdr.tin.k16", exact(&[0, 1])), ("hdr.tin.k4", exact(&[1]))],
        "MyIngress.set_a",
        &[("p", &[0, 5]), ("x", &[3])],
        0,
    );
    let lpm_e = n.entry(
        "MyIngress.t_lpm",
        vec![("hdr.tin.addr", lpm(&[10, 1, 0, 0], 16))],
        "MyIngress.set_lpm",
        &[("v", &[7])],
        0,
    );
    let tern_e = n.entry(
        "MyIngress.t_tern",
        vec![
            ("hdr.tin.k8", ternary(&[0x12], &[0xff])),
            ("hdr.tin.k16", ternary(&[0, 0], &[0x80, 0])),
        ],
        "MyIngress.set_tern",
        &[("v", &[3])],
        30,
    );
    let range_e = n.entry(
        "MyIngress.t_range",
        vec![
            ("hdr.tin.k16", range(&[100], &[200])),
            ("hdr.tin.k4", exact(&[2])),
        ],
        "MyIngress.set_range",
        &[("v", &[9])],
        10,
    );
    let opt_e = n.entry(
        "MyIngress.t_opt",
        vec![("hdr.tin.k12", optional(&[0x01, 0x23]))],
        "MyIngress.set_opt",
        &[("v", &[1])],
        5,
    );
    let ins = |e: &p4v1::TableEntry| update(Type::Insert, E::TableEntry(e.clone()));
    write(
        &mut c,
        DEV,
        Some(1),
        vec![
            ins(&exact_e),
            ins(&lpm_e),
            ins(&tern_e),
            ins(&range_e),
            ins(&opt_e),
        ],
    )
    .await
    .expect("all match kinds insert");

    // Read back one table: canonical bytestrings (0x0005 becomes 0x05).
    let got = read(&mut c, DEV, vec![table_read(n.table("MyIngress.t_exact"))])
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let Some(E::TableEntry(back)) = &got[0].entity else {
        panic!("table entry expected")
    };
    let mut want = exact_e.clone();
    want.r#match[0].field_match_type = Some(exact(&[1]));
    if let Some(p4v1::table_action::Type::Action(a)) =
        want.action.as_mut().and_then(|a| a.r#type.as_mut())
    {
        a.params[0].value = vec![5];
    }
    assert_eq!(back, &want);

    // Wildcard read of every table: the five entries plus t_const's four const entries.
    let all = read(&mut c, DEV, vec![table_read(0)]).await.unwrap();
    assert_eq!(all.len(), 9, "{all:#?}");
    let consts = all
        .iter()
        .filter(|e| matches!(&e.entity, Some(E::TableEntry(t)) if t.is_const))
        .count();
    assert_eq!(consts, 4);

    // A read keyed by match fields selects just that entry.
    let mut key = tern_e.clone();
    key.action = None;
    let one = read(
        &mut c,
        DEV,
        vec![p4v1::Entity {
            entity: Some(E::TableEntry(key)),
        }],
    )
    .await
    .unwrap();
    assert_eq!(one.len(), 1);

    // Default entries: modify only, then read back.
    let mut dflt = n.entry(
        "MyIngress.t_dflt",
        vec![],
        "MyIngress.set_dflt",
        &[("v", &[0x22])],
        0,
    );
    dflt.is_default_action = true;
    let err = write(&mut c, DEV, Some(1), vec![ins(&dflt)])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        (
            tonic::Code::Unknown,
            vec![tonic::Code::InvalidArgument as i32]
        )
    );
    write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Modify, E::TableEntry(dflt.clone()))],
    )
    .await
    .expect("modify default");
    let d = read(
        &mut c,
        DEV,
        vec![p4v1::Entity {
            entity: Some(E::TableEntry(p4v1::TableEntry {
                table_id: n.table("MyIngress.t_dflt"),
                is_default_action: true,
                ..Default::default()
            })),
        }],
    )
    .await
    .unwrap();
    assert_eq!(d.len(), 1);
    let Some(E::TableEntry(d)) = &d[0].entity else {
        panic!()
    };
    assert_eq!(d.action, dflt.action);
    // A const default action cannot be changed.
    let mut cdflt = n.entry(
        "MyIngress.t_const",
        vec![],
        "MyIngress.set_const",
        &[("v", &[1])],
        0,
    );
    cdflt.is_default_action = true;
    let err = write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Modify, E::TableEntry(cdflt))],
    )
    .await
    .unwrap_err();
    assert_eq!(err.1, vec![tonic::Code::InvalidArgument as i32]);

    // Every error code, per update and in order, the overall status UNKNOWN.
    let mut missing = exact_e.clone();
    missing.r#match[1].field_match_type = Some(exact(&[2]));
    let mut too_wide = exact_e.clone();
    too_wide.r#match[1].field_match_type = Some(exact(&[0x1f]));
    let mut no_priority = tern_e.clone();
    no_priority.priority = 0;
    let mut unknown_table = exact_e.clone();
    unknown_table.table_id = 0x0200_0001;
    let wrong_action = n.entry(
        "MyIngress.t_exact",
        vec![("hdr.tin.k16", exact(&[9])), ("hdr.tin.k4", exact(&[9]))],
        "MyIngress.set_lpm",
        &[("v", &[1])],
        0,
    );
    let fresh = n.entry(
        "MyIngress.t_exact",
        vec![("hdr.tin.k16", exact(&[0, 2])), ("hdr.tin.k4", exact(&[2]))],
        "MyIngress.nop_counted",
        &[],
        0,
    );
    let batch = vec![
        ins(&fresh),
        ins(&exact_e),
        update(Type::Delete, E::TableEntry(missing.clone())),
        update(Type::Modify, E::TableEntry(missing)),
        ins(&too_wide),
        ins(&no_priority),
        ins(&unknown_table),
        ins(&wrong_action),
        update(Type::Unspecified, E::TableEntry(fresh.clone())),
    ];
    let err = write(&mut c, DEV, Some(1), batch).await.unwrap_err();
    use tonic::Code as C;
    assert_eq!(err.0, C::Unknown);
    assert_eq!(
        err.1,
        [
            C::Ok,
            C::AlreadyExists,
            C::NotFound,
            C::NotFound,
            C::InvalidArgument,
            C::InvalidArgument,
            C::NotFound,
            C::InvalidArgument,
            C::InvalidArgument
        ]
        .iter()
        .map(|c| *c as i32)
        .collect::<Vec<_>>()
    );
    // The successful update of the failed batch was applied (CONTINUE_ON_ERROR).
    assert_eq!(
        read(&mut c, DEV, vec![table_read(n.table("MyIngress.t_exact"))])
            .await
            .unwrap()
            .len(),
        2
    );

    // Other atomicity modes are answered as BMv2 does.
    let req = p4v1::WriteRequest {
        device_id: DEV,
        election_id: election(1),
        updates: vec![update(Type::Delete, E::TableEntry(fresh.clone()))],
        atomicity: Atomicity::RollbackOnError as i32,
        ..Default::default()
    };
    assert_eq!(c.write(req).await.unwrap_err().code(), C::Unimplemented);

    // Delete and modify work; counters of the direct counter read with wildcards.
    let mut modified = exact_e.clone();
    modified.action = n
        .entry(
            "MyIngress.t_exact",
            vec![],
            "MyIngress.set_b",
            &[("y", &[1]), ("z", &[0x10, 0])],
            0,
        )
        .action;
    write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Modify, E::TableEntry(modified.clone()))],
    )
    .await
    .expect("modify");
    write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Delete, E::TableEntry(fresh))],
    )
    .await
    .expect("delete");
    let counters = read(
        &mut c,
        DEV,
        vec![p4v1::Entity {
            entity: Some(E::DirectCounterEntry(p4v1::DirectCounterEntry::default())),
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        counters.len(),
        1,
        "one entry in the table with the direct counter"
    );
    let Some(E::DirectCounterEntry(dc)) = &counters[0].entity else {
        panic!()
    };
    assert_eq!(
        dc.data,
        Some(p4v1::CounterData {
            byte_count: 0,
            packet_count: 0
        })
    );

    // Direct counters can be written.
    let mut key = modified.clone();
    key.action = None;
    let set = p4v1::DirectCounterEntry {
        table_entry: Some(key.clone()),
        data: Some(p4v1::CounterData {
            byte_count: 100,
            packet_count: 2,
        }),
    };
    write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Modify, E::DirectCounterEntry(set.clone()))],
    )
    .await
    .expect("counter write");
    let back = read(
        &mut c,
        DEV,
        vec![p4v1::Entity {
            entity: Some(E::DirectCounterEntry(set.clone())),
        }],
    )
    .await
    .unwrap();
    let Some(E::DirectCounterEntry(dc)) = &back[0].entity else {
        panic!()
    };
    assert_eq!(dc.data, set.data);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_registers_read_with_wildcards() {
    let Some((source, p4info)) = reference("state") else {
        return;
    };
    let h = Harness::start(DEV).await;
    let n = Names(&p4info);
    let mut c = h.client().await;
    let (_s, _) = Stream::open(&mut c, DEV, 1).await;
    push(&mut c, DEV, 1, &source, &p4info, Action::VerifyAndCommit)
        .await
        .expect("push");

    let counter_cells: i64 = p4info.counters.iter().map(|c| c.size).sum();
    let all = read(
        &mut c,
        DEV,
        vec![p4v1::Entity {
            entity: Some(E::CounterEntry(p4v1::CounterEntry::default())),
        }],
    )
    .await
    .unwrap();
    assert_eq!(all.len() as i64, counter_cells);

    let key_cnt = n.counter("MyIngress.key_cnt");
    let cell = p4v1::CounterEntry {
        counter_id: key_cnt,
        index: Some(p4v1::Index { index: 3 }),
        data: Some(p4v1::CounterData {
            byte_count: 640,
            packet_count: 10,
        }),
    };
    write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Modify, E::CounterEntry(cell))],
    )
    .await
    .expect("counter write");
    let one = read(
        &mut c,
        DEV,
        vec![p4v1::Entity {
            entity: Some(E::CounterEntry(p4v1::CounterEntry {
                counter_id: key_cnt,
                index: Some(p4v1::Index { index: 3 }),
                data: None,
            })),
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        one,
        vec![p4v1::Entity {
            entity: Some(E::CounterEntry(cell))
        }]
    );
    let whole = read(
        &mut c,
        DEV,
        vec![p4v1::Entity {
            entity: Some(E::CounterEntry(p4v1::CounterEntry {
                counter_id: key_cnt,
                ..Default::default()
            })),
        }],
    )
    .await
    .unwrap();
    assert_eq!(whole.len(), 16);

    // Counters can only be modified; indices must be in range.
    let err = write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Insert, E::CounterEntry(cell))],
    )
    .await
    .unwrap_err();
    assert_eq!(err.1, vec![tonic::Code::InvalidArgument as i32]);
    let mut out_of_range = cell;
    out_of_range.index = Some(p4v1::Index { index: 16 });
    let err = write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Modify, E::CounterEntry(out_of_range))],
    )
    .await
    .unwrap_err();
    assert_eq!(err.1, vec![tonic::Code::InvalidArgument as i32]);
    let mut unknown = cell;
    unknown.counter_id = 0x1200_0001;
    let err = write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Modify, E::CounterEntry(unknown))],
    )
    .await
    .unwrap_err();
    assert_eq!(err.1, vec![tonic::Code::NotFound as i32]);

    // Registers: wildcard read, write, read back.
    let register_cells: i64 = p4info.registers.iter().map(|r| i64::from(r.size)).sum();
    let regs = read(
        &mut c,
        DEV,
        vec![p4v1::Entity {
            entity: Some(E::RegisterEntry(p4v1::RegisterEntry::default())),
        }],
    )
    .await
    .unwrap();
    assert_eq!(regs.len() as i64, register_cells);
    let reg = &p4info.registers[0];
    let reg_id = reg.preamble.as_ref().unwrap().id;
    assert_eq!(n.register(&reg.preamble.as_ref().unwrap().name), reg_id);
    let value = p4v1::RegisterEntry {
        register_id: reg_id,
        index: Some(p4v1::Index { index: 0 }),
        data: Some(p4v1::P4Data {
            data: Some(p4v1::p4_data::Data::Bitstring(vec![0x2a])),
        }),
    };
    write(
        &mut c,
        DEV,
        Some(1),
        vec![update(Type::Modify, E::RegisterEntry(value.clone()))],
    )
    .await
    .expect("register write");
    let mut wanted = value.clone();
    wanted.data = None;
    let back = read(
        &mut c,
        DEV,
        vec![p4v1::Entity {
            entity: Some(E::RegisterEntry(wanted)),
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        back,
        vec![p4v1::Entity {
            entity: Some(E::RegisterEntry(value))
        }]
    );

    // Multicast groups are kept and read back.
    use p4v1::packet_replication_engine_entry::Type as Pre;
    let group = p4v1::PacketReplicationEngineEntry {
        r#type: Some(Pre::MulticastGroupEntry(p4v1::MulticastGroupEntry {
            multicast_group_id: 1,
            replicas: vec![
                p4v1::Replica {
                    port_kind: Some(p4v1::replica::PortKind::Port(vec![1])),
                    instance: 0,
                },
                p4v1::Replica {
                    port_kind: Some(p4v1::replica::PortKind::Port(vec![2])),
                    instance: 0,
                },
            ],
            metadata: vec![],
        })),
    };
    let pre = |t: Type| update(t, E::PacketReplicationEngineEntry(group.clone()));
    write(&mut c, DEV, Some(1), vec![pre(Type::Insert)])
        .await
        .expect("group insert");
    let err = write(&mut c, DEV, Some(1), vec![pre(Type::Insert)])
        .await
        .unwrap_err();
    assert_eq!(err.1, vec![tonic::Code::AlreadyExists as i32]);
    let groups = read(
        &mut c,
        DEV,
        vec![p4v1::Entity {
            entity: Some(E::PacketReplicationEngineEntry(
                p4v1::PacketReplicationEngineEntry {
                    r#type: Some(Pre::MulticastGroupEntry(
                        p4v1::MulticastGroupEntry::default(),
                    )),
                },
            )),
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        groups,
        vec![p4v1::Entity {
            entity: Some(E::PacketReplicationEngineEntry(group.clone()))
        }]
    );
    write(&mut c, DEV, Some(1), vec![pre(Type::Delete)])
        .await
        .expect("group delete");
    h.stop().await;
}
