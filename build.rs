//! Compiles `proto/` into Rust stubs without a system `protoc`.
//!
//! `protox` parses the schema into a descriptor set; `tonic-prost-build`
//! generates messages and client stubs (and server stubs under the
//! `emulator` feature). The encoded descriptor set, custom options included,
//! is written to `OUT_DIR` for runtime reflection.

use std::path::{Path, PathBuf};

fn proto_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            proto_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let server = std::env::var_os("CARGO_FEATURE_EMULATOR").is_some();

    let mut files = Vec::new();
    proto_files(&root, &mut files)?;
    // tonic-prost-build does not emit these when given a descriptor set.
    println!("cargo:rerun-if-changed={}", root.display());
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let relative: Vec<PathBuf> = files
        .iter()
        .map(|f| f.strip_prefix(&root).map(Path::to_path_buf))
        .collect::<Result<_, _>>()?;

    let mut compiler = protox::Compiler::new([&root])?;
    compiler.include_imports(true);
    compiler.open_files(&relative)?;

    // Raw bytes keep the custom options (validation, api.operation, http)
    // that a decode into prost-types would drop.
    std::fs::write(
        out_dir.join("yc_billing_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    // google.rpc resolves to tonic-types (prost-build skips extern types),
    // so Status and its error details are not generated a second time.
    let fds = compiler.file_descriptor_set();

    write_operation_methods(
        &compiler.descriptor_pool(),
        &out_dir.join("operation_methods.rs"),
    )?;

    let mut config = prost_build::Config::new();
    config.enable_type_names();
    // Any.type_url must be `type.googleapis.com/<full name>`, as the API sends.
    config.type_name_domain(["."], "type.googleapis.com");

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(server)
        .build_transport(true)
        .extern_path(".google.rpc", "::tonic_types::pb")
        .include_file("_includes.rs")
        .compile_fds_with_config(fds, config)?;
    Ok(())
}

/// Resolves a type name from the `(yandex.cloud.api.operation)` option the
/// way protoc does: relative to the method's package, innermost scope first.
fn resolve_type(pool: &prost_reflect::DescriptorPool, package: &str, name: &str) -> Option<String> {
    // Well-known types (google.protobuf.Empty) need not be imported.
    if name.starts_with("google.protobuf.") {
        return Some(name.to_owned());
    }
    if let Some(abs) = name.strip_prefix('.') {
        return pool
            .get_message_by_name(abs)
            .map(|m| m.full_name().to_owned());
    }
    let mut scope = package.to_owned();
    loop {
        let candidate = if scope.is_empty() {
            name.to_owned()
        } else {
            format!("{scope}.{name}")
        };
        if let Some(m) = pool.get_message_by_name(&candidate) {
            return Some(m.full_name().to_owned());
        }
        if scope.is_empty() {
            return None;
        }
        scope = scope
            .rsplit_once('.')
            .map(|(s, _)| s.to_owned())
            .unwrap_or_default();
    }
}

/// Emits one `OperationMethod` per RPC that carries the
/// `(yandex.cloud.api.operation)` option, with resolved type names.
fn write_operation_methods(
    pool: &prost_reflect::DescriptorPool,
    path: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let ext = pool
        .get_extension_by_name("yandex.cloud.api.operation")
        .ok_or("extension yandex.cloud.api.operation not found in proto/")?;
    let mut rows = String::new();
    for service in pool.services() {
        for method in service.methods() {
            let options = method.options();
            if !options.has_extension(&ext) {
                continue;
            }
            let value = options.get_extension(&ext);
            let op = value.as_message().ok_or("api.operation is not a message")?;
            let field = |n: &str| {
                op.get_field_by_name(n)
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            let package = service.package_name();
            let (metadata, response) = (field("metadata"), field("response"));
            let metadata = if metadata.is_empty() {
                String::new()
            } else {
                resolve_type(pool, package, &metadata).ok_or_else(|| {
                    format!("{}: metadata type {metadata} not found", method.full_name())
                })?
            };
            let response = resolve_type(pool, package, &response).ok_or_else(|| {
                format!("{}: response type {response} not found", method.full_name())
            })?;
            rows.push_str(&format!(
                "    OperationMethod {{ path: \"/{}/{}\", metadata: {:?}, response: {:?} }},\n",
                service.full_name(),
                method.name(),
                metadata,
                response
            ));
        }
    }
    std::fs::write(path, format!("&[\n{rows}]\n"))?;
    Ok(())
}
