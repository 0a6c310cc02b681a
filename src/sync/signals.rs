//! Where threads park and tasks wait: [`Signals`], the done channel (closed
//! once, when either half closes) and one doorbell per kind of wait
//! ([`Bell`]), with the threads registered on each and the tasks' wakers
//! ([`super::tasks`]); and its loom twin, one mutex and condvar.

#[cfg(not(gopipe_loom))]
mod imp {
    use std::time::Instant;

    use crossbeam_channel::{bounded, select, Receiver, Sender};

    use super::{Bell, Park, BELLS};
    use crate::sync::tasks::TaskBells;
    use crate::sync::{AbsDeadline, AtomicBool, AtomicUsize, Deadline, Mutex, Never, Ordering};

    /// The done channel: its sender (`None` once dropped) and its receiver.
    type Done = (Mutex<Option<Sender<Never>>>, Receiver<Never>);

    /// The done channel and the doorbells parked threads wait on.
    ///
    /// `done` is a channel nobody sends on; closing the pipe drops its only
    /// sender, exactly once, which wakes every `select!` that includes it. Each
    /// doorbell is a `bounded(1)` channel of tokens: ringing leaves at most one
    /// token, and a parked thread waits in `select!` for a token, the done
    /// channel and its deadline. `sleepers` counts the threads registered on each
    /// doorbell, so that the fast path rings only when someone may be asleep.
    ///
    /// The channels are made at their first use by a thread that parks (or
    /// rings a doorbell someone is registered on), not with the pipe: a pipe
    /// only tasks use, or whose threads never sleep, never allocates them (a
    /// connection of an in-memory network is two pipes, made and dropped per
    /// connection). A doorbell is made by whoever comes first, the parker or
    /// the ringer, so a token is never lost. The done channel is made
    /// disconnected once the pipe is closed: whoever makes it looks at
    /// `closed` after publishing it, and the closer looks for it after
    /// storing `closed`, each across a `SeqCst` fence, so at least one of the
    /// two sees the other and drops its sender ([`Signals::done`]).
    pub(crate) struct Signals {
        /// Set once, just before the done channel is closed; the fast path reads it.
        closed: crossbeam_utils::CachePadded<AtomicBool>,
        /// Held by the first close for its whole length, so that a second
        /// close returns only once the first has finished (`closed` is
        /// stored under it: read under it, it says whether a close came).
        closing: Mutex<()>,
        /// The done channel once made: its sender (`None` once dropped) and
        /// its receiver, cloned by nobody.
        done: std::sync::OnceLock<Done>,
        /// One doorbell per kind of wait, each made at its first use.
        bells: [std::sync::OnceLock<(Sender<()>, Receiver<()>)>; BELLS],
        /// The broadcast of the one doorbell that has one (`Bell::Offer`):
        /// a channel nobody sends on, made at the first wait after each
        /// broadcast; every thread parked on the bell watches a receiver of
        /// it, taken before its last look at the state, and a broadcast
        /// drops the sender, which wakes all of them at once (see
        /// [`Signals::notify_all_threads`]).
        gate: Mutex<Option<(Sender<Never>, Receiver<Never>)>>,
        /// Threads registered (about to park, or parked) on each doorbell.
        sleepers: crossbeam_utils::CachePadded<[AtomicUsize; BELLS]>,
        /// Tasks waiting on each doorbell (the async halves).
        pub(super) tasks: TaskBells,
    }

    impl Signals {
        /// Open signals: done not closed, no tokens, no sleepers.
        #[inline(always)]
        pub(crate) fn new() -> Self {
            Self {
                closed: crossbeam_utils::CachePadded::new(AtomicBool::new(false)),
                closing: Mutex::new(()),
                done: std::sync::OnceLock::new(),
                bells: std::array::from_fn(|_| std::sync::OnceLock::new()),
                gate: Mutex::new(None),
                sleepers: crossbeam_utils::CachePadded::new(std::array::from_fn(|_| {
                    AtomicUsize::new(0)
                })),
                tasks: TaskBells::new(),
            }
        }

