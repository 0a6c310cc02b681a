//! The tasks waiting on each doorbell: one waker per task per handle that
//! polled ([`TaskSlot`]), so that cancelled operations never pile up and
//! tasks sharing a handle all sleep until their bell rings, and the rule
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

/// A waker's identity (its data and vtable pointers, what
/// [`Waker::will_wake`](std::task::Waker::will_wake) compares) with the place
/// it polled through: a displaced waker's key.
type Key = (usize, usize, usize);

/// The key of `waker` polling through `place`.
fn key(place: usize, waker: &std::task::Waker) -> Key {
    (
        place,
        waker.data() as usize,
        waker.vtable() as *const _ as usize,
    )
}

/// Hashes a [`Key`] (three words, none chosen by an attacker: addresses in
/// this process) with one multiply per word; deterministic, so that a loom
/// model runs the same way each time.
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// How many displaced wakers a bell holds before it wakes them all (and
/// forgets them) at least: see [`Displaced::flush_due`]. Under loom, three, so
/// that a model of a few tasks reaches a flush.
#[cfg(not(gopipe_loom))]
const FLUSH_MIN: usize = 64;
#[cfg(gopipe_loom)]
const FLUSH_MIN: usize = 3;

/// How many flushes' worth of keys (at the current bound) a bell remembers
/// to tell the tasks that came back: see [`Displaced::flush`].
const FLUSHED_KEPT: usize = 8;

/// One bell's wakers: per place, the waker of the task that last polled
/// through it (`listed`), and the wakers of other tasks that polled through
/// the same place and were pushed out of it since (the displaced ones,
/// [`Displaced`], several tasks sharing one `&PipeReader`).
///
/// Invariants (under the list's lock):
/// - `at[place]` is the index in `listed` of `place`'s entry plus one, `0`
///   when it has none; each place has at most one entry;
/// - the displaced `index` maps each key of its `wakers` to its index
///   there, and holds nothing else; a key is displaced at most once;
/// - a waker listed under a place is not also displaced under it (a task's
///   wakers for one place are one entry).
///
/// So a bell holds at most one waker for each (place, waker identity) that
/// registered since the bell last rang (a ring takes and wakes them all),
/// and, of the displaced ones, only those since their last flush, which
/// keeps them within a constant factor of the tasks still waiting
/// ([`Displaced::flush_due`]); it gives a place's back when its handle drops
/// (`TaskBells::release`);
/// The displaced `index` keeps its capacity across rings (the most wakers displaced at
/// once). A task polls with one
/// waker on every executor in common use (tokio, smol, async-std, futures'
/// executors and `FuturesUnordered` all give a task the same waker each
/// poll), so that is one waker per task waiting per place; a task that wraps
/// its waker into a fresh one at every poll counts once per `Pending` poll
/// through a place another waker took since, until the bell rings, the
/// next flush or the handle drops.
#[derive(Default)]
struct Wakers {
    /// The listed wakers, with the place each is listed under.
    listed: Vec<(usize, std::task::Waker)>,
    /// Per place, its index in `listed` plus one (`0`: nothing listed).
    at: Vec<usize>,
    /// The displaced wakers and their bookkeeping: boxed, since only tasks
    /// sharing a handle displace any (`None` until the first displacement),
    /// so that a pipe's state stays small and cheap to make and drop (an
    /// in-memory network makes two pipes per connection).
    shared: Option<Box<Displaced>>,
}

/// Wakers pushed out of their place by another task polling through the
/// same handle (see [`Wakers`]): they may still wait, and are kept until
/// the bell rings or, once there are many, until a flush wakes them all
/// ([`Displaced::flush_due`]).
#[derive(Default)]
struct Displaced {
    /// The displaced wakers, with their keys.
    wakers: Vec<(Key, std::task::Waker)>,
    /// Where each key of `wakers` is.
    index: std::collections::HashMap<Key, usize, std::hash::BuildHasherDefault<KeyHasher>>,
    /// How many displaced wakers make a flush (see [`Displaced::flush_due`]);
    /// `0` until the first, meaning [`FLUSH_MIN`].
    flush_at: usize,
    /// The keys recent flushes woke: a key displaced again since is a task
    /// that came back, one still waiting (at most [`FLUSHED_KEPT`] times
    /// `flush_at` of them).
    flushed: std::collections::HashSet<Key, std::hash::BuildHasherDefault<KeyHasher>>,
}

