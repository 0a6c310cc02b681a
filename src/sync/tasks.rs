//! The tasks waiting on each doorbell: one waker per handle that polled
//! ([`TaskSlot`]), so that cancelled operations never pile up, and the rule
//! every async wait follows ([`TaskBells`]).

use super::signals::{Bell, BELLS};
use crate::sync::{loom_sc_fence, AtomicUsize, Mutex, Ordering};

/// Where a task that polls through one handle keeps its waker: a place of
/// its own in every bell's list, taken at the handle's first `Pending` poll
/// and given back when the handle drops (a pipe used only by threads never
/// takes one). A writer handle has a second one for its `consumed` futures.
///
/// `0` while none was taken, else the index plus one.
#[derive(Debug, Default)]
pub(crate) struct TaskSlot(std::sync::atomic::AtomicUsize);

impl TaskSlot {
    /// No place taken yet.
    pub(crate) const fn new() -> Self {
        Self(std::sync::atomic::AtomicUsize::new(0))
    }
}

/// How many wakers a bell keeps for tasks that polled through a handle whose
/// place another task took since (several tasks sharing one `&PipeReader`):
/// past this the oldest is woken and dropped (it polls again and takes its
/// place back if it still waits).
const SHARED_HANDLE_WAKERS: usize = 4;

/// One bell's wakers.
#[derive(Default)]
struct Wakers {
    /// The listed wakers, with the place each is listed under.
    listed: Vec<(usize, std::task::Waker)>,
    /// Per place, its index in `listed` plus one (`0`: nothing listed).
    at: Vec<usize>,
    /// Wakers pushed out of their place by another task polling through the
    /// same handle, oldest first; at most [`SHARED_HANDLE_WAKERS`].
    displaced: std::collections::VecDeque<std::task::Waker>,
}

impl Wakers {
    /// How many wakers are held.
    fn len(&self) -> usize {
        self.listed.len() + self.displaced.len()
    }

    /// Removes what place `place` has listed.
    fn unlist(&mut self, place: usize) -> Option<std::task::Waker> {
        let i = self.at.get(place).copied().filter(|&i| i != 0)? - 1;
        self.at[place] = 0;
        let (_, waker) = self.listed.swap_remove(i);
        if let Some(&(moved, _)) = self.listed.get(i) {
            self.at[moved] = i + 1;
        }
        Some(waker)
    }
}

/// The tasks waiting on each doorbell: one waker per place ([`TaskSlot`]) per
/// bell, so that operations that returned `Pending` and were then dropped
/// (their state lives in the caller's future, which cannot tell the pipe)
/// never pile up: the next `Pending` poll through the same handle replaces
/// its waker. A pipe holds at most one waker per bell for each handle that
/// polled and each writer handle whose `consumed` waited, plus
/// [`SHARED_HANDLE_WAKERS`] per bell;
/// registering costs the same however many tasks wait.
///
/// # The rule every async wait follows
///
/// A task that finds nothing to do registers first, then looks again at
/// everything that could have completed it (a close of either half, room in
/// the stage, staged bytes taken, the write side freed) before it returns
/// `Pending`; whoever changes any of those changes it first (`SeqCst`) and
/// rings after. Registering is `SeqCst` on the count before that last look,
/// and a ring looks at the count after its change, so one of the two sees
/// the other (as with the threads' `sleepers`). A ring wakes every task on
/// its bell: a task woken for nothing looks, finds nothing and registers
/// again, while waking only one could spend the wake-up on a task that was
/// dropped. Closing either half wakes every task on every bell.
///
/// No waker is cloned, woken or dropped under a list's lock: that is the
/// executor's code.
pub(super) struct TaskBells {
    /// Wakers held per bell, so that a ring skips the lock when none is.
    count: [AtomicUsize; BELLS],
    /// The wakers, per bell.
    lists: [Mutex<Wakers>; BELLS],
    /// Places given back, for the next handle that needs one, and how many
    /// were ever handed out.
    places: Mutex<(Vec<usize>, usize)>,
}

impl TaskBells {
    /// No task waits.
    pub(super) fn new() -> Self {
        Self {
            count: std::array::from_fn(|_| AtomicUsize::new(0)),
            lists: std::array::from_fn(|_| Mutex::new(Wakers::default())),
            places: Mutex::new((Vec::new(), 0)),
        }
    }

    /// The place of `slot`, taking one at its first use.
    fn place(&self, slot: &TaskSlot) -> usize {
        // ORDERING: Relaxed: the place is only an index into lists that are
        // behind locks; a race between two first uses is settled by the CAS.
        match slot.0.load(std::sync::atomic::Ordering::Relaxed) {
            0 => {}
            n => return n - 1,
        }
        let mine = {
            let mut places = self.places.lock();
            match places.0.pop() {
                Some(place) => place,
                None => {
                    places.1 += 1;
                    places.1 - 1
                }
            }
        };
        // ORDERING: as above.
        match slot.0.compare_exchange(
            0,
            mine + 1,
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
        ) {
            Ok(_) => mine,
            Err(theirs) => {
                self.places.lock().0.push(mine);
                theirs - 1
            }
        }
    }