        /// Nothing: in this build a half's deadline wakes its parked threads
        /// itself (`AbsDeadline::set`).
        #[inline(always)]
        pub(crate) fn deadline_moved(&self) {}

        /// Whether the done channel has been closed.
        #[inline]
        pub(crate) fn is_closed(&self) -> bool {
            self.closed.load(Ordering::SeqCst)
        }

        /// Closes the done channel; only the first call does anything.
        ///
        /// Returns whether this call was the one that closed it.
        pub(crate) fn close(&self) -> bool {
            // Under the mutex, so that a second close returns only once the first
            // has finished, as Go's `sync.Once` does: after any close returns, the
            // done channel is closed.
            let closing = self.closing.lock();
            // ORDERING: stored under `closing` only, so this look under it
            // is exact.
            if self.closed.load(Ordering::Relaxed) {
                return false;
            }
            // ORDERING: SeqCst, before the done channel disconnects, so that a
            // waiter that saw `closed == false` is parked in a `select!` that
            // includes the done channel, which the drop below then wakes.
            self.closed.store(true, Ordering::SeqCst);
            // ORDERING: with the fence in `done`: the done channel made (by a
            // thread about to park) after this look sees `closed` there.
            std::sync::atomic::fence(Ordering::SeqCst);
            if let Some((tx, _)) = self.done.get() {
                drop(tx.lock().take());
            }
            drop(closing);
            // Tasks have no done channel to watch: wake every one of them (a
            // task that registers after this sees `closed` on its next look).
            self.tasks.wake_every();
            true
        }

        /// The done channel, made at its first use (disconnected at once if
        /// the pipe is closed by then), for parks and for engines that
        /// `select!` on it directly.
        pub(crate) fn done(&self) -> &Receiver<Never> {
            // No shortcut for a channel already made: its maker may not have
            // looked at `closed` yet, so every caller that may see the close
            // drops the sender itself (a caller after a close returned must
            // find the channel disconnected).
            let (tx, rx) = self.done.get_or_init(|| {
                let (tx, rx) = bounded(0);
                (Mutex::new(Some(tx)), rx)
            });
            // ORDERING: with the fence in `close`: made after the close
            // looked for it, the channel is disconnected here.
            std::sync::atomic::fence(Ordering::SeqCst);
            if self.closed.load(Ordering::SeqCst) {
                drop(tx.lock().take());
            }
            rx
        }

        /// Doorbell `bell`, made at its first use.
        #[inline]
        fn bell(&self, bell: Bell) -> &(Sender<()>, Receiver<()>) {
            self.bells[bell as usize].get_or_init(|| bounded(1))
        }

        /// How many threads are registered on `bell`.
        pub(crate) fn sleepers(&self, bell: Bell) -> usize {
            self.sleepers[bell as usize].load(Ordering::SeqCst)
        }

        /// Wakes a thread parked on `bell`, if any may be, and no task: for
        /// changes only a thread can use (a slot free to lend a buffer over:
        /// tasks never lend).
        #[inline(always)]
        pub(crate) fn notify_threads(&self, bell: Bell) {
            if self.sleepers(bell) != 0 {
                self.ring_thread(bell);
            }
        }

        /// [`Signals::notify_threads`] when a thread is registered: out of
        /// line, so that the common ring (nobody asleep) is one load at the
        /// caller.
        #[cold]
        #[inline(never)]
        fn ring_thread(&self, bell: Bell) {
            // ORDERING: a full doorbell already holds a token that will wake
            // someone, who then looks at the state again. That look must see
            // the caller's change although nothing else links the two
            // threads: this fence, with the SeqCst operations the token's
            // taker performs on the channel, orders it (slow path only).
            std::sync::atomic::fence(Ordering::SeqCst);
            let _ = self.bell(bell).0.try_send(());
        }

