//! Peak resident memory.
//!
//! - Of this process so far: `VmHWM` of `/proc/self/status` ([`own_peak_kib`]).
//! - Of a command: `--child-rss -- CMD ARGS...` runs CMD as the only child of a small
//!   intermediate process, waits for it and prints `maxrss_kib=N` from
//!   `getrusage(RUSAGE_CHILDREN)` (the kernel's high-water mark of the child, counted whatever
//!   it does, to its last page), so that nothing else this program runs is mixed in
//!   ([`peak_of_command`]).
//!
//! Linux only (both sources are Linux's); elsewhere the figures are reported as unavailable.

use std::process::Command;

/// `VmHWM` (peak resident set) of this process in KiB.
pub fn own_peak_kib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Largest resident set of the waited-for children of this process, in KiB.
#[cfg(target_os = "linux")]
pub fn children_peak_kib() -> Option<u64> {
    // SAFETY: all-zero bytes are a valid `rusage` (integers and `timeval`s only).
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable `rusage` for the call to fill in.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    // ru_maxrss is in KiB on Linux
    (rc == 0).then(|| u.ru_maxrss.max(0) as u64)
}

/// Not available on this platform.
#[cfg(not(target_os = "linux"))]
pub fn children_peak_kib() -> Option<u64> {
    None
}

/// The intermediate process: runs `args` (after an optional `--`), passes its output through,
/// prints `maxrss_kib=N`, exits with the command's status.
pub fn child_rss(args: &[String]) -> i32 {
    let args = match args.first().map(String::as_str) {
        Some("--") => &args[1..],
        _ => args,
    };
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("--child-rss needs a command");
        return 2;
    };
    match Command::new(cmd).args(rest).status() {
        Ok(status) => {
            match children_peak_kib() {
                Some(k) => println!("maxrss_kib={k}"),
                None => println!("maxrss_kib=unavailable"),
            }
            status.code().unwrap_or(1)
        }
        Err(e) => {
            eprintln!("cannot run {cmd}: {e}");
            2
        }
    }
}

/// Output and peak RSS (KiB) of `cmd args` run through the intermediate (`--child-rss`).
pub fn peak_of_command(
    cmd: &std::path::Path,
    args: &[String],
) -> anyhow::Result<(String, Option<u64>)> {
    let me = std::env::current_exe()?;
    let out = Command::new(me)
        .arg("--child-rss")
        .arg("--")
        .arg(cmd)
        .args(args)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        anyhow::bail!(
            "{} failed ({}):\n{}{}",
            cmd.display(),
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let kib = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("maxrss_kib="))
        .and_then(|v| v.trim().parse().ok());
    Ok((stdout, kib))
}

/// KiB as GiB.
pub fn gib(kib: u64) -> f64 {
    kib as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_peak_grows_with_a_touched_buffer() {
        let before = own_peak_kib().expect("VmHWM on Linux");
        let v = vec![1u8; 64 << 20];
        std::hint::black_box(&v);
        let after = own_peak_kib().expect("VmHWM");
        assert!(
            after >= before + 60 * 1024,
            "VmHWM {before} -> {after} KiB after touching 64 MiB"
        );
    }

    #[test]
    fn children_peak_counts_a_waited_child() {
        // `sh -c` with a 40 MB string held in a variable; the child's RSS exceeds 30 MiB.
        let status = Command::new("sh")
            .arg("-c")
            .arg("x=$(head -c 40000000 /dev/zero | tr '\\0' a); echo ${#x} > /dev/null")
            .status()
            .expect("sh");
        assert!(status.success());
        let k = children_peak_kib().expect("getrusage");
        assert!(k > 30 * 1024, "children max RSS {k} KiB");
    }
}
