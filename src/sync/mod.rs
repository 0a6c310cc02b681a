//! The primitives the pipe's protocol is written against.
//!
//! Everything that synchronises threads inside the crate comes from here, so that
//! one cfg switch swaps the whole set: the normal build uses std's atomics,
//! `crossbeam-channel` for blocking and closure, `crossbeam-utils` for spinning and
//! `arc-swap` for the close errors; a build with `--cfg gopipe_loom` gets twins of
//! the same API built on `loom`, which cannot see inside `crossbeam-channel` or
//! `arc-swap`. The protocol in `engine/fast.rs` is therefore the same text in both
//! builds, and loom checks the engine that ships.
//!
//! The API offered on both sides:
//! - `Arc`, `AtomicBool`, `AtomicUsize`, `AtomicU64`, `Ordering`;
//! - `UnsafeCell<T>` with `with`/`with_mut` closures (loom tracks every access);
//! - `ErrorSlot<T>`: an optional `Arc<T>` that only the first store fills;
//! - `Signals`: the done channel (closed once) plus six doorbells that a parked
//!   thread waits on, together with the done channel and an optional deadline;
//! - `Deadline` and `spin_until`: the spin-then-park policy's clock.

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
pub(crate) use spin::{core_crowded, spin_until};
pub(crate) use tasks::TaskSlot;
