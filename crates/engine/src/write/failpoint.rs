//! Where a write can be made to wait, for crash tests that `kill -9` it there.

/// A point where a write stops for a crash test: with `MINERVA_FAILPOINT=<point>:<file>` in the
/// environment, a write reaching `<point>` (`first-file`: one file written, more to come;
/// `commit`: every file written, nothing committed; `clean`: committed, nothing cleaned up)
/// creates `<file>` and waits there, for the test to `kill -9` it.
pub(crate) async fn pause(point: &str) {
    let Ok(spec) = std::env::var("MINERVA_FAILPOINT") else {
        return;
    };
    if let Some((name, marker)) = spec.split_once(':')
        && name == point
    {
        let _ = std::fs::write(marker, point);
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}