        /// Wakes every thread parked on `bell` (which must broadcast: see
        /// [`Bell::broadcasts`]), if any may be, and no task: for a change
        /// that every waiter can use (a drain claim ended, the read half
        /// closed), where one token would wake only one of them.
        #[inline]
        pub(crate) fn notify_all_threads(&self, bell: Bell) {
            debug_assert!(bell.broadcasts());
            if self.sleepers(bell) != 0 {
                // ORDERING: as in `notify_threads`: a waiter that took its
                // ticket after the gate's lock below sees the caller's change
                // through that lock; one that took it before is woken.
                use std::sync::atomic::fence;
                fence(Ordering::SeqCst);
                let opened = self.gate.lock().take();
                // Dropping the sender disconnects every receiver taken from
                // it: each parked waiter's `select!` returns.
                drop(opened);
            }
        }

        /// What a waiter on `bell` watches for a broadcast, taken before its
        /// last look at the state (nothing for a bell that does not
        /// broadcast).
        #[inline]
        pub(crate) fn ticket(&self, bell: Bell) -> Ticket {
            if !bell.broadcasts() {
                return Ticket(None);
            }
            let mut gate = self.gate.lock();
            let (_, rx) = gate.get_or_insert_with(|| bounded(0));
            Ticket(Some(rx.clone()))
        }

        /// Registers the calling thread on `bell` for the duration of `f`.
        #[inline]
        pub(crate) fn registered<R>(&self, bell: Bell, f: impl FnOnce() -> R) -> R {
            self.sleepers[bell as usize].fetch_add(1, Ordering::SeqCst);
            let result = f();
            self.sleepers[bell as usize].fetch_sub(1, Ordering::SeqCst);
            result
        }

        /// Parks until a token arrives on `bell`, the done channel closes (when
        /// `watch_done`) or the deadline passes. Without `watch_done` it waits for
        /// a token or the deadline only (a wait that a close must not end: a
        /// writer's wait for a reader copying from its lease, with
        /// [`Deadline::never`], or a read on a closed pipe waiting for a drain
        /// claim to end, with its own deadline).
        ///
        /// Call only while registered on `bell` (see [`Signals::registered`]).
        /// Also woken by a broadcast on `bell` after `ticket` was taken
        /// (see [`Signals::park`] for a wait with no ticket).
        pub(crate) fn park_ticket(
            &self,
            bell: Bell,
            deadline: Deadline,
            watch_done: bool,
            ticket: &Ticket,
        ) -> Park {
            let rx = &self.bell(bell).1;
            let no_gate;
            let gate = match &ticket.0 {
                Some(gate) => gate,
                None => {
                    no_gate = crossbeam_channel::never();
                    &no_gate
                }
            };
            if !watch_done && deadline.is_never() {
                // The signals hold the sender, so a token is the only way
                // out but a broadcast.
                select! {
                    recv(rx) -> _ => {},
                    recv(gate) -> _ => {},
                }
                return Park::Rung;
            }
            let unwatched;
            let done = if watch_done {
                self.done()
            } else {
                unwatched = crossbeam_channel::never();
                &unwatched
            };
            // Taken before the deadline is read: a move after the read wakes
            // us (the caller then looks again, and reads the new deadline).
            let moved = deadline.half().map(AbsDeadline::receiver);
            let at = deadline.instant();
            // A passed deadline wins over a waiting token: the caller looked
            // at the state before it parked, and a stream of tokens must not
            // keep a timed wait going for ever.
            if at.is_some_and(|at| Instant::now() >= at) {
                return Park::TimedOut;
            }
            // A move of the deadline reads as a ring: look again.
            match (moved, at) {
                (None, None) => select! {
                    recv(rx) -> _ => Park::Rung,
                    recv(gate) -> _ => Park::Rung,
                    recv(done) -> _ => Park::Closed,
                },
                (None, Some(at)) => select! {
                    recv(rx) -> _ => Park::Rung,
                    recv(gate) -> _ => Park::Rung,
                    recv(done) -> _ => Park::Closed,
                    default(at.saturating_duration_since(Instant::now())) => Park::TimedOut,
                },
                (Some(moved), None) => select! {
                    recv(rx) -> _ => Park::Rung,
                    recv(gate) -> _ => Park::Rung,
                    recv(done) -> _ => Park::Closed,
                    recv(moved) -> _ => Park::Rung,
                },
                (Some(moved), Some(at)) => select! {
                    recv(rx) -> _ => Park::Rung,
                    recv(gate) -> _ => Park::Rung,
                    recv(done) -> _ => Park::Closed,
                    recv(moved) -> _ => Park::Rung,
                    default(at.saturating_duration_since(Instant::now())) => Park::TimedOut,
                },
            }
        }
    }

