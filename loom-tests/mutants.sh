#!/usr/bin/env bash
# Mutation check of the loom suite: each mutant below is a protocol bug put
# into a temporary copy of the crate; the loom models run on that copy must
# fail. The real crate is never touched.
#
# Usage:  bash loom-tests/mutants.sh [--matrix] [--full] [MUTANT...]
#
#   (no names)  every mutant; one line each, KILLED or SURVIVED, with how it died
#   MUTANT...   only those mutants
#   (default)   each mutant runs only the models listed for it in mutant_tests
#               (its known killers), and the unmutated baseline runs only the
#               models listed for the mutants chosen: the CI mode
#   --full      each mutant (and the baseline) runs the whole loom suite, as
#               before mutant_tests existed (also MUTANTS_FULL=1); a mutant
#               missing from mutant_tests always runs the whole suite
#   --check     only apply each mutant to a fresh copy (no build, no model):
#               fails if one does not apply exactly once, is anchored on a
#               comment, or changes nothing (the default mode does this first)
#   --shard=K/N only every N-th mutant, from the K-th (0-based): N such runs,
#               each with its own MUTANTS_TARGET_DIR, share the work
#   --matrix    run every model on its own against each mutant and print which
#               models kill it (slow: what loom-tests/README.md's table and
#               mutant_tests are from)
#
# Exits non-zero if the unmutated copy fails, if a mutant no longer applies or
# does not compile, or if any mutant survives other than those listed in
# expected_survivors (known limits of what loom can check; see README.md). A
# mutant whose run outlives MUTANT_TIMEOUT is reported as TIMEOUT and counts as
# survived: every mutant is expected to die by a failed assertion, a loom
# causality failure or loom's deadlock detection, never by hanging. A mutant
# that survives its listed models in the default mode may still die elsewhere
# (a model changed, or LOOM_MAX_PREEMPTIONS is lower): run it with --matrix and
# update mutant_tests.
#
# Environment: LOOM_MAX_PREEMPTIONS (default 3), MUTANT_TIMEOUT (seconds per
# run, default 600), MUTANTS_TARGET_DIR (default target/loom-mutants, shared by
# all mutants so that only gopipe and the tests are rebuilt), MUTANTS_FULL.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
export RUSTFLAGS="--cfg gopipe_loom"
export LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-3}
export CARGO_TARGET_DIR=${MUTANTS_TARGET_DIR:-$repo/target/loom-mutants}
export CARGO_TERM_COLOR=never
export RUST_BACKTRACE=0
timeout_s=${MUTANT_TIMEOUT:-600}

work=$(mktemp -d "${TMPDIR:-/tmp}/gopipe-mutants.XXXXXX")
trap 'rm -rf "$work"' EXIT
copy=$work/crate

# Each mutant: a name, then python lines applying it to the copy. `sub(file,
# old, new)` replaces exact text that must occur exactly once.
mutant_names=(
  reply-before-copy
  writer-skips-count
  writer-leaves-after-claim
  done-before-error-write
  done-before-error-read
  no-write-lock
  last-close-wins
  claim-without-cas
  offer-not-retracted
  no-offer-bell
  no-reply-bell
  no-lock-bell
  empty-write-ends-read
  empty-write-skips-rendezvous
  every-writer-drop-closes
  every-reader-drop-closes
  relaxed-reply-store
  relaxed-claim-cas
  reoffer-without-bell
  no-unwind-guard
  no-recall-bell
  no-handoff-bell
  no-fence-in-notify
  writer-fills-retracted-buffer
  reader-leaves-during-fill
  lent-bytes-lost-on-timeout
  lender-ignores-stage
  stager-skips-filled-bell
  take-staged-skips-stage-bell
  sync-write-skips-drain
  poll-read-no-register
  poll-read-no-second-look
  close-wakes-no-task
  consumed-ready-with-a-byte-staged
  closed-read-drops-staged
  task-wake-only-oldest
  async-fill-drops-rest
  deadline-moved-wakes-nobody
  write-deadline-set-wakes-nobody
  park-ignores-half-deadline
  write-ignores-half-deadline
  clearing-read-deadline-keeps-it
  sink-error-keeps-claim
  sink-panic-keeps-claim
  drain-advances-past-sink
  vectored-releases-write-side
  drain-sink-under-ring-lock
  drain-claim-not-seen
  read-from-fills-lend
  read-from-cut-returns-count
  read-from-precheck-returns-count
  closed-read-ignores-claim
  claim-end-rings-nobody
  full-stage-write-no-second-look
  take-back-skips-stage-bell
  lock-wait-no-second-try
  lock-wait-no-close-look
  displaced-waker-dropped
  claim-end-rings-one
  sink-call-frees-room-silently
  ticket-after-look
  buffered-room-wait-ignores-close
  buffered-write-frees-write-side-for-room
  buffered-write-close-discards
  buffered-take-skips-room-bell
  buffered-fast-write-ignores-held-side
  buffered-claim-skips-staged-check
  buffered-offer-reply-rings-nobody
  buffered-write-stages-rest-piecemeal
  buffered-offer-wait-ignores-close
  unlocked-take-end-skips-room-bell
  displaced-waker-woken
  flush-forgets-unwoken
  close-wakes-tasks-before-closing
  net-dial-wakes-no-thread
  net-dial-notifies-before-push
  net-dial-wakes-no-task
  net-poll-accept-no-second-look
  net-dial-wakes-oldest-task
  net-close-wakes-no-thread
  net-close-notifies-one
  net-close-wakes-no-task
  net-close-keeps-backlog
  net-dial-ignores-close
  net-accept-ignores-close
  net-drop-does-not-close
  second-close-wakes-no-task
)

# Mutants the loom suite cannot kill by construction, each with the reason in
# loom-tests/README.md ("Known limits"). They still run: a survivor is reported
# as expected and does not fail the run; if one is ever killed, that is printed
# too (and is fine). Every other survivor fails the run.
expected_survivors=(
  no-fence-in-notify
  take-back-skips-stage-bell
)

