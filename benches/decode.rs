//! Decoder throughput: raw `.out` SSE bytes → SSE events → S2 records → UIMessage assembly, on one
//! core, the way a chat's reader thread runs it (minus the socket).
//!
//! `make bench` runs it on a generated stream of 240,000 text-delta records in realistic batches;
//! `make bench BENCH_OUT_FILE=path` decodes a captured `.out` body (raw SSE bytes) instead, so the same
//! bytes can be fed to other clients for comparison. `--write path` saves the generated stream.

use std::time::Instant;

use tchat::assemble::Assembler;
use tchat::records::{Control, Decoder, StreamItem};
use tchat::sse::SseParser;

/// Records of one generated stream.
const RECORDS: usize = 240_000;
/// Text deltas per turn before a turn-complete record.
const TURN_LEN: usize = 2_000;
/// Bytes handed to the parser per read, like a socket read.
const READ_SIZE: usize = 16 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let (bytes, source) = match arg("--file") {
        Some(path) => (std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}")), path),
        None => (generate(RECORDS), format!("generated ({RECORDS} text-delta records)")),
    };
    if let Some(path) = arg("--write") {
        std::fs::write(&path, &bytes).expect("write stream");
    }

    // Warm up once, then take the best of 5 runs (the machine is shared). `--passes N` runs N passes
    // in all (`--passes 1` for instruction counts under callgrind).
    let passes: usize = arg("--passes").map_or(6, |n| n.parse().expect("--passes N"));
    let mut best = f64::INFINITY;
    let mut outcome = Outcome::default();
    for _ in 0..passes.max(1) {
        let start = Instant::now();
        outcome = decode(&bytes);
        best = best.min(start.elapsed().as_secs_f64());
    }
    let mb = bytes.len() as f64 / 1e6;
    println!("decoder benchmark: {source}");
    println!(
        "  {} bytes, {} records ({} chunks, {} controls, {} turns), {} text bytes assembled",
        bytes.len(),
        outcome.records,
        outcome.chunks,
        outcome.controls,
        outcome.turns,
        outcome.text_bytes
    );
    println!(
        "  sse + records + assemble, one core: {:.0} records/s, {:.1} MB/s ({:.1} ms per pass, best of {})",
        outcome.records as f64 / best,
        mb / best,
        best * 1e3,
        passes.saturating_sub(1).max(1)
    );
}

#[derive(Default, Debug)]
struct Outcome {
    records: u64,
    chunks: u64,
    controls: u64,
    turns: u64,
    text_bytes: usize,
}

#[inline(never)]
fn decode(bytes: &[u8]) -> Outcome {
    let mut parser = SseParser::new();
    let mut decoder = Decoder::new();
    let mut assembler = Assembler::new();
    let mut items = Vec::with_capacity(64);
    let mut out = Outcome::default();
    for piece in bytes.chunks(READ_SIZE) {
        parser.feed(piece, |ev| decoder.decode_event(ev.event, ev.data, &mut items)).expect("stream within limits");
        for item in items.drain(..) {
            match item {
                StreamItem::Chunk(c) => {
                    out.chunks += 1;
                    assembler.apply_record(&c);
                }
                StreamItem::Control { control, .. } => {
                    out.controls += 1;
                    if let Control::TurnComplete(_) = control {
                        out.turns += 1;
                        out.text_bytes += assembler.to_json().len();
                        assembler.reset();
                    }
                }
                _ => {}
            }
        }
    }
    parser.finish();
    out.records = decoder.stats().records;
    out
}

/// A `.out` body as the server sends it: batches of 1..=40 records (sizes cycle), a ping now and
/// then, a turn-complete control record and a trim command record after each turn.
fn generate(records: usize) -> Vec<u8> {
    let words =
        ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog,", " and", " then", " some."];
    let mut out = Vec::with_capacity(records * 170);
    let mut seq = 0u64;
    let mut batch: Vec<String> = Vec::new();
    let mut batch_size = 1;
    let mut deltas = 0usize;
    let mut turn = 0usize;
    let ts = 1_764_000_000_000u64;
    let flush = |out: &mut Vec<u8>, batch: &mut Vec<String>, seq: u64| {
        if batch.is_empty() {
            return;
        }
        out.extend_from_slice(format!("event: batch\nid: 0,{seq},{}\ndata: {{\"records\":[", seq + 100).as_bytes());
        out.extend_from_slice(batch.join(",").as_bytes());
        out.extend_from_slice(format!("],\"tail\":{{\"seq_num\":{},\"timestamp\":{ts}}}}}\n\n", seq + 1).as_bytes());
        batch.clear();
    };
    let data_record = |seq: u64, chunk: String| {
        let body = format!("{{\"data\":{chunk},\"id\":\"p{seq:x}\"}}");
        format!("{{\"seq_num\":{seq},\"timestamp\":{},\"body\":{}}}", ts + seq, serde_json::to_string(&body).unwrap())
    };
    while deltas < records {
        // A turn: start, text-start, deltas, text-end, finish, turn-complete, trim.
        for chunk in [
            format!("{{\"type\":\"start\",\"messageId\":\"msg_{turn}\"}}"),
            "{\"type\":\"start-step\"}".to_owned(),
            format!("{{\"type\":\"text-start\",\"id\":\"txt_{turn}\"}}"),
        ] {
            batch.push(data_record(seq, chunk));
            seq += 1;
        }
        for i in 0..TURN_LEN.min(records - deltas) {
            let delta = words[i % words.len()];
            batch.push(data_record(
                seq,
                format!("{{\"type\":\"text-delta\",\"id\":\"txt_{turn}\",\"delta\":\"{delta}\"}}"),
            ));
            seq += 1;
            deltas += 1;
            if batch.len() >= batch_size {
                flush(&mut out, &mut batch, seq);
                batch_size = batch_size % 40 + 1;
                if deltas % 500 == 0 {
                    out.extend_from_slice(format!("event: ping\ndata: {{\"timestamp\":{}}}\n\n", ts + seq).as_bytes());
                }
            }
        }
        for chunk in [
            format!("{{\"type\":\"text-end\",\"id\":\"txt_{turn}\"}}"),
            "{\"type\":\"finish-step\"}".to_owned(),
            "{\"type\":\"finish\",\"finishReason\":\"stop\"}".to_owned(),
        ] {
            batch.push(data_record(seq, chunk));
            seq += 1;
        }
        batch.push(format!(
            "{{\"seq_num\":{seq},\"timestamp\":{ts},\"headers\":[[\"trigger-control\",\"turn-complete\"],[\"public-access-token\",\"bench.not.a.token\"],[\"session-in-event-id\",\"{turn}\"]]}}"
        ));
        seq += 1;
        batch.push(format!("{{\"seq_num\":{seq},\"timestamp\":{ts},\"headers\":[[\"\",\"trim\"]],\"body\":\"AAAA\"}}"));
        seq += 1;
        flush(&mut out, &mut batch, seq);
        turn += 1;
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    out
}