    /// What a waiter watches for a broadcast on its bell: a receiver of the
    /// gate as it was before the waiter's last look (`None`: the bell does
    /// not broadcast).
    pub(crate) struct Ticket(pub(in crate::sync) Option<Receiver<Never>>);
}

#[cfg(gopipe_loom)]
mod imp {
    use loom::sync::Condvar;

    use super::{Bell, Park, BELLS};
    use crate::sync::tasks::TaskBells;
    use crate::sync::{AtomicBool, AtomicUsize, Deadline, Mutex, Ordering};

    /// The state behind the loom twin of [`Signals`].
    struct Board {
        /// A pending token per doorbell.
        tokens: [bool; BELLS],
        /// Whether the done channel is closed.
        done: bool,
        /// Broadcasts so far on the bell that has them (`Bell::Offer`).
        broadcasts: usize,
    }

    /// Loom twin of the done channel and doorbells: one mutex and condvar.
    pub(crate) struct Signals {
        /// Set once, before `board.done`; the fast path reads it.
        closed: AtomicBool,
        /// Tokens and the done flag.
        board: Mutex<Board>,
        /// Notified on every token and on close.
        changed: Condvar,
        /// Threads registered on each doorbell.
        sleepers: [AtomicUsize; BELLS],
        /// Tasks waiting on each doorbell.
        pub(super) tasks: TaskBells,
    }

    impl Signals {
        /// Open signals.
        pub(crate) fn new() -> Self {
            Self {
                closed: AtomicBool::new(false),
                board: Mutex::new(Board {
                    tokens: [false; BELLS],
                    done: false,
                    broadcasts: 0,
                }),
                changed: Condvar::new(),
                sleepers: std::array::from_fn(|_| AtomicUsize::new(0)),
                tasks: TaskBells::new(),
            }
        }

        /// Wakes every parked thread to look at a half's deadline again.
        pub(crate) fn deadline_moved(&self) {
            drop(self.board.lock());
            self.changed.notify_all();
        }

        /// Whether done has been closed.
        pub(crate) fn is_closed(&self) -> bool {
            self.closed.load(Ordering::SeqCst)
        }

        /// Closes done once; returns whether this call closed it. As in the std
        /// build, a second close returns only once the first has finished.
        pub(crate) fn close(&self) -> bool {
            let mut board = self.board.lock();
            if board.done {
                return false;
            }
            self.closed.store(true, Ordering::SeqCst);
            board.done = true;
            drop(board);
            self.changed.notify_all();
            self.tasks.wake_every();
            true
        }

        /// How many threads are registered on `bell`.
        pub(crate) fn sleepers(&self, bell: Bell) -> usize {
            // ORDERING: loom treats `SeqCst` loads and stores as `AcqRel` (see
            // "Unsupported features" in loom's README), so on its own it would let
            // this load and a waiter's look at the state both miss the other's
            // write: the store-buffering outcome that the real build's `SeqCst`
            // accesses rule out. loom does model `SeqCst` fences; this one, with
            // the one in `registered`, restores that single order. (So loom checks
            // the protocol given `SeqCst` there; it cannot check the orderings.)
            loom::sync::atomic::fence(Ordering::SeqCst);
            self.sleepers[bell as usize].load(Ordering::SeqCst)
        }