# The models each mutant runs in the default mode, as "file:model" words: its
# cheapest known killer, from --matrix (README.md has the full table), checked
# by the default run itself, which fails if the mutant survives them. "none":
# nothing can kill it under loom (the mutated code is not compiled there), so
# it is only applied and built. A mutant with no entry runs the whole suite.
declare -A mutant_tests=(
  [reply-before-copy]="close:drop_of_last_reader_clone_racing_blocked_write"
  [writer-skips-count]="close:reader_close_racing_in_flight_write"
  [writer-leaves-after-claim]="close:reader_close_racing_in_flight_write"
  [done-before-error-write]="close:close_with_error_racing_close_on_write_half"
  [done-before-error-read]="close:close_with_error_racing_close_on_read_half"
  [no-write-lock]="handoff:two_writers_one_reader_do_not_interleave"
  [last-close-wins]="close:close_with_error_racing_close_on_read_half"
  [claim-without-cas]="close:reader_close_racing_in_flight_write"
  [offer-not-retracted]="close:close_with_error_racing_close_on_read_half"
  [no-offer-bell]="async:sync_writer_to_async_reader"
  [no-reply-bell]="close:drop_of_last_writer_clone_racing_blocked_read"
  [no-lock-bell]="handoff:two_writers_one_reader_do_not_interleave"
  [empty-write-ends-read]="handoff:empty_write_is_a_rendezvous_that_does_not_end_a_read"
  [empty-write-skips-rendezvous]="handoff:empty_write_racing_reader_close_fails"
  [every-writer-drop-closes]="close:drop_of_last_writer_clone_racing_blocked_read"
  [every-reader-drop-closes]="close:drop_of_last_reader_clone_racing_blocked_write"
  [relaxed-reply-store]="close:drop_of_last_writer_clone_racing_blocked_read"
  [relaxed-claim-cas]="timeout:write_timeout_racing_hand_off"
  [reoffer-without-bell]="handoff:two_readers_get_each_byte_once"
  [no-unwind-guard]="hardening:writer_panics_after_its_offer"
  [no-recall-bell]="close:reader_close_racing_in_flight_write"
  [no-handoff-bell]="hardening:three_writers_share_the_write_side"
  [no-fence-in-notify]="none"
  [writer-fills-retracted-buffer]="close:reader_close_racing_in_flight_write"
  [reader-leaves-during-fill]="close:reader_close_racing_in_flight_write"
  [lent-bytes-lost-on-timeout]="close:reader_close_racing_in_flight_write"
  [lender-ignores-stage]="async:async_writer_to_sync_reader"
  [stager-skips-filled-bell]="async:async_writer_to_sync_reader"
  [take-staged-skips-stage-bell]="async:async_writer_to_async_reader_consumed"
  [sync-write-skips-drain]="async:staged_bytes_before_later_blocking_write"
  [poll-read-no-register]="async:sync_writer_to_async_reader"
  [poll-read-no-second-look]="async:sync_writer_to_async_reader"
  [close-wakes-no-task]="async:reader_close_racing_pending_consumed"
  [consumed-ready-with-a-byte-staged]="async:async_writer_to_async_reader_consumed"
  [closed-read-drops-staged]="async:writer_drop_with_staged_bytes"
  [task-wake-only-oldest]="async:dropped_pending_read_racing_write"
  [async-fill-drops-rest]="async:async_writer_to_sync_reader"
  [deadline-moved-wakes-nobody]="deadline:read_deadline_wakes_parked_read"
  [write-deadline-set-wakes-nobody]="deadline:write_deadline_set_while_reader_copies"
  [park-ignores-half-deadline]="deadline:read_deadline_wakes_parked_read"
  [write-ignores-half-deadline]="deadline:write_deadline_set_while_reader_copies"
  [clearing-read-deadline-keeps-it]="deadline:read_deadline_cleared_while_parked"
  [sink-error-keeps-claim]="zero_copy:write_to_sink_fails_half_way"
  [sink-panic-keeps-claim]="zero_copy:write_to_sink_panics_half_way"
  [drain-advances-past-sink]="zero_copy:write_to_sink_fails_half_way"
  [vectored-releases-write-side]="zero_copy:large_vectored_write_holds_write_side"
  [drain-sink-under-ring-lock]="zero_copy:write_to_sink_on_staged_bytes_holds_no_lock"
  [drain-claim-not-seen]="zero_copy:write_to_sink_on_staged_bytes_holds_no_lock"
  [read-from-fills-lend]="zero_copy:read_deadline_holds_while_read_from_reads_its_source"
  [read-from-cut-returns-count]="zero_copy:read_from_cut_short_returns_the_close"
  [read-from-precheck-returns-count]="zero_copy:read_from_into_lent_buffer_racing_read_deadline"
  [closed-read-ignores-claim]="zero_copy:closed_pipe_read_waits_for_a_drain_claim"
  [claim-end-rings-nobody]="zero_copy:closed_pipe_read_waits_for_a_drain_claim"
  [full-stage-write-no-second-look]="async:async_write_on_full_stage_racing_read_close"
  [take-back-skips-stage-bell]="async:take_back_racing_consumed"
  [lock-wait-no-second-try]="async:task_waits_for_write_side_held_by_thread"
  [lock-wait-no-close-look]="async:task_waits_for_write_side_held_during_a_sink"
  [claim-end-rings-one]="claims:claim_end_wakes_two_waiting_readers"
  [sink-call-frees-room-silently]="claims:sink_call_frees_room_for_a_waiting_task_write"
  [ticket-after-look]="claims:claim_end_wakes_two_waiting_readers"
  [buffered-room-wait-ignores-close]="buffered:blocked_buffered_write_racing_read_close"
  [buffered-write-frees-write-side-for-room]="buffered:task_and_thread_writer_on_one_full_buffer"
  [buffered-write-close-discards]="buffered:half_close_with_bytes_buffered"
  [buffered-take-skips-room-bell]="buffered:blocked_buffered_write_returns_once_small_reads_make_room"
  [unlocked-take-end-skips-room-bell]="buffered:blocked_buffered_write_returns_once_its_rest_fits"
  [buffered-fast-write-ignores-held-side]="buffered:two_thread_writers_on_one_full_buffer buffered:task_and_thread_writer_on_one_full_buffer"
  [buffered-claim-skips-staged-check]="buffered:blocked_buffered_write_offers_its_rest"
  [buffered-offer-reply-rings-nobody]="buffered:blocked_buffered_write_offers_its_rest"
  [buffered-write-stages-rest-piecemeal]="buffered:blocked_buffered_write_offers_its_rest"
  [buffered-offer-wait-ignores-close]="buffered:blocked_write_with_rest_on_offer_racing_read_close"
  [displaced-waker-dropped]="async:two_tasks_one_half_one_cancelled async:three_tasks_one_half_idle_then_written"
  [displaced-waker-woken]="async:three_tasks_one_half_idle_then_written"
  [flush-forgets-unwoken]="async:four_tasks_one_half_flush_racing_a_write"
  [close-wakes-tasks-before-closing]="async:reader_close_racing_pending_consumed async:async_write_on_full_stage_racing_read_close"
  [net-dial-wakes-no-thread]="net:blocked_accept_woken_by_dial"
  [net-dial-notifies-before-push]="net:blocked_accept_woken_by_dial net:task_accept_racing_dial"
  [net-dial-wakes-no-task]="net:task_accept_racing_dial"
  [net-poll-accept-no-second-look]="net:task_accept_racing_dial"
  [net-dial-wakes-oldest-task]="net:cancelled_task_accept_racing_dials"
  [net-close-wakes-no-thread]="net:close_wakes_two_accepting_threads"
  [net-close-notifies-one]="net:close_wakes_two_accepting_threads"
  [net-close-wakes-no-task]="net:close_wakes_a_waiting_task"
  [net-close-keeps-backlog]="net:dial_racing_listener_drop"
  [net-dial-ignores-close]="net:dial_racing_listener_drop"
  [net-accept-ignores-close]="net:close_wakes_two_accepting_threads"
  [net-drop-does-not-close]="net:dial_racing_listener_drop"
  [second-close-wakes-no-task]="async:second_close_wakes_a_pending_consumed"
)

mutant_patch() {
  case $1 in
    reply-before-copy) cat <<'EOF'
# The reader tells the writer its offer is used up (giving the lease back)
# before it copies.
sub(READ, '        let (n, left) = self.slot.lease.with_mut(|lease| {\n',
    '        self.slot.state.store(REPLIED, Ordering::SeqCst);\n        sh.signals.notify(Bell::Reply);\n        let (n, left) = self.slot.lease.with_mut(|lease| {\n')
EOF
    ;;
    writer-skips-count) cat <<'EOF'
# The writer takes a claimed offer as done: it returns while the reader copies.
sub(WRITE, '            s == REPLIED || s >= LENT_MIN\n        };',
    '            s != OFFERED\n        };')
EOF
    ;;
    writer-leaves-after-claim) cat <<'EOF'