impl Wakers {
    /// How many wakers are held.
    fn len(&self) -> usize {
        self.listed.len() + self.displaced_len()
    }

    /// How many displaced wakers are held.
    #[inline]
    fn displaced_len(&self) -> usize {
        self.shared.as_ref().map_or(0, |d| d.wakers.len())
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

    /// Keeps `waker`, pushed out of place `key.0`, until the bell rings;
    /// returns the waker it replaces (none, by the invariants).
    fn displace(&mut self, key: Key, waker: std::task::Waker) -> Option<std::task::Waker> {
        let d = self.shared.get_or_insert_with(Box::default);
        match d.index.get(&key) {
            Some(&i) => Some(std::mem::replace(&mut d.wakers[i].1, waker)),
            None => {
                d.index.insert(key, d.wakers.len());
                d.wakers.push((key, waker));
                None
            }
        }
    }

    /// Takes the waker displaced under `key`, if any (its task takes its
    /// place back).
    fn undisplace(&mut self, key: &Key) -> Option<std::task::Waker> {
        let d = self.shared.as_mut()?;
        let i = d.index.remove(key)?;
        Some(d.take(i))
    }

    /// Takes every displaced waker if they are due to be flushed (see
    /// [`Displaced::flush_due`]); else nothing.
    fn flush_if_due(&mut self) -> Vec<(Key, std::task::Waker)> {
        match self.shared.as_mut() {
            Some(d) if d.flush_due() => d.flush(),
            _ => Vec::new(),
        }
    }

    /// Takes every displaced waker (for a flush, or a ring).
    fn take_displaced(&mut self) -> Vec<(Key, std::task::Waker)> {
        match self.shared.as_mut() {
            Some(d) if !d.wakers.is_empty() => {
                d.index.clear();
                std::mem::take(&mut d.wakers)
            }
            _ => Vec::new(),
        }
    }

    /// Takes every waker displaced from `place` (its handle is going away)
    /// into `out`.
    fn release_displaced(&mut self, place: usize, out: &mut Vec<std::task::Waker>) {
        let Some(d) = self.shared.as_mut() else {
            return;
        };
        let mut i = 0;
        while i < d.wakers.len() {
            let key = d.wakers[i].0;
            if key.0 == place {
                d.index.remove(&key);
                out.push(d.take(i));
            } else {
                i += 1;
            }
        }
    }
}

impl Displaced {
    /// Whether the displaced wakers are due to be flushed: woken all at once
    /// and forgotten, so that wakers of tasks that polled once and went away
    /// (a cancelled read through a shared handle) cannot pile up on a bell
    /// that does not ring. A task still waiting polls again when woken and
    /// comes back; one that went away does not.
    ///
    /// The bound adapts to the tasks that came back: a flush happens when
    /// the displaced wakers reach four times the number of them that recent
    /// flushes woke and that registered again since (at least
    /// [`FLUSH_MIN`]). So the wakers held stay within a constant factor of
    /// the tasks actually waiting (plus [`FLUSH_MIN`]), and tasks that all
    /// wait are woken spuriously only until the bound exceeds their number (a
    /// few flushes, the bound growing fourfold each), then sleep; each later
    /// flush wakes a waiting task once for at least three new displaced
    /// wakers, so a registration stays O(1) amortised.
    fn flush_due(&self) -> bool {
        self.wakers.len() >= self.flush_at.max(FLUSH_MIN)
    }

    /// Takes every displaced waker for a flush ([`Displaced::flush_due`])
    /// and sets the next bound from the tasks that came back since the last.
    fn flush(&mut self) -> Vec<(Key, std::task::Waker)> {
        let back = self
            .wakers
            .iter()
            .filter(|(key, _)| self.flushed.contains(key))
            .count();
        self.flush_at = back.saturating_mul(4).max(FLUSH_MIN);
        self.index.clear();
        let taken = std::mem::take(&mut self.wakers);
        // The keys of several flushes: a task woken by one may come back
        // only after the next (behind many others in its executor's queue).
        // Bounded: forgotten once they are many times the bound.
        if self.flushed.len() + taken.len() > self.flush_at.saturating_mul(FLUSHED_KEPT) {
            self.flushed.clear();
        }
        self.flushed.extend(taken.iter().map(|&(key, _)| key));
        taken
    }

