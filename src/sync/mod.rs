//! The primitives the pipe's protocol is written against.
//!
//! Everything that synchronises threads inside the crate comes from here, so
//! that one cfg switch swaps the whole set: the normal build uses std's
//! atomics, `crossbeam-channel` for blocking and closure, `crossbeam-utils` for
//! spinning and a write-once atomic pointer for the close errors; a build with
//! `--cfg gopipe_loom` gets twins of the same API built on `loom`, which cannot
//! see inside `crossbeam-channel`. The engine in
//! `engine/rendezvous/` is therefore the same text in both builds, and loom
//! checks the engine that ships.
//!
//! - `real.rs` / `mocked.rs`, the switch itself, primitives only: `Arc`,
//!   `AtomicBool`, `AtomicUsize`, `AtomicU64`, `Ordering`, a poison-ignoring
//!   `Mutex` and its `Condvar` (where a listener's accepting threads sleep),
//!   `UnsafeCell<T>` with `with`/`with_mut` closures (loom tracks every
//!   access), `ErrorSlot<T>` (an optional `Arc<T>` that only the first store
//!   fills) and `loom_sc_fence`;
//! - `signals.rs`: `Signals`, the done channel (closed once) and the doorbells
//!   ([`Bell`]) threads park on, with the protocol's one wait loop
//!   (`Signals::wait_until`);
//! - `tasks.rs`: the tasks' wakers per doorbell ([`TaskSlot`]) and the rule
//!   every async wait follows;
//! - `deadline.rs`: when a wait gives up (`Deadline`, `AbsDeadline`,
//!   `Patience`);
//! - `spin.rs`: the spin before a park (`spin_until`, `core_crowded`), and
//!   a task's spin inside a poll (`spin_in_poll`, which never yields).
//!
//! Each file that differs between the builds holds both twins, side by side.

#[cfg(not(gopipe_loom))]
mod real;
#[cfg(not(gopipe_loom))]
pub(crate) use real::*;

#[cfg(gopipe_loom)]
mod mocked;
#[cfg(gopipe_loom)]
pub(crate) use mocked::*;

mod deadline;
mod signals;
mod spin;
mod tasks;

pub(crate) use deadline::{AbsDeadline, Deadline, Patience};
pub(crate) use signals::{Bell, Park, Signals};
pub(crate) use spin::{core_crowded, spin_in_poll, spin_until, Spun};
pub(crate) use tasks::TaskSlot;