# On close or timeout the writer leaves even when its retract fails because a
# reader has claimed the offer and is copying (the retract's first CAS always
# "succeeds", so it never recalls the lease nor waits for the reader).
sub(WRITE, '.compare_exchange(OFFERED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)',
    '.compare_exchange(OFFERED, EMPTY, Ordering::SeqCst, Ordering::SeqCst).or(Ok::<usize, usize>(EMPTY))')
EOF
    ;;
    done-before-error-write) cat <<'EOF'
# Closing the write half closes done before it stores the error.
sub(MOD, '        let first = store_first(&self.werr, cause);\n        if !self.signals.close() && first {\n',
    '        let closed = self.signals.close();\n        let first = store_first(&self.werr, cause);\n        if !closed && first {\n')
EOF
    ;;
    done-before-error-read) cat <<'EOF'
# Closing the read half closes done before it stores the error.
sub(MOD, '        let first = store_first(&self.rerr, cause);\n        if !self.signals.close() && first {\n',
    '        let closed = self.signals.close();\n        let first = store_first(&self.rerr, cause);\n        if !closed && first {\n')
EOF
    ;;
    no-write-lock) cat <<'EOF'
# The write side is never contended: every writer takes it at once (the lock
# word stays FREE, and releasing it from FREE is let through).
sub(LOCK, '    pub(super) fn try_lock(&self) -> bool {\n',
    '    pub(super) fn try_lock(&self) -> bool {\n        #[allow(unreachable_code)]\n        return true;\n')
sub(LOCK, 'Err(other) => unreachable!("write side released in state {other}"),',
    'Err(_) => {}')
EOF
    ;;
    last-close-wins) cat <<'EOF'
# The error slot (loom twin) keeps the last close instead of the first.
sub(MOCKED, '        if slot.is_some() {\n',
    '        if false && slot.is_some() {\n')
EOF
    ;;
    claim-without-cas) cat <<'EOF'
# A reader claims an offer with a plain swap after its load, not a CAS: two
# readers can both take it.
sub(READ, '.compare_exchange(OFFERED, CLAIMED, Ordering::SeqCst, Ordering::Relaxed)',
    '.swap(CLAIMED, Ordering::SeqCst).checked_add(0).ok_or(())')
EOF
    ;;
    offer-not-retracted) cat <<'EOF'
# On close or timeout the writer leaves without retracting its offer (and
# without its unwind guard, which would retract it).
sub(WRITE, '                std::mem::forget(guard);\n                if let Some(left) = self.retract(sh) {\n',
    '                std::mem::forget(guard);\n                #[allow(unreachable_code)]\n                return Err(timed_out().into());\n                if let Some(left) = self.retract(sh) {\n')
EOF
    ;;
    no-offer-bell) cat <<'EOF'
# The writer never wakes a reader parked for an offer.
sub(WRITE, '        if reader_asleep {\n            sig.notify(Bell::Offer);\n',
    '        if reader_asleep {\n')
EOF
    ;;
    no-reply-bell) cat <<'EOF'
# The reader that takes the last byte never wakes a writer parked for its offer
# to be used up (a reader giving back a recalled lease still does).
sub(READ, '            Ok(_) => {\n                sig.notify(Bell::Reply);\n',
    '            Ok(_) => {\n')
EOF
    ;;
    no-lock-bell) cat <<'EOF'
# A writer leaving the write side never wakes a writer parked for it (a
# cancelled hand-off still does).
sub(LOCK, '            sig.notify(Bell::Lock);\n            return;\n',
    '            return;\n')
EOF
    ;;
    empty-write-ends-read) cat <<'EOF'
# A read that consumes an empty write returns Ok(0), a false end of file.
sub(READ, '                        0 if deadline.passed() => return Err(timed_out()),\n                        0 => continue,\n',
    '                        0 if deadline.passed() => return Err(timed_out()),\n                        0 => return Ok(0),\n')
EOF
    ;;
    empty-write-skips-rendezvous) cat <<'EOF'
# An empty write returns Ok(0) at once instead of meeting a reader.
sub(WRITE, '    pub(crate) fn write(&self, sh: &PipeState, buf: &[u8], deadline: Deadline) -> Written {\n',
    '    pub(crate) fn write(&self, sh: &PipeState, buf: &[u8], deadline: Deadline) -> Written {\n        if buf.is_empty() {\n            return Ok(0);\n        }\n')
EOF
    ;;
    every-writer-drop-closes) cat <<'EOF'
# Dropping any writer clone closes the write half, not just the last one.
sub(PIPE, 'if self.shared.writers.fetch_sub(1, Ordering::AcqRel) == 1 {',
    'if self.shared.writers.fetch_sub(1, Ordering::AcqRel) >= 1 {')
EOF
    ;;
    every-reader-drop-closes) cat <<'EOF'
# Dropping any reader clone closes the read half, not just the last one.
sub(PIPE, 'if self.shared.readers.fetch_sub(1, Ordering::AcqRel) == 1 {',
    'if self.shared.readers.fetch_sub(1, Ordering::AcqRel) >= 1 {')
EOF
    ;;
    relaxed-reply-store) cat <<'EOF'
# The reader's hand-back (re-offer of the rest, or REPLIED) is Relaxed: it no
# longer releases its copy and the advanced lease to the writer or the next
# claimer.
sub(READ, 'state.compare_exchange(CLAIMED, next, Ordering::SeqCst, Ordering::SeqCst)',
    'state.compare_exchange(CLAIMED, next, Ordering::Relaxed, Ordering::SeqCst)')
EOF
    ;;
    relaxed-claim-cas) cat <<'EOF'
# The claiming CAS is Relaxed: it no longer acquires the lease the writer (or a
# reader re-offering the rest) published before OFFERED.
sub(READ, '.compare_exchange(OFFERED, CLAIMED, Ordering::SeqCst, Ordering::Relaxed)',
    '.compare_exchange(OFFERED, CLAIMED, Ordering::Relaxed, Ordering::Relaxed)')
EOF
    ;;
    reoffer-without-bell) cat <<'EOF'
# A reader that puts the rest of a write back on offer never wakes a reader
# parked for an offer.
sub(READ, 'through the writer, which sleeps on until its write is done.\n                sig.notify(Bell::Offer);\n',
    'through the writer, which sleeps on until its write is done.\n')
EOF
    ;;
    no-unwind-guard) cat <<'EOF'
# The offer's unwind guard does nothing: a panic after the offer leaves it up.
sub(WRITE, 'if self.engine.retract(self.sh).is_none() {',
    'if false && self.engine.retract(self.sh).is_none() {')
EOF
    ;;
    no-recall-bell) cat <<'EOF'
# A reader giving back a lease its writer recalled never wakes that writer,
# which waits for it with no deadline.
sub(READ, '                state.store(if left == 0 { REPLIED } else { RETURNED }, Ordering::SeqCst);\n                sig.notify(Bell::Reply);\n',
    '                state.store(if left == 0 { REPLIED } else { RETURNED }, Ordering::SeqCst);\n')
EOF
    ;;
    no-handoff-bell) cat <<'EOF'
# A hand-off to a starving writer (by the releasing holder, or passed on by a
# starving writer that gives up) never wakes anyone.
sub(LOCK, '        if sig.has_sleepers(Bell::Handoff) {\n            sig.notify(Bell::Handoff);\n',
    '        if sig.has_sleepers(Bell::Handoff) {\n')
EOF
    ;;
    no-fence-in-notify) cat <<'EOF'
# The std build's Signals::notify loses its SeqCst fence. Expected to survive:
# loom runs the loom twin of Signals (a mutex), never this code.
sub(SIGNALS, '            std::sync::atomic::fence(Ordering::SeqCst);\n            let _ = self.bell(bell).0.try_send(());\n',
    '            let _ = self.bell(bell).0.try_send(());\n')