        /// Leaves a token on `bell` if a thread may be parked there, waking
        /// no task (see the std build).
        pub(crate) fn notify_threads(&self, bell: Bell) {
            if self.sleepers(bell) != 0 {
                self.board.lock().tokens[bell as usize] = true;
                self.changed.notify_all();
            }
        }

        /// Wakes every thread parked on `bell` (see the std build).
        pub(crate) fn notify_all_threads(&self, bell: Bell) {
            debug_assert!(bell.broadcasts());
            if self.sleepers(bell) != 0 {
                self.board.lock().broadcasts += 1;
                self.changed.notify_all();
            }
        }

        /// What a waiter on `bell` watches for a broadcast (see the std
        /// build): the count of broadcasts so far.
        pub(crate) fn ticket(&self, bell: Bell) -> Ticket {
            if !bell.broadcasts() {
                return Ticket(None);
            }
            Ticket(Some(self.board.lock().broadcasts))
        }

        /// Registers the calling thread on `bell` for the duration of `f`.
        pub(crate) fn registered<R>(&self, bell: Bell, f: impl FnOnce() -> R) -> R {
            self.sleepers[bell as usize].fetch_add(1, Ordering::SeqCst);
            // ORDERING: the other half of the fence in `has_sleepers`: `f`'s first
            // look at the state cannot miss a change whose author then missed
            // this registration.
            loom::sync::atomic::fence(Ordering::SeqCst);
            let result = f();
            self.sleepers[bell as usize].fetch_sub(1, Ordering::SeqCst);
            result
        }

        /// Parks until a token, done (when `watch_done`), the deadline or a
        /// broadcast after `ticket` (see the std build).
        pub(crate) fn park_ticket(
            &self,
            bell: Bell,
            deadline: Deadline,
            watch_done: bool,
            ticket: &Ticket,
        ) -> Park {
            let mut board = self.board.lock();
            loop {
                if board.tokens[bell as usize] {
                    board.tokens[bell as usize] = false;
                    return Park::Rung;
                }
                if ticket.0.is_some_and(|seen| board.broadcasts != seen) {
                    return Park::Rung;
                }
                if watch_done && board.done {
                    return Park::Closed;
                }
                if deadline.fires() {
                    return Park::TimedOut;
                }
                board = self.changed.wait(board).unwrap();
            }
        }
    }

    /// What a waiter watches for a broadcast (see the std build): the count
    /// of broadcasts it has seen.
    pub(crate) struct Ticket(pub(in crate::sync) Option<usize>);
}

pub(crate) use imp::*;

use crate::sync::Deadline;

impl Signals {
    /// [`Signals::park_ticket`] with no ticket: a wait on a bell that does
    /// not broadcast, or one that needs no broadcast.
    #[inline]
    pub(crate) fn park(&self, bell: Bell, deadline: Deadline, watch_done: bool) -> Park {
        self.park_ticket(bell, deadline, watch_done, &Ticket(None))
    }

    /// Registers a task's waker on `bell` under `slot`'s place until the next
    /// ring of it (or the close); the task must look at the state again
    /// afterwards, before it returns `Pending` (see `TaskBells`).
    #[inline]
    pub(crate) fn register_task(
        &self,
        bell: Bell,
        slot: &crate::sync::TaskSlot,
        waker: &std::task::Waker,
    ) {
        self.tasks.register(bell, slot, waker);
    }

    /// Gives back `slot`'s place in the task lists (its handle drops).
    pub(crate) fn release_task_slot(&self, slot: &crate::sync::TaskSlot) {
        self.tasks.release(slot);
    }

    /// How many task wakers the pipe holds.
    pub(crate) fn task_wakers_held(&self) -> usize {
        self.tasks.held()
    }

