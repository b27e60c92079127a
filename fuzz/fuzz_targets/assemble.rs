//! Fuzz the assembler: any sequence of chunks (one JSON text per input line) folds into a message
//! without a panic, and the message always survives `to_json` → `UIMessage` → `from_message`.
//!
//! The first input byte is a control byte:
//! - bits 0-1: how the assembler starts: `0` empty; `1` the first line is a `UIMessage` continued
//!   with [`Assembler::from_message`] (a chat restored mid-turn); `2` the first line is a
//!   `UIMessage` named with [`Assembler::continuing`] (the message a turn after a tool approval may
//!   continue); `3` as `0`, but every chunk also goes through [`Assembler::apply_record`];
//! - bits 2-7: after how many lines the message is taken out (`to_json`, read back, restored with
//!   `from_message`) and the rest of the lines are folded into the restored copy too.
//!
//! Checks, besides "no panic": [`Assembler::apply_json`] gives what parsing the line and
//! [`Assembler::apply`] give (the fast path is documented as the same); `to_json` reads back as an
//! equal `UIMessage`; `from_message` keeps an assistant message as it is; approvals can be answered
//! exactly when they are pending.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tchat::assemble::{
    approval_response, parse_partial_json, pending_approvals, repair_json, slim_for_wire, ApprovalError, Assembler,
};
use tchat::records::ChunkRecord;
use tchat::wire::UIMessage;

/// A message read back from `to_json` must equal the one written.
fn round_trip(a: &Assembler) -> UIMessage {
    let json = a.to_json();
    let back: UIMessage = serde_json::from_str(&json).expect("to_json is a UIMessage");
    assert_eq!(&back, a.message(), "to_json does not read back as the same message: {json}");
    back
}

/// Everything observable about an assembler besides its message.
fn summary(a: &Assembler) -> impl PartialEq + std::fmt::Debug + '_ {
    (
        a.message(),
        a.message_id(),
        a.finish_reason(),
        a.is_finished(),
        a.error_text(),
        a.is_aborted(),
        a.abort_reason(),
        a.is_empty(),
        a.previous(),
    )
}

/// Answers each pending approval on a copy (approved and denied), and a few ids that are not
/// pending: only the pending ones may succeed.
fn check_approvals(a: &Assembler) {
    let pending = a.pending_approvals();
    assert_eq!(pending, pending_approvals(a.message()));
    if pending.is_empty() {
        // Nothing can be answered; a made-up id must fail (and leaves the message alone).
        assert!(approval_response(a.message(), "approval-that-is-not-there", true, None).is_err());
        return;
    }
    let _ = slim_for_wire(a.message());
    for (i, p) in pending.iter().enumerate().take(3) {
        let mut copy = a.clone();
        let reason = (i % 2 == 0).then_some("fuzz");
        let slim =
            copy.respond_to_approval(&p.approval_id, i % 2 == 0, reason).expect("a pending approval can be answered");
        assert_eq!(slim.role, "assistant");
        let again =
            approval_response(a.message(), &p.approval_id, true, None).expect("a pending approval can be answered");
        assert_eq!(again.id, a.message().id);
        // Answered once, it is no longer pending.
        match copy.respond_to_approval(&p.approval_id, true, None) {
            Err(ApprovalError::NotPending { .. }) => {}
            other => panic!("answered twice: {other:?}"),
        }
        assert!(copy.pending_approvals().iter().all(|q| q.approval_id != p.approval_id));
        round_trip(&copy);
    }
}

fn apply_line(fast: &mut Assembler, reference: &mut Assembler, line: &str, records: bool, seq: u64) {
    fast.apply_json(line);
    let value = serde_json::from_str::<Value>(line).ok();
    if let Some(v) = value.as_ref().filter(|v| v.is_object()) {
        reference.apply(v);
    }
    if records {
        if let Some(v) = value.as_ref().filter(|v| v.is_object()) {
            if let Ok(r) = ChunkRecord::from_json(seq, 0, None, line) {
                let mut via_record = fast.clone();
                // `fast` has this chunk already: apply it once more to both, through each path.
                via_record.apply_record(&r);
                let mut via_value = fast.clone();
                via_value.apply(v);
                assert_eq!(summary(&via_record), summary(&via_value), "apply_record differs");
            }
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, rest)) = input.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.len() > 512 {
        return;
    }

    let mode = control & 0x03;
    let mut fast = Assembler::new();
    if mode == 1 || mode == 2 {
        let first = lines.remove(0);
        let message = serde_json::from_str::<UIMessage>(first).ok();
        if mode == 1 {
            if let Some(m) = message {
                let assistant = m.role == "assistant";
                let id = m.id.clone();
                fast = Assembler::from_message(m.clone());
                if assistant {
                    assert_eq!(fast.message(), &m, "from_message changed the message");
                } else {
                    assert_eq!(fast.message().id, id);
                    assert!(fast.message().parts.is_empty());
                }
            }
        } else {
            fast = Assembler::continuing(message);
        }
    }
    let mut reference = fast.clone();
    let records = mode == 3;

    let split = usize::from(control >> 2) % (lines.len() + 1);
    for (i, line) in lines[..split].iter().enumerate() {
        apply_line(&mut fast, &mut reference, line, records, i as u64);
        // The repair of a cut tool input (what `tool-input-delta` text goes through): whatever
        // it makes of the text, that is JSON.
        let _ = parse_partial_json(line);
        if line.len() < 256 {
            let repaired = repair_json(line);
            if !repaired.is_empty() {
                let _ = serde_json::from_str::<Value>(&repaired);
            }
        }
    }
    assert_eq!(summary(&fast), summary(&reference), "apply_json and apply disagree");

    // Taken out mid-turn (a saved chat): the message reads back and continues.
    let back = round_trip(&fast);
    let mut restored = Assembler::from_message(back.clone());
    if back.role == "assistant" {
        assert_eq!(restored.message(), &back);
    }
    let mut restored_reference = restored.clone();

    for (i, line) in lines[split..].iter().enumerate() {
        let seq = (split + i) as u64;
        apply_line(&mut fast, &mut reference, line, records, seq);
        apply_line(&mut restored, &mut restored_reference, line, false, seq);
    }
    assert_eq!(summary(&fast), summary(&reference), "apply_json and apply disagree");
    assert_eq!(summary(&restored), summary(&restored_reference), "apply_json and apply disagree (restored)");
    round_trip(&fast);
    round_trip(&restored);
    check_approvals(&fast);
    check_approvals(&restored);

    let _ = restored.into_message();
    fast.reset();
    assert!(fast.is_empty() && fast.message().parts.is_empty() && fast.previous().is_none());
});