EOF
    ;;
    writer-fills-retracted-buffer) cat <<'EOF'
# The writer takes a lent buffer with a plain store instead of a CAS: the
# reader's take-back can succeed while the writer copies into its buffer.
sub(WRITE, '            .compare_exchange(lent, FILLING, Ordering::SeqCst, Ordering::SeqCst)\n            .ok()?;\n',
    '            .swap(FILLING, Ordering::SeqCst);\n')
EOF
    ;;
    reader-leaves-during-fill) cat <<'EOF'
# A reader whose take-back fails (a writer is copying into its buffer) returns
# at once instead of waiting for the writer's answer.
sub(READ, '        if !spin_until(SPIN, || lend.answered()) {\n            sig.wait_until(Bell::Filled, Deadline::never(), false, || lend.answered());\n',
    '        #[allow(unreachable_code)]\n        return None;\n        if !spin_until(SPIN, || lend.answered()) {\n            sig.wait_until(Bell::Filled, Deadline::never(), false, || lend.answered());\n')
EOF
    ;;
    lent-bytes-lost-on-timeout) cat <<'EOF'
# Bytes a writer copied into a lent buffer are dropped when the read's
# deadline passes or the pipe closes meanwhile: the read reports the timeout.
sub(READ, '            (Some(n), _) if n > 0 => LendOutcome::Filled(n),\n',
    '')
EOF
    ;;
    lender-ignores-stage) cat <<'EOF'
# A reader that lent its buffer never looks at the stage again: bytes an async
# write staged meanwhile (it does not fill a lend behind staged bytes) wait
# for a writer that will not come.
sub(READ, '        let staged = || !self.stage.is_empty();\n',
    '        let staged = || false;\n')
EOF
    ;;
    stager-skips-filled-bell) cat <<'EOF'
# An async write that staged its bytes never rings a reader that lent its
# buffer meanwhile (and may have looked at the stage before the bytes came).
sub(STAGING, '        if state.load(Ordering::SeqCst) >= LENT_MIN {\n            sig.notify(Bell::Filled);\n        }\n',
    '')
EOF
    ;;
    take-staged-skips-stage-bell) cat <<'EOF'
# A read that takes staged bytes never rings the stage's doorbell: a consumed, a
# blocking write waiting for the drain, or an async write waiting for room
# sleeps on.
sub(READ, '            sh.signals.notify(Bell::Stage);\n',
    '')
EOF
    ;;
    sync-write-skips-drain) cat <<'EOF'
# A blocking write does not wait for staged bytes to drain before it offers
# or fills a lend, so its bytes can overtake them.
sub(WRITE, '            self.wait_drained(sh, deadline)?;\n',
    '')
EOF
    ;;
    poll-read-no-register) cat <<'EOF'
# An async read returns Pending without registering its waker.
sub(POLL, '            sig.register_task(Bell::Offer, task, cx.waker());\n',
    '')
EOF
    ;;
    poll-read-no-second-look) cat <<'EOF'
# An async read registers its waker and returns Pending without looking at
# the state again: a write that came between its look and its registration
# rang nobody.
sub(POLL, '            sig.register_task(Bell::Offer, task, cx.waker());\n            registered = true;\n',
    '            sig.register_task(Bell::Offer, task, cx.waker());\n            return Poll::Pending;\n')
EOF
    ;;
    close-wakes-no-task) cat <<'EOF'
# Closing the pipe (loom twin of Signals) wakes the parked threads but not the
# tasks: a pending read or consumed never hears of the close.
sub(SIGNALS, '            self.changed.notify_all();\n            self.tasks.wake_every();\n',
    '            self.changed.notify_all();\n')
EOF
    ;;
    consumed-ready-with-a-byte-staged) cat <<'EOF'
# A consumed wait is ready while one byte is still staged (off by one).
sub(POLL, '            if self.stage.lock().taken_past(mark) {\n',
    '            if self.stage.lock().taken_past(mark.saturating_sub(1)) {\n')
EOF
    ;;
    closed-read-drops-staged) cat <<'EOF'
# A read on a pipe whose write half closed ignores the bytes an async write
# staged before the close: end of file comes early.
sub(READ, '            if self.stage.is_empty() || sh.read_closed() {\n',
    '            if true || self.stage.is_empty() || sh.read_closed() {\n')
EOF
    ;;
    task-wake-only-oldest) cat <<'EOF'
# A doorbell's ring wakes only the oldest task listed on it, which may belong
# to a read future that was dropped; the others stay listed.
sub(TASKS, '            std::mem::take(&mut list.listed)\n',
    '            match list.listed.first().map(|&(p, _)| p) { Some(p) => vec![(p, list.unlist(p).unwrap())], None => Vec::new() }\n')
EOF
    ;;
    async-fill-drops-rest) cat <<'EOF'
# An async write that filled a lent buffer drops the rest (it stages it and
# takes it back) but reports it as accepted.
sub(STAGING, 'staged = ring.push_gather(bufs, n, max.saturating_sub(n));\n',
    'staged = ring.push_gather(bufs, n, max.saturating_sub(n));\n                ring.unpush(staged);\n')
EOF
    ;;
    deadline-moved-wakes-nobody) cat <<'EOF'
# A change of a half's deadline (loom twin of Signals) wakes no parked thread:
# a call blocked before the change never looks at the new deadline.
sub(SIGNALS, '            drop(self.board.lock());\n            self.changed.notify_all();\n',
    '            drop(self.board.lock());\n')
EOF
    ;;
    write-deadline-set-wakes-nobody) cat <<'EOF'
# set_write_deadline stores the deadline but wakes nobody: a write parked
# before it never sees it.
sub(MOD, '        self.write_deadline.set(at);\n        self.signals.deadline_moved();\n',
    '        self.write_deadline.set(at);\n')
EOF
    ;;
    park-ignores-half-deadline) cat <<'EOF'
# A park (loom twin of Deadline) gives up only for the call's timeout, never
# for the half's absolute deadline.
sub(DEADLINE, 'self.fixed || unsafe { self.half.as_ref() }.is_some_and(AbsDeadline::is_set)',
    'self.fixed')
EOF
    ;;
    write-ignores-half-deadline) cat <<'EOF'
# A write's deadline is its timeout only: the write half's absolute deadline
# is never looked at.
sub(MOD, '        unsafe {\n            self.write_timeout\n                .deadline()\n                .with_half(&self.write_deadline)\n        }\n',
    '        self.write_timeout.deadline()\n')
EOF
    ;;
    clearing-read-deadline-keeps-it) cat <<'EOF'
# set_read_deadline(None) leaves the old deadline in place: reads keep timing
# out after the deadline was cleared.
sub(MOD, '        self.read_deadline.set(at);\n',
    '        if at.is_some() {\n            self.read_deadline.set(at);\n        }\n')
EOF
    ;;
    sink-error-keeps-claim) cat <<'EOF'
# A draining read (write_to) whose sink fails returns without handing the
# claimed lease back: the writer and every other reader wait for ever.
sub(DRAIN, '                Err(e) => {\n                    failed = Some(e);\n                    break;\n',
    '                Err(e) => {\n                    std::mem::forget(guard);\n                    return (total, Some(e));\n')
EOF
    ;;
    sink-panic-keeps-claim) cat <<'EOF'
# The draining read's unwind guard does nothing: a panicking sink leaves the
# lease claimed.
sub(DRAIN, '    fn drop(&mut self) {\n        self.engine.hand_back_lease(self.sh);\n    }\n',
    '    fn drop(&mut self) {}\n')
