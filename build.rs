//! Compiles `proto/` into Rust stubs without a system `protoc`.
//!
//! `protox` parses the schema into a descriptor set; `tonic-prost-build`
//! generates messages and client stubs (and server stubs under the
//! `emulator` feature). The encoded descriptor set, custom options included,
//! is written to `OUT_DIR` for runtime reflection. `build/methods.rs` emits
//! the method table (`proto::METHODS`), the path constants (`proto::paths`)
//! the RPC markers (`services::rpc`) and the service handles with their
//! `*_request` constructors (`services::CustomerService`, …) from the same
//! descriptors.

use std::path::{Path, PathBuf};

#[path = "build/methods.rs"]
mod methods;

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

    let pool = compiler.descriptor_pool();
    let rows = methods::rows(&pool)?;
    std::fs::write(out_dir.join("methods.rs"), methods::table(&rows))?;
    std::fs::write(out_dir.join("paths.rs"), methods::paths(&rows))?;
    std::fs::write(out_dir.join("rpc.rs"), methods::markers(&rows))?;
    std::fs::write(out_dir.join("handles.rs"), methods::handles(&rows)?)?;

    let mut config = prost_build::Config::new();
    config.enable_type_names();
    // Any.type_url must be `type.googleapis.com/<full name>`, as the API sends.
    config.type_name_domain(["."], "type.googleapis.com");

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(server)
        .build_transport(true)
        .extern_path(".google.rpc", "::tonic_types::pb")
        // tonic's prost codec with small starting buffers (src/transport/codec.rs).
        .codec_path("crate::transport::codec::ProstCodec")
        .include_file("_includes.rs")
        .compile_fds_with_config(fds, config)?;
    Ok(())
}
