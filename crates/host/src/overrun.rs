//! The manifest's `onOverrun` policy: what a periodic module's next activations do after one
//! finished past its deadline. Pure bookkeeping; the Host asks before each activation whether to
//! run it and tells afterwards whether it was on time, then emits what this says happened.
//!
//! Why these three: `skip-next` gives the processor back once (a transient overload clears);
//! `degrade` halves the module's demand until it has proven on time again (a sustained overload
//! no longer cascades into its neighbours); `stop` is for modules whose late output is worse
//! than none.

use silverline_manifest::OverrunPolicy;
use silverline_proto::status::SkipReason;

/// Activations in a row that must finish on time before a degraded module runs at full rate.
pub(crate) const RECOVERY_STREAK: u32 = 8;

/// Per-module policy state.
#[derive(Debug, Default)]
pub(crate) struct Overrun {
    skip_next: bool,
    degraded: bool,
    on_time: u32,
}

/// What the Host must do after an activation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum After {
    Nothing,
    /// `degrade` just started.
    Degraded,
    /// A degraded module is back at full rate from the next activation.
    Recovered,
    /// `stop`: fail the module.
    Stop,
}

impl Overrun {
    /// Before activation `k`: `Some(reason)` if the policy skips it.
    pub(crate) fn skip(&mut self, k: i64) -> Option<SkipReason> {
        if std::mem::take(&mut self.skip_next) {
            return Some(SkipReason::SkipNext);
        }
        // Odd indices: every Host agrees which half runs, whatever the phase the miss came in.
        (self.degraded && k.rem_euclid(2) == 1).then_some(SkipReason::Degrade)
    }

    /// After an activation that ran: did it miss its deadline?
    pub(crate) fn after(&mut self, policy: OverrunPolicy, missed: bool) -> After {
        if missed {
            self.on_time = 0;
            return match policy {
                OverrunPolicy::Continue => After::Nothing,
                OverrunPolicy::SkipNext => {
                    self.skip_next = true;
                    After::Nothing
                }
                OverrunPolicy::Degrade if self.degraded => After::Nothing,
                OverrunPolicy::Degrade => {
                    self.degraded = true;
                    After::Degraded
                }
                OverrunPolicy::Stop => After::Stop,
            };
        }
        if !self.degraded {
            return After::Nothing;
        }
        self.on_time += 1;
        if self.on_time < RECOVERY_STREAK {
            return After::Nothing;
        }
        self.degraded = false;
        self.on_time = 0;
        After::Recovered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_runs_everything() {
        let mut o = Overrun::default();
        assert_eq!(o.after(OverrunPolicy::Continue, true), After::Nothing);
        assert_eq!(o.skip(1), None);
        assert_eq!(o.skip(2), None);
    }

    #[test]
    fn skip_next_skips_exactly_one() {
        let mut o = Overrun::default();
        assert_eq!(o.after(OverrunPolicy::SkipNext, true), After::Nothing);
        assert_eq!(o.skip(11), Some(SkipReason::SkipNext));
        assert_eq!(o.skip(12), None);
    }

    #[test]
    fn degrade_halves_the_rate_until_eight_on_time() {
        let mut o = Overrun::default();
        assert_eq!(o.after(OverrunPolicy::Degrade, true), After::Degraded);
        let ran: Vec<i64> = (10..20).filter(|k| o.skip(*k).is_none()).collect();
        assert_eq!(ran, vec![10, 12, 14, 16, 18]);
        // A further miss while degraded restarts the streak but reports nothing new.
        assert_eq!(o.after(OverrunPolicy::Degrade, true), After::Nothing);
        for _ in 0..RECOVERY_STREAK - 1 {
            assert_eq!(o.after(OverrunPolicy::Degrade, false), After::Nothing);
        }
        assert_eq!(o.after(OverrunPolicy::Degrade, false), After::Recovered);
        assert_eq!(o.skip(21), None, "full rate again");
    }

    #[test]
    fn stop_stops() {
        let mut o = Overrun::default();
        assert_eq!(o.after(OverrunPolicy::Stop, false), After::Nothing);
        assert_eq!(o.after(OverrunPolicy::Stop, true), After::Stop);
    }
}