EOF
    ;;
    drain-advances-past-sink) cat <<'EOF'
# A draining read advances the lease past the whole slice it handed to the
# sink, not just the bytes the sink took: the rest is lost.
sub(DRAIN, 'unsafe { (*lease).advance(n) }',
    'unsafe { (*lease).advance(bytes.len()) }')
EOF
    ;;
    vectored-releases-write-side) cat <<'EOF'
# A large write_vectored releases the write side between its slices (and takes
# it again): another writer's write can come between them.
sub(WRITE, '        crate::engine::zero_copy::write_each(slices, |slice| self.write_locked(sh, slice, deadline))\n',
    '        crate::engine::zero_copy::write_each(slices, |slice| {\n            self.lock.unlock(&sh.signals);\n            if !self.lock.try_lock() {\n                self.lock.lock_slow(&sh.signals, deadline).map_err(|_| timed_out())?;\n            }\n            self.write_locked(sh, slice, deadline)\n        })\n')
EOF
    ;;
    drain-sink-under-ring-lock) cat <<'EOF'
# The old drain (issue 17): a write_to sink runs on staged bytes with the
# stage's lock held, so other readers and async writers wait for user code.
sub(STAGE, '            let got = take(front);\n            let mut ring = self.lock();\n',
    '            let mut ring = self.lock();\n            let got = take(front);\n')
EOF
    ;;
    drain-claim-not-seen) cat <<'EOF'
# Other readers do not see a drain claim: they take the staged bytes a
# write_to sink is reading, which then reach two readers.
sub(RING, '        if self.claimed {\n            return 0;\n        }\n',
    '')
EOF
    ;;
    read-from-fills-lend) cat <<'EOF'
# The old fill-from-source (issue 17): read_from claims a waiting reader's
# lent buffer and runs its source straight into it, so the reader waits for
# the source whatever its deadline or a close.
sub(WRITE, '    pub(crate) fn write(&self, sh: &PipeState, buf: &[u8], deadline: Deadline) -> Written {\n',
    '    /// Mutant: the old fill-from-source.\n    pub(crate) fn mutant_fill(&self, sh: &PipeState, r: &mut dyn io::Read, deadline: Deadline) -> Option<io::Result<usize>> {\n        let state = &self.slot.state;\n        if state.load(Ordering::SeqCst) < LENT_MIN || !self.stage.is_empty() {\n            return None;\n        }\n        let _held = match self.hold(sh, deadline) {\n            Ok(held) => held,\n            Err(e) => return Some(Err(e)),\n        };\n        let lent = state.load(Ordering::SeqCst);\n        if lent < LENT_MIN || !self.stage.is_empty()\n            || state.compare_exchange(lent, FILLING, Ordering::SeqCst, Ordering::SeqCst).is_err()\n        {\n            return None;\n        }\n        let lend = unsafe { &*(lent as *const Lend) };\n        let view = lend.buf.with_mut(|v| unsafe { *v });\n        let got = if view.len == 0 {\n            Ok(0)\n        } else {\n            r.read(unsafe { std::slice::from_raw_parts_mut(view.ptr, view.len) })\n        };\n        let n = *got.as_ref().unwrap_or(&0);\n        state.store(EMPTY, Ordering::SeqCst);\n        lend.answer(n);\n        sh.signals.notify(Bell::Filled);\n        sh.signals.notify_threads(Bell::Offer);\n        if view.len == 0 {\n            return None;\n        }\n        Some(got)\n    }\n\n    pub(crate) fn write(&self, sh: &PipeState, buf: &[u8], deadline: Deadline) -> Written {\n')
sub(ZC, "            if own.is_empty() {\n                own = vec![0; OWN];\n            }\n",
    "            #[allow(irrefutable_let_patterns)]\n            if let Engine::Rendezvous(e) = &self.engine {\n                match e.mutant_fill(self, &mut *r, self.write_deadline()) {\n                    Some(Ok(0)) => return Ok(total),\n                    Some(Ok(n)) => {\n                        total += n as u64;\n                        continue;\n                    }\n                    Some(Err(e)) => return Err(e),\n                    None => {}\n                }\n            }\n            if own.is_empty() {\n                own = vec![0; OWN];\n            }\n")
EOF
    ;;
    read-from-cut-returns-count) cat <<'EOF'
# The old contract (issue 17): a write cut short ends read_from with Ok and
# the bytes readers got over the call, not with the cut's error (issue 24).
sub(ZC, '            total += self.write_or_cut(&own[..n]).map_err(|cut| cut.err)? as u64;\n',
    '            match self.write_or_cut(&own[..n]) {\n                Ok(k) => total += k as u64,\n                Err(cut) if total + cut.taken as u64 > 0 => return Ok(total + cut.taken as u64),\n                Err(cut) => return Err(cut.err),\n            }\n')
EOF
    ;;
    read-from-precheck-returns-count) cat <<'EOF'
# The old contract (issue 17): a close that read_from finds before its next
# read of the source ends it with Ok and the bytes delivered so far, not
# with the close (issue 24).
sub(ZC, '            if self.signals.is_closed() {\n                return Err(self.write_close_error());\n            }\n',
    '            if self.signals.is_closed() {\n                return if total > 0 { Ok(total) } else { Err(self.write_close_error()) };\n            }\n')
EOF
    ;;
    closed-read-ignores-claim) cat <<'EOF'
# A read on a closed pipe that finds the staged bytes claimed by a write_to
# sink reports end of file at once: the bytes the sink leaves are lost.
sub(READ, '                0 if self.stage.claimed() => return None,\n',
    '                0 if self.stage.claimed() => return Some(sh.read_close_result()),\n')
EOF
    ;;
    claim-end-rings-nobody) cat <<'EOF'
# The end of a drain claim rings nobody: readers waiting for it sleep on.
sub(DRAIN, '            fn drop(&mut self) {\n                self.0.signals.notify(Bell::Stage);\n                self.0.signals.notify_all(Bell::Offer);\n            }\n',
    '            fn drop(&mut self) {}\n')
EOF
    ;;
    unlocked-take-end-skips-room-bell) cat <<'EOF'
# The end of a drain claim rings only the readers, not the writers waiting
# for room: a buffered pipe's large read (under a claim, see UNLOCKED_TAKE)
# frees room, and the blocking write waiting for it sleeps on.
sub(DRAIN, '                self.0.signals.notify(Bell::Stage);\n                self.0.signals.notify_all(Bell::Offer);\n',
    '                self.0.signals.notify_all(Bell::Offer);\n')
EOF
    ;;
    claim-end-rings-one) cat <<'EOF'
# The end of a drain claim leaves one token on the readers' doorbell instead
# of waking every thread waiting for it: one reader wakes, the others sleep
# on (they waited for the same claim, and nobody passes the ring on).
sub(DRAIN, '                self.0.signals.notify_all(Bell::Offer);\n',
    '                self.0.signals.notify(Bell::Offer);\n')
EOF
    ;;
    sink-call-frees-room-silently) cat <<'EOF'
# A write_to sink's call that takes staged bytes frees room without ringing:
# an async write waiting for room hears of it only when the whole claim ends.
sub(STAGE, '            drop(ring);\n            freed();\n',
    '            drop(ring);\n')
EOF
    ;;
    buffered-room-wait-ignores-close) cat <<'EOF'
# A buffered pipe's blocking write waiting for room does not watch the done
# channel: a read half's close leaves it waiting for room nobody will make.
sub(STAGING, '            let woke = sig.wait_until(Bell::Stage, deadline, true, room);\n',
    '            let woke = sig.wait_until(Bell::Stage, deadline, false, room);\n')