    /// Wakes every waiting task: a half closed after the done channel
    /// already was (by the other half), which a task may wait for (a
    /// `consumed` waits for the read half's close). The caller stored that
    /// half's error first, `SeqCst` (`ErrorSlot`), and a task looks at it
    /// after it registers (`SeqCst`), so the bells' counts tell which bells
    /// to ring, as for the first close (`TaskBells::wake_every`).
    pub(crate) fn wake_all_tasks(&self) {
        self.tasks.wake_every();
    }

    /// Whether any thread or task is registered on `bell` (parked or about
    /// to park).
    #[inline]
    pub(crate) fn has_sleepers(&self, bell: Bell) -> bool {
        self.sleepers(bell) != 0 || self.tasks.any(bell)
    }

    /// Wakes a thread parked on `bell`, if any may be, and every task
    /// waiting on it. The caller must have made its change visible with a
    /// `SeqCst` operation before calling this.
    #[inline]
    pub(crate) fn notify(&self, bell: Bell) {
        self.notify_threads(bell);
        self.tasks.wake(bell);
    }

    /// Wakes every thread and every task waiting on `bell` (a bell that
    /// broadcasts): for a change every one of them can use, which none of
    /// them must have to pass on to the next.
    #[inline]
    pub(crate) fn notify_all(&self, bell: Bell) {
        self.notify_all_threads(bell);
        self.tasks.wake(bell);
    }

    /// The protocol's one wait: registers on `bell`, then until `ready()`
    /// holds, parks (see [`Signals::park`]: a ring, the done channel when
    /// `watch_done`, the deadline). `ready()` is looked at after registering
    /// and after every wake-up, so a change made and rung between a look and
    /// a sleep is never missed (the ringer changes the state first, then
    /// looks at the sleepers). Returns [`Park::Rung`] once `ready()` held, else
    /// why it gave up.
    pub(crate) fn wait_until(
        &self,
        bell: Bell,
        deadline: Deadline,
        watch_done: bool,
        mut ready: impl FnMut() -> bool,
    ) -> Park {
        self.registered(bell, || loop {
            // Before the look: a broadcast after it wakes the park below.
            let ticket = self.ticket(bell);
            if ready() {
                return Park::Rung;
            }
            match self.park_ticket(bell, deadline, watch_done, &ticket) {
                Park::Rung => {}
                other => return other,
            }
        })
    }
}

/// How many doorbells [`Signals`] has.
pub(super) const BELLS: usize = 6;

/// The doorbells of [`Signals`]: one per kind of wait in the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bell {
    /// Readers waiting for a writer's offer.
    Offer = 0,
    /// The writer waiting for readers to use its offer up, or for a reader to
    /// give back a lease it is taking back.
    Reply = 1,
    /// Writers waiting for the write side.
    Lock = 2,
    /// Writers that have waited long for the write side, waiting for it to be
    /// handed to one of them.
    Handoff = 3,
    /// The reader that lent its buffer, waiting for a writer's answer (at most
    /// one reader lends at a time, so at most one thread waits here).
    Filled = 4,
    /// Waiting for readers to take bytes an async write staged: the thread
    /// holding the write side (at most one), and tasks that wait for room or
    /// in `consumed`.
    Stage = 5,
}

impl Bell {
    /// Whether a ring may wake every thread parked on this bell at once
    /// ([`Signals::notify_all_threads`]): only `Offer`, whose waiters all
    /// wait for a drain claim to end or the read half to close at times.
    /// The others wake one thread a ring (their waiters take turns).
    #[inline]
    pub(crate) const fn broadcasts(self) -> bool {
        matches!(self, Bell::Offer)
    }

    /// Every bell.
    pub(super) const ALL: [Bell; BELLS] = [
        Bell::Offer,
        Bell::Reply,
        Bell::Lock,
        Bell::Handoff,
        Bell::Filled,
        Bell::Stage,
    ];
}

/// Why [`Signals::park`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Park {
    /// A token was taken from the doorbell: look again.
    Rung,
    /// The done channel is closed.
    Closed,
    /// The deadline passed.
    TimedOut,
}