    /// Gives `slot`'s place back (its handle or future is going away), with
    /// the wakers it holds.
    pub(super) fn release(&self, slot: &TaskSlot) {
        // ORDERING: the slot's owner is being dropped: nobody else uses it.
        let place = match slot.0.swap(0, std::sync::atomic::Ordering::Relaxed) {
            0 => return,
            n => n - 1,
        };
        let mut dropped = Vec::new();
        for (bell, list) in self.lists.iter().enumerate() {
            let mut list = list.lock();
            if let Some(waker) = list.unlist(place) {
                self.count[bell].fetch_sub(1, Ordering::SeqCst);
                dropped.push(waker);
            }
        }
        self.places.lock().0.push(place);
        drop(dropped);
    }

    /// Lists `waker` on `bell` under `slot`'s place, in place of what that
    /// place held.
    pub(super) fn register(&self, bell: Bell, slot: &TaskSlot, waker: &std::task::Waker) {
        let place = self.place(slot);
        // Cloned before the lock (it is the executor's code), and dropped
        // after it if the place already holds a waker for the same task.
        let fresh = waker.clone();
        let mut list = self.lists[bell as usize].lock();
        let mut spare = None;
        let mut evicted = None;
        let before = list.len();
        match list.at.get(place).copied().unwrap_or(0) {
            0 => {
                if list.at.len() <= place {
                    list.at.resize(place + 1, 0);
                }
                list.listed.push((place, fresh));
                let i = list.listed.len();
                list.at[place] = i;
            }
            i if list.listed[i - 1].1.will_wake(waker) => spare = Some(fresh),
            i => {
                let old = std::mem::replace(&mut list.listed[i - 1].1, fresh);
                // Another task polled through the same handle: keep the one it
                // pushed out for a while (both may still wait).
                list.displaced.push_back(old);
                if list.displaced.len() > SHARED_HANDLE_WAKERS {
                    evicted = list.displaced.pop_front();
                }
            }
        }
        let after = list.len();
        // ORDERING: SeqCst, before the task's next look at the state (paired
        // with a ring's look at the count in `any`); under the lock, so the
        // count never drops below the wakers held.
        if after > before {
            self.count[bell as usize].fetch_add(after - before, Ordering::SeqCst);
        } else if after < before {
            self.count[bell as usize].fetch_sub(before - after, Ordering::SeqCst);
        }
        drop(list);
        loom_sc_fence();
        drop(spare);
        // Woken, not lost: if it still waits it polls again.
        if let Some(waker) = evicted {
            waker.wake();
        }
    }

    /// Whether any task waits on `bell`.
    #[inline]
    pub(super) fn any(&self, bell: Bell) -> bool {
        loom_sc_fence();
        // ORDERING: SeqCst, after the ringer's SeqCst change of the state.
        self.count[bell as usize].load(Ordering::SeqCst) != 0
    }

    /// Wakes every task waiting on `bell`.
    #[inline]
    pub(super) fn wake(&self, bell: Bell) {
        if self.any(bell) {
            self.wake_slow(bell);
        }
    }

    /// Takes the wakers of `bell` and wakes them.
    #[cold]
    fn wake_slow(&self, bell: Bell) {
        let mut list = self.lists[bell as usize].lock();
        // One task waiting is the common case: take its waker alone, so that
        // the list keeps its allocation for the next registration, with
        // nothing else to take, move or drop.
        if list.listed.len() == 1 && list.displaced.is_empty() {
            if let Some((place, waker)) = list.listed.pop() {
                list.at[place] = 0;
                // ORDERING: under the lock, as below.
                self.count[bell as usize].fetch_sub(1, Ordering::SeqCst);
                drop(list);
                waker.wake();
                return;
            }
        }
        let one = if list.listed.len() == 1 {
            list.listed.pop()
        } else {
            None
        };
        let listed = if one.is_some() {
            Vec::new()
        } else {
            std::mem::take(&mut list.listed)
        };
        let displaced = if list.displaced.is_empty() {
            std::collections::VecDeque::new()
        } else {
            std::mem::take(&mut list.displaced)
        };
        for &(place, _) in one.iter().chain(&listed) {
            list.at[place] = 0;
        }
        // ORDERING: under the lock, so the count never drops below the
        // wakers held; a register after this sees an empty list.
        self.count[bell as usize].fetch_sub(
            usize::from(one.is_some()) + listed.len() + displaced.len(),
            Ordering::SeqCst,
        );
        drop(list);
        for (_, waker) in one.into_iter().chain(listed) {
            waker.wake();
        }
        for waker in displaced {
            waker.wake();
        }
    }

    /// Wakes every task waiting on any bell (a half closed). Takes every
    /// list's lock whatever the counts say: a task registers under that lock
    /// and then looks at the closes, so it either is in a list taken here or
    /// sees the close that the caller stored before calling this.
    pub(super) fn wake_all(&self) {
        for bell in Bell::ALL {
            self.wake_slow(bell);
        }
    }

    /// How many wakers are held, over every bell (for the tests).
    pub(super) fn held(&self) -> usize {
        self.lists.iter().map(|list| list.lock().len()).sum()
    }
}