EOF
    ;;
    buffered-offer-wait-ignores-close) cat <<'EOF'
# A buffered pipe's blocking write waiting with its rest on offer does not
# watch the done channel: a read half's close leaves it waiting for readers
# that will never take the offer.
sub(STAGING, '            sig.wait_until(Bell::Stage, deadline, true, replied)\n',
    '            sig.wait_until(Bell::Stage, deadline, false, replied)\n')
EOF
    ;;
    buffered-write-frees-write-side-for-room) cat <<'EOF'
# A buffered pipe's blocking write gives the write side up while it waits
# for room (or with its rest on offer), and takes it again after, so another
# write can come between its pieces.
sub(STAGING, '                let waited = if rest.len() > self.stage.cap() {\n',
    '                self.lock.unlock(&sh.signals);\n                let waited = if rest.len() > self.stage.cap() {\n')
sub(STAGING, '                waited.map_err(|Cut { taken, err }| Cut {\n',
    '                let _ = self.lock.lock_slow(&sh.signals, deadline);\n                waited.map_err(|Cut { taken, err }| Cut {\n')
EOF
    ;;
    buffered-claim-skips-staged-check) cat <<'EOF'
# A reader that claims a buffered pipe's offer does not look at the stage
# again after its claim: having seen the buffer empty before the writer's
# last push, it takes the offered rest of a write before that write's first
# bytes, which are still buffered.
sub(READ, '        if self.buffered && !self.stage.is_empty() {\n',
    '        if false {\n')
EOF
    ;;
    buffered-offer-reply-rings-nobody) cat <<'EOF'
# A reader that uses a buffered pipe's offer up rings only the unbuffered
# writer's doorbell: the buffered writer, waiting on the stage's, sleeps on.
sub(READ, '                sig.notify(Bell::Reply);\n                self.ring_blocked_offerer(sig);\n',
    '                sig.notify(Bell::Reply);\n')
EOF
    ;;
    buffered-write-stages-rest-piecemeal) cat <<'EOF'
# A buffered pipe's blocking write that filled the buffer stages its rest a
# piece at a time as readers free room, instead of offering it: a reader
# gets a byte at a time, and an echoing peer whose own writes wait
# deadlocks where the unbuffered pipe does not.
sub(STAGING, '            full = staged;\n',
    '            full = false;\n')
EOF
    ;;
    buffered-write-close-discards) cat <<'EOF'
# Closing a buffered pipe's write half drops the bytes still buffered: the
# reader sees end of file without them.
sub(MOD, '        let first = store_first(&self.werr, cause);\n',
    '        let first = store_first(&self.werr, cause);\n        if let Engine::Rendezvous(e) = &self.engine {\n            e.discard_buffered();\n        }\n')
EOF
    ;;
    buffered-fast-write-ignores-held-side) cat <<'EOF'
# A buffered pipe's write that fits in the room goes in without the write
# side even while another write holds it (waiting for room half way): its
# bytes land between the held write's pieces.
sub(STAGING, '        if unheld && (!self.lock.is_free() || total > ring.room()) {\n',
    '        if unheld && total > ring.room() {\n')
EOF
    ;;
    buffered-take-skips-room-bell) cat <<'EOF'
# A read that takes buffered bytes rings nobody: a blocking write waiting
# for room sleeps on (the same line as take-staged-skips-stage-bell, checked
# here on a buffered pipe).
sub(READ, '            sh.signals.notify(Bell::Stage);\n',
    '')
EOF
    ;;
    ticket-after-look) cat <<'EOF'
# A waiter takes its broadcast ticket after its last look at the state: a
# broadcast between the look and the ticket is missed, and the waiter sleeps
# through the change it waited for.
sub(SIGNALS, '            let ticket = self.ticket(bell);\n            if ready() {\n                return Park::Rung;\n            }\n',
    '            if ready() {\n                return Park::Rung;\n            }\n            let ticket = self.ticket(bell);\n')
EOF
    ;;
    full-stage-write-no-second-look) cat <<'EOF'
# An async write that found the stage full registers for room and returns
# Pending without looking at the close again: a read half's close whose
# wake-all ran before the registration leaves it pending for ever.
sub(POLL, '                sig.register_task(Bell::Stage, task, cx.waker());\n                if sig.is_closed() {\n',
    '                sig.register_task(Bell::Stage, task, cx.waker());\n                if false {\n')
EOF
    ;;
    take-back-skips-stage-bell) cat <<'EOF'
# An async write that takes its staged bytes back (the pipe closed while it
# staged them) never rings Bell::Stage, at both take-back sites (after
# filling a lend, and on the staging path).
sub(STAGING, '                    sig.notify(Bell::Stage);\n                    return Accepted::Closed;\n',
    '                    return Accepted::Closed;\n')
sub(STAGING, '            sig.notify(Bell::Stage);\n            return Accepted::Closed;\n',
    '            return Accepted::Closed;\n')
EOF
    ;;
    lock-wait-no-second-try) cat <<'EOF'
# An async write that found the write side held registers on Bell::Lock and
# returns Pending (unless closed) without trying the write side again: a
# release between its first try and its registration rang nobody.
sub(POLL, '            sig.register_task(Bell::Lock, task, cx.waker());\n            if !self.lock.try_lock() {\n',
    '            sig.register_task(Bell::Lock, task, cx.waker());\n            if true {\n')
EOF
    ;;
    lock-wait-no-close-look) cat <<'EOF'
# An async write waiting for the write side returns Pending after registering
# on Bell::Lock without looking at the close again.
sub(POLL, '                if sig.is_closed() {\n                    return Poll::Ready(Err(sh.write_close_error()));\n                }\n                return Poll::Pending;\n',
    '                return Poll::Pending;\n')
EOF
    ;;
    displaced-waker-dropped) cat <<'EOF'
# A task polling through a handle whose place holds another task's waker
# drops that waker (after the lock) instead of keeping it displaced: the
# other task, still waiting, is never woken.
sub(TASKS, '                other = list.displace(key(place, &old), old);\n',
    '                other = Some(old);\n')
EOF
    ;;
    displaced-waker-woken) cat <<'EOF'
# A task polling through a handle whose place holds another task's waker
# wakes that waker as it pushes it out (issue 24's busy loop: the woken task
# polls again and pushes out the next): a wake-up on an idle pipe.
sub(TASKS, '                other = list.displace(key(place, &old), old);\n',
    '                old.wake_by_ref();\n                other = list.displace(key(place, &old), old);\n')
EOF
    ;;
    close-wakes-tasks-before-closing) cat <<'EOF'
# The first close wakes the tasks (skipping the bells with none counted)
# before it stores the close: a task that registers in between finds no
# close on its look and is never woken.
sub(SIGNALS, '            self.closed.store(true, Ordering::SeqCst);\n            board.done = true;\n            drop(board);\n            self.changed.notify_all();\n            self.tasks.wake_every();\n',
    '            self.tasks.wake_every();\n            self.closed.store(true, Ordering::SeqCst);\n            board.done = true;\n            drop(board);\n            self.changed.notify_all();\n')
EOF
    ;;
    flush-forgets-unwoken) cat <<'EOF'
# A flush of the displaced wakers forgets them without waking them: a task
# that still waited is never woken.
sub(TASKS, '        for (_, waker) in flushed {\n            waker.wake();\n        }\n',
    '        drop(flushed);\n')
EOF
    ;;
    net-dial-wakes-no-thread) cat <<'EOF'
