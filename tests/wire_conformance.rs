//! Wire conformance: `proto/` must describe exactly the same schema as the
//! upstream files in `../shared/upstream-proto/`.
//!
//! Both trees are compiled with protox and reduced to a map of facts (one per
//! message, field, oneof, enum value, service and method, options included);
//! any difference fails the test with a readable list.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prost_reflect::{DescriptorPool, DynamicMessage};

fn proto_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "proto") {
                out.push(path.strip_prefix(root).expect("under root").to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

fn compile(root: &Path) -> DescriptorPool {
    let files = proto_files(root);
    assert!(
        !files.is_empty(),
        "no .proto files under {}",
        root.display()
    );
    let mut compiler = protox::Compiler::new([root]).expect("protox compiler");
    compiler.include_imports(true);
    compiler
        .open_files(&files)
        .unwrap_or_else(|e| panic!("{} does not compile: {e}", root.display()));
    compiler.descriptor_pool()
}

fn options_text(options: &DynamicMessage) -> String {
    options.to_text_format()
}

/// Every wire-relevant fact of a schema, keyed by a stable path.
fn facts(pool: &DescriptorPool) -> BTreeMap<String, String> {
    let mut f = BTreeMap::new();
    for file in pool.files() {
        if file.name().starts_with("google/protobuf/") {
            continue;
        }
        f.insert(
            format!("file {}", file.name()),
            format!(
                "package={} options={{{}}}",
                file.package_name(),
                options_text(&file.options())
            ),
        );
    }
    for msg in pool.all_messages() {
        if msg.full_name().starts_with("google.protobuf.") {
            continue;
        }
        let name = msg.full_name();
        f.insert(
            format!("message {name}"),
            format!(
                "file={} options={{{}}}",
                msg.parent_file().name(),
                options_text(&msg.options())
            ),
        );
        for field in msg.fields() {
            let fd = field.field_descriptor_proto();
            f.insert(
                format!("field {name}.{}", field.name()),
                format!(
                    "number={} type={:?} type_name={} label={:?} oneof={} proto3_optional={} json_name={} options={{{}}}",
                    fd.number(),
                    fd.r#type(),
                    fd.type_name(),
                    fd.label(),
                    field
                        .containing_oneof()
                        .map(|o| o.name().to_string())
                        .unwrap_or_default(),
                    fd.proto3_optional(),
                    fd.json_name(),
                    options_text(&field.options()),
                ),
            );
        }
        for oneof in msg.oneofs() {
            let members: Vec<_> = oneof.fields().map(|f| f.name().to_string()).collect();
            f.insert(
                format!("oneof {name}.{}", oneof.name()),
                format!(
                    "fields=[{}] options={{{}}}",
                    members.join(","),
                    options_text(&oneof.options())
                ),
            );
        }
        let reserved: Vec<_> = msg
            .reserved_ranges()
            .map(|r| format!("{}..{}", r.start, r.end))
            .chain(msg.reserved_names().map(str::to_string))
            .collect();
        if !reserved.is_empty() {
            f.insert(format!("reserved {name}"), reserved.join(","));
        }
    }
    for en in pool.all_enums() {
        if en.full_name().starts_with("google.protobuf.") {
            continue;
        }
        f.insert(
            format!("enum {}", en.full_name()),
            format!("options={{{}}}", options_text(&en.options())),
        );
        for v in en.values() {
            f.insert(
                format!("enum value {}.{}", en.full_name(), v.name()),
                format!(
                    "number={} options={{{}}}",
                    v.number(),
                    options_text(&v.options())
                ),
            );
        }
    }
    for svc in pool.services() {
        f.insert(
            format!("service {}", svc.full_name()),
            format!("options={{{}}}", options_text(&svc.options())),
        );
        for m in svc.methods() {
            f.insert(
                format!("method {}", m.full_name()),
                format!(
                    "input={} output={} client_streaming={} server_streaming={} options={{{}}}",
                    m.input().full_name(),
                    m.output().full_name(),
                    m.is_client_streaming(),
                    m.is_server_streaming(),
                    options_text(&m.options()),
                ),
            );
        }
    }
    for ext in pool.all_extensions() {
        if ext.full_name().starts_with("google.protobuf.") {
            continue;
        }
        f.insert(
            format!("extension {}", ext.full_name()),
            format!(
                "extendee={} number={} kind={:?} cardinality={:?}",
                ext.containing_message().full_name(),
                ext.number(),
                ext.kind(),
                ext.cardinality()
            ),
        );
    }
    f
}

/// Lists every difference between two fact maps; empty when they agree.
fn differences(
    ours: &BTreeMap<String, String>,
    upstream: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (key, want) in upstream {
        match ours.get(key) {
            None => out.push(format!("missing in proto/: {key}\n    upstream: {want}")),
            Some(got) if got != want => out.push(format!(
                "differs: {key}\n    proto/:   {got}\n    upstream: {want}"
            )),
            Some(_) => {}
        }
    }
    for (key, got) in ours {
        if !upstream.contains_key(key) {
            out.push(format!("not in upstream: {key}\n    proto/:   {got}"));
        }
    }
    out
}

fn upstream_dir() -> PathBuf {
    std::env::var_os("YC_BILLING_UPSTREAM_PROTO")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/upstream-proto"))
}

#[test]
fn proto_matches_upstream_on_the_wire() {
    let upstream = upstream_dir();
    if !upstream.is_dir() {
        let required = std::env::var("YC_BILLING_REQUIRE_UPSTREAM").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "upstream protos not found at {} and YC_BILLING_REQUIRE_UPSTREAM=1",
            upstream.display()
        );
        eprintln!(
            "SKIPPED: upstream protos not found at {} (set YC_BILLING_UPSTREAM_PROTO, or YC_BILLING_REQUIRE_UPSTREAM=1 to fail)",
            upstream.display()
        );
        return;
    }
    let ours = facts(&compile(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("proto"),
    ));
    let theirs = facts(&compile(&upstream));
    let diffs = differences(&ours, &theirs);
    assert!(
        diffs.is_empty(),
        "proto/ differs from {} in {} place(s):\n{}",
        upstream.display(),
        diffs.len(),
        diffs.join("\n")
    );
    // Sanity: the comparison saw the schema, not an empty pool.
    assert!(
        theirs
            .keys()
            .any(|k| k == "method yandex.cloud.billing.v1.CustomerService.Invite")
    );
    assert!(theirs.len() > 300, "only {} facts compared", theirs.len());
}

#[test]
fn the_generated_descriptor_is_the_one_in_proto() {
    // The descriptor embedded in the library is what build.rs compiled.
    let pool = DescriptorPool::decode(yc_billing::proto::FILE_DESCRIPTOR_SET).expect("decode");
    let ours = facts(&compile(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("proto"),
    ));
    let embedded = facts(&pool);
    let diffs = differences(&embedded, &ours);
    assert!(
        diffs.is_empty(),
        "embedded descriptor differs:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn differences_are_reported_readably() {
    let mut a = BTreeMap::new();
    a.insert("field x.y".to_string(), "number=1".to_string());
    let mut b = a.clone();
    b.insert("field x.y".to_string(), "number=2".to_string());
    b.insert("field x.z".to_string(), "number=3".to_string());
    let d = differences(&a, &b);
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(
        d[0].contains("differs: field x.y")
            && d[0].contains("number=1")
            && d[0].contains("number=2")
    );
    assert!(d[1].contains("missing in proto/: field x.z"));
}
