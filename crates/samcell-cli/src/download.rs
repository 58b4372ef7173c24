//! Downloading a model file over HTTP(S) with `ureq`.
//!
//! The body is streamed into a temporary file in the destination folder (`.samcell-download-*`),
//! with a byte progress bar on a terminal. The file is checked (size against `Content-Length`,
//! and that it starts like a checkpoint: a PyTorch zip or safetensors, so that an HTML error page
//! is never cached as a model), flushed to disk, and only then renamed onto the destination. Any
//! failure leaves no file at the destination and removes the temporary file.

use crate::progress::Terminal;
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// Downloads `url` to `dest` (atomically, see the module doc).
pub fn fetch_to(url: &str, dest: &Path, term: &Terminal) -> Result<()> {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the model cache folder {}", dir.display()))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .user_agent(concat!("samcell/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::StatusCode(code) => anyhow::anyhow!("the server answered HTTP {code}"),
        other => anyhow::anyhow!("request failed: {other}"),
    })?;
    // with a Content-Encoding the length is that of the encoded body; ureq decodes gzip itself
    let encoded = response.headers().contains_key("content-encoding");
    let len = response.body().content_length().filter(|_| !encoded);
    let mut reader = response.into_body().into_reader();
    let mut tmp = tempfile::Builder::new()
        .prefix(".samcell-download-")
        .suffix(".part")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bar = term.download_bar(len, &format!("downloading {name}"));
    let mut buf = vec![0u8; 1 << 20];
    let mut total: u64 = 0;
    let mut head = Vec::with_capacity(16);
    loop {
        let n = reader.read(&mut buf).context("download interrupted")?;
        if n == 0 {
            break;
        }
        if head.len() < 16 {
            let take = (16 - head.len()).min(n);
            head.extend_from_slice(&buf[..take]);
        }
        tmp.write_all(&buf[..n])
            .context("cannot write the downloaded data")?;
        total += n as u64;
        bar.set_position(total);
    }
    bar.finish_and_clear();
    if let Some(expected) = len {
        if total != expected {
            bail!("download incomplete: got {total} of {expected} bytes");
        }
    }
    if !looks_like_checkpoint(&head) {
        bail!("the server's answer ({total} bytes) is not a PyTorch or safetensors checkpoint");
    }
    tmp.as_file()
        .sync_all()
        .context("cannot flush the downloaded file to disk")?;
    tmp.persist(dest).map_err(|e| {
        anyhow::anyhow!(
            "cannot move the download to {}: {}",
            dest.display(),
            e.error
        )
    })?;
    tracing::info!("downloaded {url} ({total} bytes) to {}", dest.display());
    Ok(())
}

/// First bytes of a `torch.save` zip (`PK\x03\x04`) or a safetensors file (u64 header length,
/// then `{`).
fn looks_like_checkpoint(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04") || (head.len() > 8 && head[8] == b'{')
}

#[cfg(test)]
mod tests {
    use super::looks_like_checkpoint;

    #[test]
    fn checkpoint_sniffing() {
        assert!(looks_like_checkpoint(b"PK\x03\x04rest"));
        assert!(looks_like_checkpoint(b"\x10\0\0\0\0\0\0\0{\"a\""));
        assert!(!looks_like_checkpoint(b"<!DOCTYPE html>"));
        assert!(!looks_like_checkpoint(b""));
    }
}
