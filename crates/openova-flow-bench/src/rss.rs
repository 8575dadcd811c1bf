//! Resident memory of a local process (`/proc/<pid>/status`, Linux).

/// `VmRSS` of `pid` in KiB; `None` if unreadable.
pub fn read_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

/// Extracts `VmRSS:   1234 kB`.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status() {
        assert_eq!(
            parse_vm_rss("Name:\tx\nVmRSS:\t   20480 kB\nThreads: 3\n"),
            Some(20480)
        );
        assert_eq!(parse_vm_rss("Name: x\n"), None);
        assert!(read_rss_kib(std::process::id()).is_some_and(|kib| kib > 0));
    }
}