# A dial pushes its connection and wakes no thread asleep in accept.
sub(NET, '        if wake_thread {\n            self.arrived.notify_one();\n        }\n', '')
EOF
    ;;
    net-dial-notifies-before-push) cat <<'EOF'
# A dial wakes the accepting threads and tasks first and pushes its
# connection after: a waiter that looks between the two sleeps on.
sub(NET, '        state.queue.push_back(server);\n        self.mark_something(true);\n',
    '        self.mark_something(true);\n')
sub(NET, '        for waker in one.into_iter().chain(wakers) {\n            waker.wake();\n        }\n',
    '        for waker in one.into_iter().chain(wakers) {\n            waker.wake();\n        }\n        self.state.lock().queue.push_back(server);\n')
EOF
    ;;
    net-dial-wakes-no-task) cat <<'EOF'
# A dial drops the listed wakers instead of waking them.
sub(NET, '        for waker in one.into_iter().chain(wakers) {\n            waker.wake();\n        }\n        Ok(client)\n',
    '        drop((one, wakers));\n        Ok(client)\n')
EOF
    ;;
    net-poll-accept-no-second-look) cat <<'EOF'
# poll_accept lists its waker (cloned out of the lock) without looking at the
# backlog and the close again: a dial or close in between is missed.
sub(NET, '                None => {\n                    drop(state);\n                    fresh = Some(cx.waker().clone());\n                }\n',
    '                None => {\n                    drop(state);\n                    let waker = cx.waker().clone();\n                    self.state.lock().wakers.push(waker);\n                    return Poll::Pending;\n                }\n')
EOF
    ;;
    net-dial-wakes-oldest-task) cat <<'EOF'
# A dial wakes only the oldest listed waker: a stale one (its poll abandoned)
# eats the wake-up of a task still waiting.
sub(NET, '        for waker in one.into_iter().chain(wakers) {\n            waker.wake();\n        }\n        Ok(client)\n',
    '        if let Some(waker) = one.into_iter().chain(wakers).next() {\n            waker.wake();\n        }\n        Ok(client)\n')
EOF
    ;;
    net-close-wakes-no-thread) cat <<'EOF'
# The close wakes no thread asleep in accept.
sub(NET, '        if wake_threads {\n            self.arrived.notify_all();\n        }\n', '')
EOF
    ;;
    net-close-notifies-one) cat <<'EOF'
# The close wakes one thread asleep in accept, not all of them.
sub(NET, '            self.arrived.notify_all();\n', '            self.arrived.notify_one();\n')
EOF
    ;;
    net-close-wakes-no-task) cat <<'EOF'
# The close drops the listed wakers instead of waking them.
sub(NET, '        for waker in wakers {\n            waker.wake();\n        }\n        for conn in queued {\n',
    '        drop(wakers);\n        for conn in queued {\n')
EOF
    ;;
    net-close-keeps-backlog) cat <<'EOF'
# The close leaks the connections in the backlog instead of resetting them:
# their dialled ends wait for ever.
sub(NET, '        for conn in queued {\n            conn.close_with_error(reset());\n        }\n',
    '        std::mem::forget(queued);\n')
EOF
    ;;
    net-dial-ignores-close) cat <<'EOF'
# A dial on a closed listener queues its connection anyway.
sub(NET, '        if state.closed {\n            drop(state);\n            return Err(refused());\n        }\n', '')
EOF
    ;;
    net-accept-ignores-close) cat <<'EOF'
# A thread's accept on a closed listener sleeps instead of failing.
sub(NET, '            if state.closed {\n                return Err(accept_closed());\n            }\n', '')
EOF
    ;;
    net-drop-does-not-close) cat <<'EOF'
# Dropping the listener leaves it open.
sub(NET, 'impl Drop for Listener {\n    fn drop(&mut self) {\n        self.shared.close();\n    }\n}\n',
    'impl Drop for Listener {\n    fn drop(&mut self) {}\n}\n')
EOF
    ;;
    second-close-wakes-no-task) cat <<'EOF'
# The close of the second half (after the first closed done) wakes no task:
# one waiting since for that half's close sleeps on.
sub(SIGNALS, '    pub(crate) fn wake_all_tasks(&self) {\n        self.tasks.wake_every();\n',
    '    pub(crate) fn wake_all_tasks(&self) {\n')
EOF
    ;;
    *) return 1 ;;
  esac
}

# Whether mutant $1 is in expected_survivors.
expected_survivor() {
  local m
  for m in "${expected_survivors[@]}"; do [ "$m" = "$1" ] && return 0; done
  return 1
}

# Lays a fresh copy of the crate at $copy (same path every time, so the shared
# target dir only rebuilds gopipe and the tests).
fresh_copy() {
  rm -rf "$copy" && mkdir -p "$copy/loom-tests" || return 1
  cp "$repo/Cargo.toml" "$repo/Cargo.lock" "$copy/" || return 1
  cp -r "$repo/src" "$copy/src" || return 1
  cp -r "$repo/loom-tests/Cargo.toml" "$repo/loom-tests/src" "$repo/loom-tests/tests" \
    "$copy/loom-tests/" || return 1
  # Targets the root manifest declares must exist for cargo to load it.
  for d in benches examples interop; do
    [ -d "$repo/$d" ] && cp -r "$repo/$d" "$copy/$d"
  done
  return 0
}

apply_mutant() {
  local body
  body=$(mutant_patch "$1") || { echo "unknown mutant $1" >&2; return 1; }
  python3 - "$copy" <<EOF
import sys
root = sys.argv[1]
# One variable per source file a mutant may touch.
def src(path):
    return root + "/src/" + path
MOD, STAGE, ZC = src("engine/mod.rs"), src("engine/stage.rs"), src("engine/zero_copy.rs")
RING = src("engine/stage/ring.rs")
RDV, STATE, READ, DRAIN, WRITE, LOCK, POLL, STAGING = (
    src("engine/rendezvous/" + f + ".rs")
    for f in ("mod", "state", "read", "drain", "write", "lock", "poll", "staging"))
SIGNALS, TASKS, DEADLINE, SPIN, MOCKED, REAL = (
    src("sync/" + f + ".rs") for f in ("signals", "tasks", "deadline", "spin", "mocked", "real"))
PIPE, CONN, NET = src("pipe.rs"), src("conn.rs"), src("net.rs")
def sub(path, old, new):
    """Replaces the code 'old', which must occur exactly once in 'path' and
    hold no comment line (a mutant is anchored on code, so that rewording a
    comment never silently breaks it)."""
    for line in old.splitlines():
        if line.strip().startswith("//"):
            sys.exit("mutant anchored on a comment in %s: %r" % (path, line.strip()))
    text = open(path).read()
    if text.count(old) != 1:
        sys.exit("mutant anchor found %d times in %s: %r" % (text.count(old), path, old))
    open(path, "w").write(text.replace(old, new))
$body
EOF
}

# Builds the suite in the copy (only the test files given as `--test FILE`
# arguments, if any); prints cargo's errors on failure.
build() {
  (cd "$copy" && cargo test -q -p loom-tests --release --no-run "$@") >"$work/build.log" 2>&1 ||
    { tail -n 30 "$work/build.log"; return 1; }
}

# Runs cargo test in the copy with the given arguments, under the timeout; the
# output goes to $work/run.log. Returns 0 (passed), 1 (failed) or 124 (timeout).
run_suite() {
  (cd "$copy" && timeout --kill-after=10 "$timeout_s" \
    cargo test -p loom-tests --release "$@") >"$work/run.log" 2>&1
  local rc=$?
  case $rc in
    0) return 0 ;;
    124 | 137) return 124 ;;
    *) return 1 ;;
  esac
}