    /// Takes `wakers[i]`, whose key is already out of `index`.
    fn take(&mut self, i: usize) -> std::task::Waker {
        let (_, waker) = self.wakers.swap_remove(i);
        if let Some(&(moved, _)) = self.wakers.get(i) {
            self.index.insert(moved, i);
        }
        waker
    }
}

/// The tasks waiting on each doorbell: per bell, one waker per task per place
/// ([`TaskSlot`]), so that operations that returned `Pending` and were then
/// dropped (their state lives in the caller's future, which cannot tell the
/// pipe) never pile up: the next `Pending` poll of the same task through the
/// same handle replaces its waker. Tasks sharing one handle each keep theirs
/// (see [`Wakers`] for the exact bound): none is woken before its bell
/// rings, so an idle pipe leaves every task asleep however many share a
/// handle, once the flushes that bound the displaced wakers by the tasks
/// still waiting have learnt their number (see [`Displaced::flush_due`]). Registering costs the same however many tasks wait (one hash map
/// look-up more when tasks share the handle).
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
    /// places there are (those in use and those given back: the free list
    /// holds places below the count only).
    places: Mutex<(Vec<usize>, usize)>,
}

impl TaskBells {
    /// No task waits.
    #[inline(always)]
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
        // No future polls through the slot's handle any more (each borrows
        // it), so the wakers displaced from its place are not needed either.
        let mut dropped = Vec::new();
        for (bell, list) in self.lists.iter().enumerate() {
            // ORDERING: SeqCst, as every access to the counts. This handle's
            // registrations (each counted after its waker was listed)
            // happened before its drop, and a count drops only once the
            // wakers it counts are gone: a list whose count is 0 holds
            // nothing of this place, and is skipped without its lock.
            if self.count[bell].load(Ordering::SeqCst) == 0 {
                continue;
            }
            let mut list = list.lock();
            let before = dropped.len();
            if let Some(waker) = list.unlist(place) {
                dropped.push(waker);
            }
            list.release_displaced(place, &mut dropped);
            if dropped.len() > before {
                // ORDERING: under the lock, so the count never drops below
                // the wakers held.
                self.count[bell].fetch_sub(dropped.len() - before, Ordering::SeqCst);
            }
        }
        {
            // The last place handed out (a pipe's one task handle, the
            // common case) goes back to the count, so that the free list
            // need not allocate; any other to the free list. Places on the
            // free list stay below the count: the one given back to it was
            // in use.
            let mut places = self.places.lock();
            if place + 1 == places.1 {
                places.1 -= 1;
            } else {
                places.0.push(place);
            }
        }
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
        let mut other = None;
        let before = list.len();
        match list.at.get(place).copied().unwrap_or(0) {
            0 => {
                if list.at.len() <= place {
                    list.at.resize(place + 1, 0);
                }
                list.listed.push((place, fresh));
                let i = list.listed.len();
                list.at[place] = i;
                if list.displaced_len() != 0 {
                    spare = list.undisplace(&key(place, waker));
                }
            }
            i if list.listed[i - 1].1.will_wake(waker) => spare = Some(fresh),
            i => {
                let old = std::mem::replace(&mut list.listed[i - 1].1, fresh);
                // Another task (or the same with another waker) polled
                // through the same handle: keep the one it pushed out until
                // the bell rings, in place of that waker's older entry, and
                // take this task's own entry back (it is listed now).
                other = list.displace(key(place, &old), old);
                if list.displaced_len() > 1 {
                    spare = list.undisplace(&key(place, waker));
                }
            }
        }
        let flushed = list.flush_if_due();
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
        drop(other);
        // Woken outside the lock (the executor's code). A task still waiting
        // looks again and registers; see `Displaced::flush_due`.
        for (_, waker) in flushed {
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
        if list.listed.len() == 1 && list.displaced_len() == 0 {
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
        let displaced = list.take_displaced();
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
        for (_, waker) in displaced {
            waker.wake();
        }
    }

    /// Wakes every task waiting on any bell, skipping the bells no task
    /// waits on, for a close of either half: the caller stored the close
    /// `SeqCst` first (the done channel's flag for the first close, the
    /// half's `ErrorSlot` for the second), and a task looks at both
    /// (`SeqCst`) after it registers, so as with [`TaskBells::wake`] one of
    /// the two sees the other.
    pub(super) fn wake_every(&self) {
        for bell in Bell::ALL {
            self.wake(bell);
        }
    }

    /// How many wakers are held, over every bell (for the tests).
    pub(super) fn held(&self) -> usize {
        self.lists.iter().map(|list| list.lock().len()).sum()
    }
}
