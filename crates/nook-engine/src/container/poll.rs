//! Waiting by polling: the one loop the engine's waits share (an exit
//! being recorded, a container no longer running, a followed log whose
//! container has ended).

use std::time::{Duration, Instant};

/// Call `check` every `every` until it returns `Some` (its value), or
/// until `limit` has passed since the wait began (`None`; with no limit
/// it waits as long as it takes).  An error from `check` ends the wait at
/// once.  `check` runs at least once, and once more after the last sleep.
pub(crate) fn poll<T, E>(
    every: Duration,
    limit: Option<Duration>,
    mut check: impl FnMut() -> Result<Option<T>, E>,
) -> Result<Option<T>, E> {
    let deadline = limit.map(|l| Instant::now() + l);
    loop {
        if let Some(v) = check()? {
            return Ok(Some(v));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
        std::thread::sleep(every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn returns_the_first_value_after_sleeping_between_calls() {
        let (start, mut calls) = (Instant::now(), 0);
        let got = poll(5 * MS, None, || {
            calls += 1;
            Ok::<_, ()>((calls == 3).then_some(calls * 10))
        });
        assert_eq!(got, Ok(Some(30)));
        assert_eq!(calls, 3);
        assert!(start.elapsed() >= 10 * MS, "two sleeps between three calls");
    }

    #[test]
    fn gives_up_after_the_limit() {
        let (start, mut calls) = (Instant::now(), 0);
        let got = poll(5 * MS, Some(50 * MS), || {
            calls += 1;
            // (a wait that ignored its limit would end here, much later)
            Ok::<_, ()>((calls == 500).then_some(()))
        });
        assert_eq!(got, Ok(None));
        assert!(start.elapsed() >= 50 * MS);
        assert!(calls >= 2, "{calls}");
    }

    #[test]
    fn an_error_ends_the_wait_at_once() {
        let mut calls = 0;
        let got = poll(5 * MS, None, || {
            calls += 1;
            Err::<Option<()>, _>("broken")
        });
        assert_eq!(got, Err("broken"));
        assert_eq!(calls, 1);
    }
}