# How the last run failed: the first model that panicked and loom's verdict,
# read from that panic's message.
why_failed() {
  local log=$work/run.log at test msg how
  at=$(grep -m1 -n "panicked at" "$log" | cut -d: -f1)
  [ -n "$at" ] || { echo "no panic found (exit status only)"; return; }
  test=$(sed -n "${at}p" "$log" | sed -nE "s/.*thread '([A-Za-z0-9_:]+)'.*panicked at.*/\1/p")
  msg=$(sed -n "$((at + 1))p" "$log")
  case $msg in
    *"Causality violation"*) how="loom causality failure (${msg#*Causality violation: })" ;;
    deadlock*) how="loom deadlock" ;;
    *"maximum number of branches"*) how="loom branch limit" ;;
    *) how="assertion: $msg" ;;
  esac
  echo "${test:-?}: $how" | cut -c1-160
}

# The `--test FILE` arguments for the "file:model" words in $1, one per file.
test_files() {
  local fm seen=" "
  for fm in $1; do
    case $seen in *" ${fm%%:*} "*) continue ;; esac
    seen+="${fm%%:*} "
    printf -- '--test\n%s\n' "${fm%%:*}"
  done
}

# The model names for the "file:model" words in $1, one per line.
test_models() {
  local fm
  for fm in $1; do printf '%s\n' "${fm#*:}"; done
}

# Applies each mutant in "${names[@]}" to a fresh copy, builds nothing, and
# fails loudly if one does not apply exactly (an anchor missing, found twice,
# or on a comment) or applies but changes nothing.
check_all() {
  local bad=0 name
  for name in "${names[@]}"; do
    if ! fresh_copy || ! apply_mutant "$name" >"$work/apply.log" 2>&1; then
      echo "ERROR     $name: does not apply: $(tail -n 1 "$work/apply.log")"
      bad=1
    elif diff -rq "$repo/src" "$copy/src" >/dev/null; then
      echo "ERROR     $name: applies but changes nothing"
      bad=1
    fi
  done
  return $bad
}

matrix=0
check=0
full=${MUTANTS_FULL:-0}
shard=""
names=()
for arg in "$@"; do
  case $arg in
    --matrix) matrix=1 ;;
    --full) full=1 ;;
    --check) check=1 ;;
    --shard=*) shard=${arg#--shard=} ;;
    *) names+=("$arg") ;;
  esac
done
[ ${#names[@]} -gt 0 ] || names=("${mutant_names[@]}")
# --shard=K/N keeps every N-th mutant from the K-th (0-based), so that N runs
# with their own MUTANTS_TARGET_DIR can share the work (CI runs two at once).
if [ -n "$shard" ]; then
  k=${shard%/*} n=${shard#*/}
  kept=()
  for i in "${!names[@]}"; do
    [ $(( i % n )) = "$k" ] && kept+=("${names[$i]}")
  done
  names=("${kept[@]}")
fi
for name in "${names[@]}"; do
  mutant_patch "$name" >/dev/null || { echo "ERROR: unknown mutant $name"; exit 1; }
done
# Every mutant must apply exactly once before any model runs.
if ! check_all; then echo "ERROR: a mutant no longer applies (see above)"; exit 1; fi
echo "check: all ${#names[@]} mutants apply exactly once, on code"
[ $check = 1 ] && exit 0

# The models, as "file name" pairs, for --matrix.
models=()
if [ $matrix = 1 ]; then
  full=1
  fresh_copy && build || { echo "ERROR: the unmutated copy does not build"; exit 1; }
  for f in "$repo"/loom-tests/tests/*.rs; do
    f=$(basename "$f" .rs)
    while read -r m; do models+=("$f $m"); done < <(
      cd "$copy" && cargo test -q -p loom-tests --release --test "$f" -- --list 2>/dev/null |
        sed -n 's/: test$//p')
  done
fi

# The baseline: the models the chosen mutants run, on the unmutated copy (the
# whole suite if any of them runs it), so that a kill is the mutant's doing.
killers=""
if [ $full = 0 ]; then
  for name in "${names[@]}"; do
    t=${mutant_tests[$name]:-}
    if [ -z "$t" ]; then full=1; break; fi
    [ "$t" = none ] || killers+=" $t"
  done
fi
start=$(date +%s)
fresh_copy || { echo "ERROR: cannot copy the crate"; exit 1; }
if [ $full = 1 ]; then
  base_build=() base_run=(-- --nocapture)
else
  mapfile -t base_build < <(test_files "$killers")
  mapfile -t base_models < <(test_models "$killers" | sort -u)
  base_run=("${base_build[@]}" -- --exact "${base_models[@]}" --nocapture)
fi
if ! build "${base_build[@]}"; then echo "ERROR: the unmutated copy does not build"; exit 1; fi
if [ ${#base_build[@]} -gt 0 ] || [ $full = 1 ]; then
  if ! run_suite "${base_run[@]}"; then
    echo "ERROR: the loom models fail on the unmutated copy:"
    tail -n 40 "$work/run.log"
    exit 1
  fi
fi
if [ $full = 1 ]; then what="the whole suite"; else what="${#base_models[@]} models"; fi
echo "baseline: the unmutated copy passes $what ($(( $(date +%s) - start ))s)"

failed=0
for name in "${names[@]}"; do
  t0=$(date +%s)
  if ! fresh_copy || ! apply_mutant "$name"; then
    echo "ERROR     $name: does not apply"; failed=1; continue
  fi
  t=${mutant_tests[$name]:-}
  if [ $full = 1 ] || [ -z "$t" ]; then
    files=() run=(-- --nocapture)
  elif [ "$t" = none ]; then
    files=(--test "$(basename "$(ls "$copy"/loom-tests/tests/*.rs | head -n1)" .rs)") run=()
  else
    mapfile -t files < <(test_files "$t")
    mapfile -t ms < <(test_models "$t")
    run=("${files[@]}" -- --exact "${ms[@]}" --nocapture)
  fi
  if ! build "${files[@]}"; then echo "ERROR     $name: does not compile"; failed=1; continue; fi
  if [ $matrix = 1 ]; then
    killers=()
    for m in "${models[@]}"; do
      set -- $m
      run_suite --test "$1" -- --exact "$2" --nocapture
      case $? in
        0) ;;
        124) killers+=("$2(TIMEOUT)") ;;
        *) killers+=("$2") ;;
      esac
    done
    echo "$name: ${killers[*]:-NONE}"
    continue
  fi
  if [ ${#run[@]} = 0 ]; then
    # "none": the mutated code is not compiled under loom; nothing to run.
    rc=0
  else
    run_suite "${run[@]}"
    rc=$?
  fi
  if [ $rc = 0 ] && expected_survivor "$name"; then
    echo "SURVIVED  $name ($(( $(date +%s) - t0 ))s) (expected: known limit, see README)"
    continue
  fi
  case $rc in
    0) echo "SURVIVED  $name ($(( $(date +%s) - t0 ))s) (ran: ${t:-the whole suite})"; failed=1 ;;
    124) echo "TIMEOUT   $name (no verdict in ${timeout_s}s; counted as survived)"; failed=1 ;;
    *)
      note=""
      expected_survivor "$name" && note=" (an expected survivor, killed: fine)"
      echo "KILLED    $name ($(( $(date +%s) - t0 ))s) by $(why_failed)$note"
      ;;
  esac
done
echo "total $(( $(date +%s) - start ))s"
exit $failed
