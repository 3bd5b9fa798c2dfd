//! `silverline keygen` and `silverline sign`: module publishers' keys and signatures
//! (docs/security.md, "Module provenance").

use anyhow::Context;
use silverline_security::provenance::sign_module;
use silverline_security::signing::KeyPair;
use std::path::PathBuf;

/// Arguments of `silverline keygen`.
#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Where to write the private key (mode 0600); the public key is printed.
    out: PathBuf,
}

/// Arguments of `silverline sign`.
#[derive(clap::Args)]
pub struct SignArgs {
    /// The module (binary Wasm).
    module: PathBuf,
    /// The publisher's private key (from `silverline keygen`).
    #[arg(long)]
    key: PathBuf,
    /// Where to write the signed module (default: in place).
    #[arg(short, long)]
    out: Option<PathBuf>,
}

pub fn keygen(args: KeygenArgs) -> anyhow::Result<i32> {
    anyhow::ensure!(!args.out.exists(), "{} exists; not overwriting a key", args.out.display());
    let key = KeyPair::load_or_create(&args.out)?;
    println!("{}", key.public_hex());
    eprintln!("private key in {}; give Hosts the public key above (`silverline host --trust-publisher KEY`)", args.out.display());
    Ok(0)
}

pub fn sign(args: SignArgs) -> anyhow::Result<i32> {
    let key = KeyPair::load(&args.key)?;
    let wasm = std::fs::read(&args.module).with_context(|| format!("reading {}", args.module.display()))?;
    let signed = sign_module(&wasm, &key).map_err(|e| anyhow::anyhow!("{}: {e}", args.module.display()))?;
    let out = args.out.unwrap_or(args.module);
    std::fs::write(&out, signed).with_context(|| format!("writing {}", out.display()))?;
    println!("{} signed by {}", out.display(), key.public_hex());
    Ok(0)
}
