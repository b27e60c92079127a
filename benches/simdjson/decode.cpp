// The work of benches/decode.rs, in C++ with simdjson On-Demand: a reference figure for tchat's
// decoder (issue 12 item 7). `make bench-simdjson` builds and runs it on build-c/bench-out.sse, the
// bytes `cargo bench --bench decode -- --write build-c/bench-out.sse` decodes.
//
//   decode --file PATH [--passes N] [--assemble-only]
//
// What one pass does, and what it stands for in tchat (src/sse.rs, src/records.rs, src/assemble.rs,
// driven by benches/decode.rs::decode):
//
//   feed         The file in 16 KiB slices (READ_SIZE), as decode.rs feeds SseParser::feed; items
//                produced by a slice are drained after it, like `items.drain(..)`.
//   SseParser    WHATWG event-stream rules as src/sse.rs implements them: a BOM at stream start,
//                CR / LF / CRLF (also a CR ending one slice and its LF starting the next), comments,
//                `field: value` with one space stripped, `data` lines appended plus '\n' (the last
//                '\n' dropped at dispatch), `event`, `id` (ignored when it holds NUL; the
//                last-event-id buffer becomes the last-event-id at dispatch), `retry` (digits only),
//                dispatch on a blank line, an event without data dropped. A line that straddles two
//                slices is copied into a line buffer, others are parsed in place; each line is
//                checked as UTF-8 (simdjson::validate_utf8; invalid bytes become U+FFFD, the
//                `String::from_utf8_lossy` rule, on a slow path) and copied into the data buffer,
//                as push_lossy does. The same 8 MiB event bound (line + data), the same 64 KiB
//                retained capacity. The data buffer carries simdjson's padding, so the batch is
//                parsed where it lies.
//   Decoder      decode_event: `batch`, `ping` (its JSON `timestamp` read), `error`, `message` +
//                `[DONE]`, others counted. A batch `{"records":[...], ...}` is read whole first
//                (tchat's fast_batch into `shells`, here into a reused vector of the same shells:
//                seq_num as u64, timestamp as i64 (default 0), headers as [name, value] string pairs
//                or null, body as a string (unescaped by simdjson) or null; a duplicated field or a
//                wrong type fails the batch), then every record goes through record_parts: count,
//                the cursor (a seq_num at or behind it is a duplicate), command records (first
//                header name empty) skipped, control records (a `trigger-control` header) turned into
//                a Control (turn-complete: public-access-token copied out, session-in-event-id /
//                -consumed-id parsed as u64, session-closed, reason), data records' bodies parsed
//                (a second simdjson document per body, like tchat's fast_data_body / data_body: the
//                envelope `{"data": {chunk object}, "id": "<part id>"}`, `data` must be an object,
//                nothing may follow; the chunk's `type`, `id`, `delta` read as strings, whether a
//                non-null `providerMetadata` is there, the chunk's JSON text kept; `trigger:*` chunk
//                types become legacy controls or are dropped), then the part id dedup exactly as
//                Decoder::remember does it: a keyed SipHash-1-3 digest of the id (what Rust's
//                RandomState computes for a &str: the bytes then 0xFF), a set of digests and a FIFO
//                of at most DEDUP_WINDOW (5000) of them, an empty id not deduplicated. A chunk comes
//                out as a ChunkRecord like tchat's: one heap buffer holding the chunk's JSON text as
//                sent plus its part id, type, delta id and delta (tchat points at the ones that are
//                escape-free substrings of the JSON instead of copying them: the same allocation,
//                a few more bytes copied here), seq_num, timestamp, and the delta kind.
//   Assembler    What decode.rs does with the items: a text-delta / reasoning-delta whose id, delta
//                and absence of providerMetadata say everything goes to apply_delta (open part by
//                chunk id, the last id cached in front of a hash map, text appended in place); any
//                other chunk is parsed again (tchat: ChunkRecord::chunk_value, a serde_json Value;
//                here a simdjson document) and applied by type: start (messageId; a new id clears
//                the message), start-step, text-start / text-end, reasoning-start / -end,
//                finish-step, finish (finishReason), error, abort. On each turn-complete control the
//                message is serialized to JSON as serde_json writes UIMessage (`id`, `role`,
//                `parts` with keys sorted, serde_json's string escapes) and its length summed
//                ("text bytes assembled"), then the assembler is reset, as decode.rs does.
//
// What it leaves out, none of which this stream exercises (every count printed below shows it):
// the AI SDK chunk types this stream does not carry (tool-*, data-*, file, source-*, custom,
// message-metadata merging, reset-step, steering-message: counted as `unsupported`); a batch the
// reader refuses is one DecodeError here, where tchat retries it with serde_json and then record by
// record (`decode errors` stays 0 on a well-formed stream); keys with JSON escapes are not
// recognised (simdjson compares raw keys; tchat leaves them to serde_json); On-Demand does not
// check values it skips (tchat's fast reader does); providerMetadata / citations are copied
// minified, where tchat re-serializes them (sorted keys).
//
// Output: the lines decode.rs prints, in its format (so tools that read build-c/bench-decode.txt
// read this too), under a first line naming the build:
//
//   decoder benchmark (C++ simdjson ...): PATH
//     B bytes, R records (C chunks, K controls, T turns), X text bytes assembled
//     sse + records + assemble, one core: N records/s, M MB/s (t ms per pass, best of P)
//     sse + records, one core: ...                              (no Assembler: decoder alone)
//     checks: ...                                               (cursor, delta bytes, counters)
//
// Method, as decode.rs: the passes (default 6, --passes N) run back to back and the fastest is
// kept (decode.rs takes the minimum over all of them, the first included, and calls it "best of
// N-1"; so does this); records/s = records of one pass / best pass time; MB/s = file bytes / 1e6 /
// best pass time. "sse + records" is a second series of passes without the Assembler (it sums the
// text-delta bytes instead, one of the checks); `--assemble-only` skips it.
//
// Build (benches/simdjson/run.sh): c++ -std=c++17 -O2 -DNDEBUG decode.cpp -lsimdjson. No -march:
// tchat's build is generic x86-64, so this is too. simdjson then still runs its stage 1 (structural
// indexing, UTF-8 validation) and its string unescaping with the best kernel for the CPU (runtime
// dispatch inside libsimdjson.so: `haswell` on AVX2 machines); only the On-Demand iteration
// compiled into this file is the generic (`fallback`) code. The first output line names both.
//
// Instructions per record: valgrind --tool=callgrind build-c/bench-simdjson --file F --passes 1,
// then the inclusive cost of decode<true> (callgrind_annotate --inclusive=yes) / records; for
// tchat the same with target/release/deps/decode-* and decode::decode.

#include <simdjson.h>

#include <emmintrin.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

using namespace simdjson;
using std::string_view;

namespace {

constexpr size_t READ_SIZE = 16 * 1024;
constexpr size_t DEDUP_WINDOW = 5000;
constexpr size_t DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024;
constexpr size_t RETAINED_CAPACITY = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// Buffers

/// A growable byte buffer with SIMDJSON_PADDING allocated bytes beyond its length, so simdjson can
/// parse it in place.
struct PaddedBuf {
  std::unique_ptr<char[]> ptr;
  size_t len = 0;
  size_t cap = 0;  // allocated bytes, padding included

  void ensure(size_t n) {
    if (n + SIMDJSON_PADDING <= cap) return;
    size_t grown = std::max({cap * 2, n + SIMDJSON_PADDING, size_t(256)});
    std::unique_ptr<char[]> p(new char[grown]);
    if (len) std::memcpy(p.get(), ptr.get(), len);
    std::memset(p.get() + len, 0, grown - len);
    ptr = std::move(p);
    cap = grown;
  }
  void append(const char* s, size_t n) {
    ensure(len + n);
    std::memcpy(ptr.get() + len, s, n);
    len += n;
  }
  void push(char c) {
    ensure(len + 1);
    ptr[len++] = c;
  }
  void assign(string_view s) {
    len = 0;
    append(s.data(), s.size());
  }
  /// Clears for reuse, giving back capacity beyond RETAINED_CAPACITY (clear_string in sse.rs).
  void clear_retaining() {
    len = 0;
    if (cap > RETAINED_CAPACITY + SIMDJSON_PADDING) {
      ptr.reset(new char[RETAINED_CAPACITY + SIMDJSON_PADDING]);
      cap = RETAINED_CAPACITY + SIMDJSON_PADDING;
      std::memset(ptr.get(), 0, cap);
    }
  }
  string_view view() const { return string_view(ptr.get(), len); }
  bool empty() const { return len == 0; }
};

void clear_retaining(std::string& s) {
  s.clear();
  if (s.capacity() > RETAINED_CAPACITY) s.shrink_to_fit();
}

/// Appends `bytes` decoded as UTF-8 with String::from_utf8_lossy semantics (each maximal invalid
/// subpart becomes U+FFFD).
template <class Out>
void push_lossy(Out& dst, const char* bytes, size_t n) {
  if (simdjson::validate_utf8(bytes, n)) {
    dst.append(bytes, n);
    return;
  }
  static const char FFFD[] = "\xEF\xBF\xBD";
  const auto* b = reinterpret_cast<const unsigned char*>(bytes);
  size_t i = 0;
  while (i < n) {
    unsigned c = b[i];
    size_t need = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      dst.append(bytes + i, 1);
      i++;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      dst.append(FFFD, 3);
      i++;
      continue;
    }
    size_t j = 1;
    for (; j <= need; j++) {
      if (i + j >= n) break;
      unsigned d = b[i + j];
      unsigned l = j == 1 ? lo : 0x80, h = j == 1 ? hi : 0xBF;
      if (d < l || d > h) break;
    }
    if (j == need + 1) {
      dst.append(bytes + i, need + 1);
      i += need + 1;
    } else {
      dst.append(FFFD, 3);
      i += j;  // the maximal subpart: the lead byte and the valid continuation bytes after it
    }
  }
}

struct StringSink {
  std::string& s;
  void append(const char* p, size_t n) { s.append(p, n); }
};

// ---------------------------------------------------------------------------------------------
// SSE (src/sse.rs)

/// The first CR or LF in [p, end), 16 bytes at a time (SSE2: the x86-64 baseline, as tchat's build).
inline const char* find_line_end(const char* p, const char* end) {
  const __m128i nl = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, nl), _mm_cmpeq_epi8(v, cr)));
    if (m) return p + __builtin_ctz(unsigned(m));
    p += 16;
  }
  for (; p < end; ++p) {
    if (*p == '\n' || *p == '\r') return p;
  }
  return nullptr;
}

struct SseEvent {
  string_view event;
  string_view data;
  size_t data_allocated;  // bytes readable from data.data(): simdjson's padding
  string_view id;
};

class SseParser {
 public:
  /// Parses the next slice; calls on_event for every completed event. False once the event bound is
  /// exceeded (the parser is then poisoned, as tchat's).
  template <class F>
  bool feed(const char* bytes, size_t n, F&& on_event) {
    if (poisoned_) return false;
    const char* rest = bytes;
    const char* end = bytes + n;
    static const char BOM[3] = {'\xEF', '\xBB', '\xBF'};
    if (bom_pending_) {
      for (;;) {
        if (rest == end) return true;
        if (*rest == BOM[bom_matched_]) {
          bom_matched_++;
          rest++;
          if (bom_matched_ == 3) break;
        } else {
          line_.append(BOM, bom_matched_);
          break;
        }
      }
      bom_pending_ = false;
    }
    if (pending_cr_) {
      if (rest == end) return true;
      if (*rest == '\n') rest++;
      pending_cr_ = false;
    }
    while (const char* e = find_line_end(rest, end)) {
      const char* content = rest;
      size_t content_len = size_t(e - rest);
      char terminator = *e;
      rest = e + 1;
      if (line_.empty()) {
        if (!check_size(content_len)) return false;
        process_line(content, content_len, on_event);
      } else {
        if (!check_size(line_.size() + content_len)) return false;
        line_.append(content, content_len);
        process_line(line_.data(), line_.size(), on_event);
        clear_retaining(line_);
      }
      if (terminator == '\r') {
        if (rest < end) {
          if (*rest == '\n') rest++;
        } else {
          pending_cr_ = true;
        }
      }
    }
    if (rest < end) {
      if (!check_size(line_.size() + size_t(end - rest))) return false;
      line_.append(rest, size_t(end - rest));
    }
    return true;
  }

  void finish() {
    clear_retaining(line_);
    data_.clear_retaining();
    clear_retaining(event_type_);
    if (id_pending_) {
      id_buffer_ = last_event_id_;
      id_pending_ = false;
    }
    pending_cr_ = false;
    if (bom_pending_) bom_matched_ = 0;
  }

  string_view last_event_id() const { return last_event_id_; }
  uint64_t comments() const { return comments_; }

 private:
  bool check_size(size_t line_bytes) {
    if (line_bytes + data_.len <= max_event_bytes_) return true;
    poisoned_ = true;
    pending_cr_ = false;
    line_ = std::string();
    data_ = PaddedBuf();
    event_type_.clear();
    return false;
  }

  template <class F>
  void process_line(const char* line, size_t n, F& on_event) {
    if (n == 0) {
      dispatch(on_event);
      return;
    }
    if (line[0] == ':') {
      comments_++;
      return;
    }
    const char* colon = static_cast<const char*>(std::memchr(line, ':', n));
    string_view name, value;
    if (colon) {
      name = string_view(line, size_t(colon - line));
      const char* v = colon + 1;
      const char* e = line + n;
      if (v < e && *v == ' ') v++;
      value = string_view(v, size_t(e - v));
    } else {
      name = string_view(line, n);
    }
    if (name == "data") {
      push_lossy(data_, value.data(), value.size());
      data_.push('\n');
    } else if (name == "event") {
      event_type_.clear();
      StringSink sink{event_type_};
      push_lossy(sink, value.data(), value.size());
    } else if (name == "id") {
      if (value.find('\0') == string_view::npos) {
        id_buffer_.clear();
        StringSink sink{id_buffer_};
        push_lossy(sink, value.data(), value.size());
        id_pending_ = true;
      }
    } else if (name == "retry") {
      if (!value.empty() && std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        uint64_t ms = 0;
        for (char c : value) {
          uint64_t d = uint64_t(c - '0');
          ms = (ms > (UINT64_MAX - d) / 10) ? UINT64_MAX : ms * 10 + d;
        }
        retry_ms_ = ms;
      }
    }
  }

  template <class F>
  void dispatch(F& on_event) {
    if (id_pending_) {
      last_event_id_ = id_buffer_;
      id_pending_ = false;
    }
    if (data_.empty()) {
      event_type_.clear();
      return;
    }
    data_.len--;  // the '\n' after the last data line
    string_view event = event_type_.empty() ? string_view("message") : string_view(event_type_);
    on_event(SseEvent{event, data_.view(), data_.cap, last_event_id_});
    data_.clear_retaining();
    clear_retaining(event_type_);
  }

  std::string line_;
  PaddedBuf data_;
  std::string event_type_, last_event_id_, id_buffer_;
  bool id_pending_ = false;
  std::optional<uint64_t> retry_ms_;
  uint64_t comments_ = 0;
  bool pending_cr_ = false;
  bool bom_pending_ = true;
  unsigned bom_matched_ = 0;
  size_t max_event_bytes_ = DEFAULT_MAX_EVENT_BYTES;
  bool poisoned_ = false;
};

// ---------------------------------------------------------------------------------------------
// simdjson 3.0 helpers

/// Nothing but whitespace left in the document (3.0 has no document::at_end).
bool at_end(ondemand::document& doc) {
  const char* p;
  return doc.current_location().get(p) == OUT_OF_BOUNDS;
}

/// A value's JSON text as sent (3.0 has raw_json for objects and arrays only); "" on error.
string_view raw_json(ondemand::value& v, ondemand::json_type t) {
  string_view s;
  if (t == ondemand::json_type::object) {
    ondemand::object o;
    if (v.get_object().get(o) || o.raw_json().get(s)) return {};
    return s;
  }
  if (t == ondemand::json_type::array) {
    ondemand::array a;
    if (v.get_array().get(a) || a.raw_json().get(s)) return {};
    return s;
  }
  s = v.raw_json_token();
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Records (src/records.rs)

enum class DeltaKind : int8_t { None = -1, Text = 0, Reasoning = 1 };

DeltaKind kind_of(string_view chunk_type) {
  if (chunk_type == "text-delta") return DeltaKind::Text;
  if (chunk_type == "reasoning-delta") return DeltaKind::Reasoning;
  return DeltaKind::None;
}

/// tchat's ChunkRecord: the chunk JSON and its pre-read fields in one allocation.
struct ChunkRecord {
  enum Seg { PartId = 0, Type = 1, DeltaId = 2, Delta = 3 };
  uint64_t seq_num = 0;
  int64_t timestamp = 0;
  std::unique_ptr<char[]> buf;  // the chunk JSON, then the segments
  uint32_t json_len = 0;
  std::pair<uint32_t, uint32_t> spans[4] = {};
  uint8_t present = 0;
  DeltaKind kind = DeltaKind::None;

  std::optional<string_view> seg(Seg s) const {
    if (!(present & (1u << s))) return std::nullopt;
    return string_view(buf.get() + spans[s].first, spans[s].second - spans[s].first);
  }
  string_view json() const { return string_view(buf.get(), json_len); }
  std::optional<string_view> part_id() const { return seg(PartId); }
  std::optional<string_view> chunk_type() const { return seg(Type); }
  std::optional<string_view> delta() const {
    if (kind == DeltaKind::None) return std::nullopt;
    return seg(Delta);
  }
  struct TextDelta {
    DeltaKind kind;
    string_view id, delta;
  };
  std::optional<TextDelta> text_delta() const {
    if (kind == DeltaKind::None) return std::nullopt;
    auto id = seg(DeltaId);
    if (!id) return std::nullopt;
    return TextDelta{kind, *id, seg(Delta).value_or(string_view())};
  }
};

struct Fields {
  std::optional<string_view> chunk_type, delta_id, delta;
  DeltaKind kind = DeltaKind::None;
};

ChunkRecord build_chunk(string_view json, std::optional<string_view> part_id, const Fields& f) {
  ChunkRecord r;
  const std::optional<string_view> segs[4] = {part_id, f.chunk_type, f.delta_id, f.delta};
  size_t total = json.size();
  for (const auto& s : segs) total += s ? s->size() : 0;
  r.buf.reset(new char[total ? total : 1]);
  char* p = r.buf.get();
  std::memcpy(p, json.data(), json.size());
  size_t at = json.size();
  for (int i = 0; i < 4; i++) {
    if (!segs[i]) continue;
    r.present |= uint8_t(1u << i);
    if (!segs[i]->empty()) std::memcpy(p + at, segs[i]->data(), segs[i]->size());
    r.spans[i] = {uint32_t(at), uint32_t(at + segs[i]->size())};
    at += segs[i]->size();
  }
  r.json_len = uint32_t(json.size());
  r.kind = f.kind;
  return r;
}

struct TurnComplete {
  std::optional<std::string> public_access_token;
  std::optional<uint64_t> session_in_event_id, session_in_consumed_id;
  bool session_closed = false;
  std::optional<std::string> session_closed_reason;
  bool legacy = false;
};
struct UpgradeRequired {
  bool legacy;
};
struct SessionClosed {
  std::optional<std::string> reason;
};
struct PendingVersion {};
struct UnknownControl {
  std::string subtype;
};
using Control = std::variant<TurnComplete, UpgradeRequired, SessionClosed, PendingVersion, UnknownControl>;

struct ControlItem {
  uint64_t seq_num;
  int64_t timestamp;
  Control control;
};
struct PingItem {
  std::optional<int64_t> timestamp;
};
struct DoneItem {};
struct ServerErrorItem {
  std::string message;
};
struct DecodeErrorItem {
  std::optional<uint64_t> seq_num;
  std::string message;
};
using StreamItem = std::variant<ChunkRecord, ControlItem, PingItem, DoneItem, ServerErrorItem, DecodeErrorItem>;

struct DecoderStats {
  uint64_t records = 0, chunks = 0, controls = 0, commands = 0, duplicates = 0, decode_errors = 0,
           dropped_chunks = 0, pings = 0, unknown_events = 0;
};

/// SipHash-1-3 (Rust's DefaultHasher, what RandomState builds) over `bytes` followed by 0xFF: the
/// digest `RandomState::hash_one(&str)` gives.
class SipHash13 {
 public:
  SipHash13() {
    std::random_device rd;
    k0_ = (uint64_t(rd()) << 32) | rd();
    k1_ = (uint64_t(rd()) << 32) | rd();
  }
  uint64_t hash_str(string_view s) const {
    uint64_t v0 = k0_ ^ 0x736f6d6570736575ULL, v1 = k1_ ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0_ ^ 0x6c7967656e657261ULL, v3 = k1_ ^ 0x7465646279746573ULL;
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    const size_t total = s.size() + 1;  // + the 0xFF terminator Hash for str writes
    size_t i = 0;
    auto round = [&] {
      v0 += v1;
      v1 = rotl(v1, 13);
      v1 ^= v0;
      v0 = rotl(v0, 32);
      v2 += v3;
      v3 = rotl(v3, 16);
      v3 ^= v2;
      v0 += v3;
      v3 = rotl(v3, 21);
      v3 ^= v0;
      v2 += v1;
      v1 = rotl(v1, 17);
      v1 ^= v2;
      v2 = rotl(v2, 32);
    };
    auto byte_at = [&](size_t k) -> uint64_t { return k < s.size() ? p[k] : 0xFF; };
    for (; i + 8 <= total; i += 8) {
      uint64_t m;
      if (i + 8 <= s.size()) {
        std::memcpy(&m, p + i, 8);
      } else {
        m = 0;
        for (size_t k = 0; k < 8; k++) m |= byte_at(i + k) << (8 * k);
      }
      v3 ^= m;
      round();
      v0 ^= m;
    }
    uint64_t b = uint64_t(total) << 56;
    for (size_t k = 0; i + k < total; k++) b |= byte_at(i + k) << (8 * k);
    v3 ^= b;
    round();
    v0 ^= b;
    v2 ^= 0xff;
    round();
    round();
    round();
    return v0 ^ v1 ^ v2 ^ v3;
  }

 private:
  static uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }
  uint64_t k0_, k1_;
};

/// A set of 64-bit digests used as their own hash (tchat's PreHashed + hashbrown): open addressing,
/// linear probing, backward-shift deletion; 16384 slots for the 5000 of the window.
class DigestSet {
 public:
  DigestSet() : slots_(SIZE, 0), used_(SIZE, 0) {}
  /// False when already present.
  bool insert(uint64_t d) {
    size_t i = d & MASK;
    while (used_[i]) {
      if (slots_[i] == d) return false;
      i = (i + 1) & MASK;
    }
    used_[i] = 1;
    slots_[i] = d;
    return true;
  }
  void remove(uint64_t d) {
    size_t i = d & MASK;
    while (used_[i]) {
      if (slots_[i] == d) break;
      i = (i + 1) & MASK;
    }
    if (!used_[i]) return;
    // Backward-shift: pull later members of the run into the hole when their home allows it.
    size_t hole = i;
    size_t j = (i + 1) & MASK;
    while (used_[j]) {
      size_t home = slots_[j] & MASK;
      bool movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
      if (movable) {
        slots_[hole] = slots_[j];
        hole = j;
      }
      j = (j + 1) & MASK;
    }
    used_[hole] = 0;
  }

 private:
  static constexpr size_t SIZE = 1 << 14;
  static constexpr size_t MASK = SIZE - 1;
  std::vector<uint64_t> slots_;
  std::vector<uint8_t> used_;
};

/// FIFO of the window's digests (tchat's VecDeque).
class DigestRing {
 public:
  DigestRing() : buf_(DEDUP_WINDOW + 1) {}
  void push_back(uint64_t d) {
    buf_[(head_ + len_) % buf_.size()] = d;
    len_++;
  }
  uint64_t pop_front() {
    uint64_t d = buf_[head_];
    head_ = (head_ + 1) % buf_.size();
    len_--;
    return d;
  }
  size_t size() const { return len_; }

 private:
  std::vector<uint64_t> buf_;
  size_t head_ = 0, len_ = 0;
};

bool parse_u64(string_view v, uint64_t& out) {
  if (v.empty() || v.size() > 20) return false;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    uint64_t d = uint64_t(c - '0');
    if (n > (UINT64_MAX - d) / 10) return false;
    n = n * 10 + d;
  }
  out = n;
  return true;
}

using Header = std::pair<string_view, string_view>;

class Decoder {
 public:
  Decoder() {
    shells_.reserve(64);
    headers_.reserve(64);
  }

  void decode_event(const SseEvent& ev, std::vector<StreamItem>& out) {
    if (ev.event == "batch") {
      decode_batch(ev.data, ev.data_allocated, out);
    } else if (ev.event == "ping") {
      stats_.pings++;
      out.emplace_back(PingItem{ping_timestamp(ev.data, ev.data_allocated)});
    } else if (ev.event == "error") {
      out.emplace_back(ServerErrorItem{std::string(ev.data)});
    } else if (ev.event == "message" && ev.data == "[DONE]") {
      out.emplace_back(DoneItem{});
    } else {
      stats_.unknown_events++;
    }
  }

  const DecoderStats& stats() const { return stats_; }
  std::optional<uint64_t> cursor() const { return cursor_; }

 private:
  struct Shell {
    uint64_t seq_num;
    int64_t timestamp;
    uint32_t headers_begin, headers_end;  // in headers_
    bool has_body;
    string_view body;  // unescaped, in the batch parser's string buffer
  };

  // -- the batch -------------------------------------------------------------------------------

  void decode_batch(string_view data, size_t allocated, std::vector<StreamItem>& out) {
    shells_.clear();
    headers_.clear();
    if (!read_batch(data, allocated)) {
      // tchat retries such a batch with serde_json, then record by record; see the file comment.
      stats_.decode_errors++;
      out.emplace_back(DecodeErrorItem{std::nullopt, "batch could not be read"});
      return;
    }
    for (const Shell& s : shells_) {
      record_parts(s, out);
    }
  }

  bool read_batch(string_view data, size_t allocated) {
    ondemand::document doc;
    if (batch_parser_.iterate(data.data(), data.size(), allocated).get(doc)) return false;
    ondemand::object obj;
    if (doc.get_object().get(obj)) return false;
    bool records = false;
    for (auto field : obj) {
      ondemand::raw_json_string key;
      if (field.key().get(key)) return false;
      if (key.unsafe_is_equal("records")) {
        if (records) return false;
        records = true;
        ondemand::array arr;
        if (field.value().get_array().get(arr)) return false;
        for (auto element : arr) {
          ondemand::object rec;
          if (element.get_object().get(rec)) return false;
          if (!read_record(rec)) return false;
        }
      }
      // Any other member (`tail`) is skipped by the next iteration.
    }
    return records && at_end(doc);
  }

  bool read_record(ondemand::object& rec) {
    Shell s{0, 0, uint32_t(headers_.size()), uint32_t(headers_.size()), false, {}};
    bool seq = false, ts = false, hdrs = false, body = false;
    for (auto field : rec) {
      ondemand::raw_json_string key;
      if (field.key().get(key)) return false;
      ondemand::value v;
      if (field.value().get(v)) return false;
      if (key.unsafe_is_equal("seq_num")) {
        if (seq || v.get_uint64().get(s.seq_num)) return false;
        seq = true;
      } else if (key.unsafe_is_equal("timestamp")) {
        if (ts || v.get_int64().get(s.timestamp)) return false;
        ts = true;
      } else if (key.unsafe_is_equal("headers")) {
        if (hdrs) return false;
        hdrs = true;
        bool null = false;
        if (v.is_null().get(null)) return false;
        if (null) continue;
        ondemand::array pairs;
        if (v.get_array().get(pairs)) return false;
        for (auto p : pairs) {
          ondemand::array pair;
          if (p.get_array().get(pair)) return false;
          string_view name, value;
          size_t n = 0;
          for (auto e : pair) {
            if (n == 2 || e.get_string().get(n == 0 ? name : value)) return false;
            n++;
          }
          if (n != 2) return false;
          headers_.emplace_back(name, value);
        }
        s.headers_end = uint32_t(headers_.size());
      } else if (key.unsafe_is_equal("body")) {
        if (body) return false;
        body = true;
        bool null = false;
        if (v.is_null().get(null)) return false;
        if (null) continue;
        if (v.get_string().get(s.body)) return false;
        s.has_body = true;
      }
    }
    if (!seq) return false;
    shells_.push_back(s);
    return true;
  }

  // -- one record (record_parts) ---------------------------------------------------------------

  bool advance(uint64_t seq_num) {
    if (cursor_ && seq_num <= *cursor_) {
      stats_.duplicates++;
      return false;
    }
    cursor_ = seq_num;
    return true;
  }

  static std::optional<string_view> header(const Header* h, const Header* end, string_view name) {
    for (; h != end; ++h) {
      if (h->first == name) return h->second;
    }
    return std::nullopt;
  }

  void record_parts(const Shell& s, std::vector<StreamItem>& out) {
    stats_.records++;
    if (!advance(s.seq_num)) return;
    const Header* h = headers_.data() + s.headers_begin;
    const Header* hend = headers_.data() + s.headers_end;
    if (h != hend && h->first.empty()) {
      stats_.commands++;
      return;
    }
    if (auto subtype = header(h, hend, "trigger-control")) {
      control(s.seq_num, s.timestamp, control_from_headers(*subtype, h, hend), out);
      return;
    }
    data_record(s, out);
  }

  static Control control_from_headers(string_view subtype, const Header* h, const Header* hend) {
    auto reason = [&]() -> std::optional<std::string> {
      if (auto r = header(h, hend, "session-closed-reason")) return std::string(*r);
      return std::nullopt;
    };
    if (subtype == "turn-complete") {
      TurnComplete tc;
      if (auto t = header(h, hend, "public-access-token"); t && !t->empty()) tc.public_access_token = std::string(*t);
      uint64_t n;
      if (auto v = header(h, hend, "session-in-event-id"); v && parse_u64(*v, n)) tc.session_in_event_id = n;
      if (auto v = header(h, hend, "session-in-consumed-id"); v && parse_u64(*v, n)) tc.session_in_consumed_id = n;
      auto closed = header(h, hend, "session-closed");
      tc.session_closed = closed && *closed == "true";
      tc.session_closed_reason = reason();
      return tc;
    }
    if (subtype == "upgrade-required") return UpgradeRequired{false};
    if (subtype == "session-closed") return SessionClosed{reason()};
    if (subtype == "pending-version") return PendingVersion{};
    return UnknownControl{std::string(subtype)};
  }

  enum class BodyResult { Chunk, Legacy, LegacyDropped, Empty, NotEnvelope, NoDataObject };

  /// The envelope `{"data": {...}, "id": ...}` of a data record (body_from_text: fast_data_body,
  /// else data_body). On Chunk, `chunk` is built (seq_num / timestamp set later); on Legacy,
  /// `legacy` holds the control. `part_id` is set when the envelope's id was a string.
  BodyResult read_body(string_view body, ChunkRecord& chunk, std::optional<Control>& legacy,
                       std::optional<string_view>& part_id) {
    if (body.empty()) return BodyResult::Empty;
    body_buf_.assign(body);
    ondemand::document doc;
    if (body_parser_.iterate(body_buf_.ptr.get(), body_buf_.len, body_buf_.cap).get(doc)) {
      return BodyResult::NotEnvelope;
    }
    ondemand::object env;
    if (doc.get_object().get(env)) return BodyResult::NotEnvelope;
    bool have_data = false, have_id = false, data_is_object = false;
    string_view json;
    Fields f;
    std::optional<string_view> token;  // publicAccessToken of a legacy trigger:turn-complete
    for (auto field : env) {
      ondemand::raw_json_string key;
      if (field.key().get(key)) return BodyResult::NotEnvelope;
      ondemand::value v;
      if (field.value().get(v)) return BodyResult::NotEnvelope;
      if (key.unsafe_is_equal("data")) {
        if (have_data) return BodyResult::NotEnvelope;  // serde: duplicate field
        have_data = true;
        ondemand::json_type t;
        if (v.type().get(t)) return BodyResult::NotEnvelope;
        if (t != ondemand::json_type::object) continue;  // NoDataObject, unless the rest fails
        data_is_object = true;
        string_view start_token = v.raw_json_token();
        ondemand::object c;
        if (v.get_object().get(c)) return BodyResult::NotEnvelope;
        bool delta_plain = true, provider_metadata = false;
        for (auto cf : c) {
          ondemand::raw_json_string ck;
          if (cf.key().get(ck)) return BodyResult::NotEnvelope;
          ondemand::value cv;
          if (cf.value().get(cv)) return BodyResult::NotEnvelope;
          // Value semantics: for a repeated key the last one wins.
          if (ck.unsafe_is_equal("type")) {
            f.chunk_type = read_str(cv);
          } else if (ck.unsafe_is_equal("id")) {
            f.delta_id = read_str(cv);
          } else if (ck.unsafe_is_equal("delta")) {
            ondemand::json_type dt;
            if (cv.type().get(dt)) return BodyResult::NotEnvelope;
            f.delta = read_str(cv);
            delta_plain = dt == ondemand::json_type::string;
          } else if (ck.unsafe_is_equal("providerMetadata")) {
            bool null = false;
            if (cv.is_null().get(null)) return BodyResult::NotEnvelope;
            provider_metadata = !null;
          } else if (ck.unsafe_is_equal("publicAccessToken")) {
            token = read_str(cv);
          }
        }
        // The chunk's text: from its '{' to the '}' before the next token.
        const char* after = nullptr;
        if (doc.current_location().get(after)) return BodyResult::NotEnvelope;
        while (after > start_token.data() && after[-1] != '}') after--;
        json = string_view(start_token.data(), size_t(after - start_token.data()));
        f.kind = f.chunk_type ? kind_of(*f.chunk_type) : DeltaKind::None;
        if (f.kind == DeltaKind::None) {
          f.delta = std::nullopt;
          f.delta_id = std::nullopt;
        } else if (provider_metadata || !delta_plain) {
          f.delta_id = std::nullopt;
        }
        if (!delta_plain) f.delta = std::nullopt;
      } else if (key.unsafe_is_equal("id")) {
        if (have_id) return BodyResult::NotEnvelope;
        have_id = true;
        part_id = read_str(v);
      }
    }
    if (!have_data || !at_end(doc)) return BodyResult::NotEnvelope;
    if (!data_is_object) return BodyResult::NoDataObject;
    if (f.chunk_type && f.chunk_type->substr(0, 8) == "trigger:") {
      string_view legacy_type = f.chunk_type->substr(8);
      if (legacy_type == "turn-complete") {
        TurnComplete tc;
        tc.legacy = true;
        if (token && !token->empty()) tc.public_access_token = std::string(*token);
        legacy.emplace(std::move(tc));
        return BodyResult::Legacy;
      }
      if (legacy_type == "upgrade-required") {
        legacy.emplace(UpgradeRequired{true});
        return BodyResult::Legacy;
      }
      return BodyResult::LegacyDropped;
    }
    chunk = build_chunk(json, part_id, f);
    return BodyResult::Chunk;
  }

  /// A string value (unescaped), or nullopt for any other type (which is skipped).
  static std::optional<string_view> read_str(ondemand::value& v) {
    string_view s;
    if (v.get_string().get(s)) return std::nullopt;
    return s;
  }

  void data_record(const Shell& s, std::vector<StreamItem>& out) {
    ChunkRecord chunk;
    std::optional<Control> legacy;
    std::optional<string_view> part_id;
    BodyResult r = s.has_body ? read_body(s.body, chunk, legacy, part_id) : BodyResult::Empty;
    switch (r) {
      case BodyResult::Empty:
        return error(s.seq_num, "data record has no body", out);
      case BodyResult::NotEnvelope:
        return error(s.seq_num, "data record body is not a JSON envelope", out);
      case BodyResult::NoDataObject:
        return error(s.seq_num, "data record body has no `data` object", out);
      default:
        break;
    }
    if (part_id && !part_id->empty() && !remember(*part_id)) {
      stats_.duplicates++;
      return;
    }
    switch (r) {
      case BodyResult::Chunk:
        chunk.seq_num = s.seq_num;
        chunk.timestamp = s.timestamp;
        stats_.chunks++;
        out.emplace_back(std::move(chunk));
        break;
      case BodyResult::Legacy:
        control(s.seq_num, s.timestamp, std::move(*legacy), out);
        break;
      default:
        stats_.dropped_chunks++;
    }
  }

  bool remember(string_view id) {
    uint64_t digest = hasher_.hash_str(id);
    if (!seen_.insert(digest)) return false;
    seen_order_.push_back(digest);
    if (seen_order_.size() > DEDUP_WINDOW) seen_.remove(seen_order_.pop_front());
    return true;
  }

  void control(uint64_t seq_num, int64_t timestamp, Control c, std::vector<StreamItem>& out) {
    stats_.controls++;
    out.emplace_back(ControlItem{seq_num, timestamp, std::move(c)});
  }

  void error(uint64_t seq_num, const char* message, std::vector<StreamItem>& out) {
    stats_.decode_errors++;
    out.emplace_back(DecodeErrorItem{seq_num, message});
  }

  std::optional<int64_t> ping_timestamp(string_view data, size_t allocated) {
    ondemand::document doc;
    if (misc_parser_.iterate(data.data(), data.size(), allocated).get(doc)) return std::nullopt;
    ondemand::object obj;
    if (doc.get_object().get(obj)) return std::nullopt;
    std::optional<int64_t> ts;
    for (auto field : obj) {
      ondemand::raw_json_string key;
      if (field.key().get(key)) return std::nullopt;
      if (key.unsafe_is_equal("timestamp")) {
        int64_t n;
        if (field.value().get_int64().get(n)) {
          ts = std::nullopt;
        } else {
          ts = n;
        }
      }
    }
    if (!at_end(doc)) return std::nullopt;
    return ts;
  }

  std::optional<uint64_t> cursor_;
  SipHash13 hasher_;
  DigestSet seen_;
  DigestRing seen_order_;
  DecoderStats stats_;
  std::vector<Shell> shells_;
  std::vector<Header> headers_;
  PaddedBuf body_buf_;
  ondemand::parser batch_parser_, body_parser_, misc_parser_;
};

// ---------------------------------------------------------------------------------------------
// Assembly (src/assemble.rs), for the chunk types this stream carries

/// serde_json's string escaping.
void json_string(std::string& out, string_view s) {
  static const char HEX[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default: {
        const char u[6] = {'\\', 'u', '0', '0', HEX[c >> 4], HEX[c & 15]};
        out.append(u, 6);
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

class Assembler {
 public:
  void apply_record(const ChunkRecord& r) {
    if (auto d = r.text_delta()) {
      apply_delta(d->kind, d->id, d->delta);
      return;
    }
    if (auto t = r.chunk_type()) apply_typed(*t, r.json());
  }

  /// Returns the index of the part it grew.
  size_t apply_delta(DeltaKind kind, string_view id, string_view delta) {
    st_.applied = true;
    OpenParts& open = kind == DeltaKind::Text ? st_.active_text : st_.active_reasoning;
    size_t idx;
    if (!open.get(id, idx)) {
      Part p;
      p.type = kind == DeltaKind::Text ? Part::Text : Part::Reasoning;
      if (kind == DeltaKind::Reasoning) p.id = std::string(id);
      p.state = "streaming";
      idx = push(std::move(p));
      open.insert(std::string(id), idx);
    }
    st_.parts[idx].text.append(delta);
    return idx;
  }

  std::string to_json() const {
    std::string out;
    size_t guess = 64 + st_.id.size();
    for (const Part& p : st_.parts) guess += 64 + p.text.size() + p.provider_metadata.size() + p.citations.size();
    out.reserve(guess);
    out.append("{\"id\":");
    json_string(out, st_.id);
    out.append(",\"role\":\"assistant\",\"parts\":[");
    bool first = true;
    for (const Part& p : st_.parts) {
      if (!first) out.push_back(',');
      first = false;
      switch (p.type) {
        case Part::StepStart:
          out.append("{\"type\":\"step-start\"}");
          break;
        case Part::Text:
        case Part::Reasoning:  // keys sorted, as serde_json's Map writes them
          out.push_back('{');
          if (!p.citations.empty()) out.append("\"citations\":").append(p.citations).push_back(',');
          if (p.type == Part::Reasoning && p.id) {
            out.append("\"id\":");
            json_string(out, *p.id);
            out.push_back(',');
          }
          if (!p.provider_metadata.empty()) out.append("\"providerMetadata\":").append(p.provider_metadata).push_back(',');
          out.append("\"state\":");
          json_string(out, p.state);
          out.append(",\"text\":");
          json_string(out, p.text);
          out.append(p.type == Part::Text ? ",\"type\":\"text\"}" : ",\"type\":\"reasoning\"}");
          break;
      }
    }
    out.append("]}");
    return out;
  }

  /// Assembler::reset: a new turn, all message state dropped (the re-parse scratch is kept).
  void reset() { st_ = State(); }
  uint64_t unsupported() const { return unsupported_; }

 private:
  struct Part {
    enum Type { StepStart, Text, Reasoning } type = StepStart;
    std::optional<std::string> id;  // reasoning parts
    std::string text;
    std::string state;
    std::string provider_metadata, citations;  // raw JSON, empty when absent
  };

  struct OpenParts {
    std::unordered_map<std::string, size_t> map;
    std::optional<std::pair<std::string, size_t>> last;
    bool get(string_view id, size_t& idx) {
      if (last && last->first == id) {
        idx = last->second;
        return true;
      }
      auto it = map.find(std::string(id));
      if (it == map.end()) return false;
      idx = it->second;
      if (last) {
        last->first.assign(id);
        last->second = idx;
      } else {
        last.emplace(std::string(id), idx);
      }
      return true;
    }
    void insert(std::string id, size_t idx) {
      last.emplace(id, idx);
      map[std::move(id)] = idx;
    }
    std::optional<size_t> remove(const std::string& id) {
      if (last && last->first == id) last.reset();
      auto it = map.find(id);
      if (it == map.end()) return std::nullopt;
      size_t idx = it->second;
      map.erase(it);
      return idx;
    }
  };

  size_t push(Part p) {
    st_.parts.push_back(std::move(p));
    return st_.parts.size() - 1;
  }

  /// The fields apply_typed looks at, from the chunk parsed again (tchat: ChunkRecord::chunk_value).
  struct Chunk {
    std::optional<std::string> id, delta, message_id, finish_reason, error_text, reason;
    std::string id_key;  // js_string(id): the open-parts key
    std::string provider_metadata, citations;  // raw JSON as sent, empty when absent
    bool plain_delta = true;
  };

  bool parse_chunk(string_view json, Chunk& c) {
    buf_.assign(json);
    ondemand::document doc;
    if (parser_.iterate(buf_.ptr.get(), buf_.len, buf_.cap).get(doc)) return false;
    ondemand::object obj;
    if (doc.get_object().get(obj)) return false;
    for (auto field : obj) {
      ondemand::raw_json_string key;
      if (field.key().get(key)) return false;
      ondemand::value v;
      if (field.value().get(v)) return false;
      ondemand::json_type t;
      if (v.type().get(t)) return false;
      auto str = [&](std::optional<std::string>& slot) {
        string_view s;
        if (t == ondemand::json_type::string && !v.get_string().get(s)) {
          slot = std::string(s);
        } else {
          slot.reset();
        }
      };
      auto raw = [&](std::string& slot) {
        // Whitespace removed (serde_json writes values compactly; it also sorts keys, which this
        // does not: none of this stream's chunks carry such values).
        string_view text = raw_json(v, t);
        slot.resize(text.size());
        size_t n = 0;
        if (simdjson::minify(text.data(), text.size(), slot.data(), n)) n = 0;
        slot.resize(n);
      };
      if (key.unsafe_is_equal("id")) {
        str(c.id);
        c.id_key = c.id.value_or(std::string());
      } else if (key.unsafe_is_equal("delta")) {
        str(c.delta);
      } else if (key.unsafe_is_equal("messageId")) {
        str(c.message_id);
      } else if (key.unsafe_is_equal("finishReason")) {
        str(c.finish_reason);
      } else if (key.unsafe_is_equal("errorText")) {
        str(c.error_text);
      } else if (key.unsafe_is_equal("reason")) {
        str(c.reason);
      } else if (key.unsafe_is_equal("providerMetadata")) {
        raw(c.provider_metadata);
      } else if (key.unsafe_is_equal("citations")) {
        raw(c.citations);
      }
    }
    return true;
  }

  void apply_typed(string_view type, string_view json) {
    if (type.substr(0, 8) == "trigger:") return;
    Chunk c;
    if (!parse_chunk(json, c)) return;
    st_.applied = true;
    if (type == "text-delta" || type == "reasoning-delta") {
      // Not plain (providerMetadata, or a non-string delta): the same fold, the delta if a string.
      size_t idx = apply_delta(type == "text-delta" ? DeltaKind::Text : DeltaKind::Reasoning, c.id_key, c.delta.value_or(""));
      if (!c.provider_metadata.empty() && c.provider_metadata != "null") st_.parts[idx].provider_metadata = c.provider_metadata;
    } else if (type == "text-start" || type == "reasoning-start") {
      Part p;
      p.type = type == "text-start" ? Part::Text : Part::Reasoning;
      if (p.type == Part::Reasoning) p.id = c.id;
      p.provider_metadata = c.provider_metadata;  // put(): kept even when null
      p.state = "streaming";
      OpenParts& open = p.type == Part::Text ? st_.active_text : st_.active_reasoning;
      open.insert(c.id_key, push(std::move(p)));
    } else if (type == "text-end" || type == "reasoning-end") {
      bool text = type == "text-end";
      auto idx = (text ? st_.active_text : st_.active_reasoning).remove(c.id_key);
      if (!idx) return;
      Part& p = st_.parts[*idx];
      p.state = "done";
      if (text && !c.citations.empty() && c.citations != "null") p.citations = c.citations;
      if (!c.provider_metadata.empty() && c.provider_metadata != "null") p.provider_metadata = c.provider_metadata;
    } else if (type == "start-step") {
      push(Part{});
    } else if (type == "finish-step") {
    } else if (type == "start") {
      if (c.message_id) {
        if (*c.message_id != st_.id) {
          bool applied = st_.applied;  // clear_message
          st_ = State();
          st_.applied = applied;
        }
        st_.id = *c.message_id;
      }
    } else if (type == "finish") {
      st_.finished = true;
      if (c.finish_reason) st_.finish_reason = c.finish_reason;
    } else if (type == "error") {
      st_.error_text = c.error_text.value_or("");
    } else if (type == "abort") {
      st_.aborted = true;
      st_.abort_reason = c.reason;
    } else {
      unsupported_++;
    }
  }

  struct State {
    std::string id;
    std::vector<Part> parts;
    bool applied = false, finished = false, aborted = false;
    std::optional<std::string> finish_reason, error_text, abort_reason;
    OpenParts active_text, active_reasoning;
  };
  State st_;
  uint64_t unsupported_ = 0;  // chunks of types this assembler does not fold (none in this stream)
  // Scratch for re-parsing non-delta chunks.
  PaddedBuf buf_;
  ondemand::parser parser_;
};

// ---------------------------------------------------------------------------------------------
// The benchmark (benches/decode.rs)

struct Outcome {
  uint64_t records = 0, chunks = 0, controls = 0, turns = 0;
  size_t text_bytes = 0;
  uint64_t delta_bytes = 0, unsupported = 0;
  std::optional<uint64_t> cursor;
  DecoderStats stats;
  std::string last_event_id;
};

template <bool ASSEMBLE>
__attribute__((noinline)) Outcome decode(const std::string& bytes) {
  SseParser parser;
  Decoder decoder;
  auto assembler = std::make_unique<Assembler>();
  std::vector<StreamItem> items;
  items.reserve(64);
  Outcome out;
  for (size_t off = 0; off < bytes.size(); off += READ_SIZE) {
    size_t n = std::min(READ_SIZE, bytes.size() - off);
    if (!parser.feed(bytes.data() + off, n, [&](const SseEvent& ev) { decoder.decode_event(ev, items); })) {
      std::fprintf(stderr, "stream beyond the event size limit\n");
      std::exit(1);
    }
    for (StreamItem& item : items) {
      if (auto* c = std::get_if<ChunkRecord>(&item)) {
        out.chunks++;
        if constexpr (ASSEMBLE) {
          assembler->apply_record(*c);
        } else {
          if (auto d = c->delta()) out.delta_bytes += d->size();
        }
      } else if (auto* k = std::get_if<ControlItem>(&item)) {
        out.controls++;
        if (std::holds_alternative<TurnComplete>(k->control)) {
          out.turns++;
          if constexpr (ASSEMBLE) {
            out.text_bytes += assembler->to_json().size();
            assembler->reset();
          }
        }
      }
    }
    items.clear();
  }
  parser.finish();
  out.unsupported = assembler->unsupported();
  out.records = decoder.stats().records;
  out.stats = decoder.stats();
  out.cursor = decoder.cursor();
  out.last_event_id = std::string(parser.last_event_id());
  return out;
}

template <bool ASSEMBLE>
double best_of(const std::string& bytes, size_t passes, Outcome& outcome) {
  double best = 1e300;
  for (size_t i = 0; i < std::max<size_t>(passes, 1); i++) {
    auto start = std::chrono::steady_clock::now();
    outcome = decode<ASSEMBLE>(bytes);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::min(best, s);
  }
  return best;
}

}  // namespace

#ifndef BENCH_CXXFLAGS
#define BENCH_CXXFLAGS "?"
#endif

int main(int argc, char** argv) {
  const char* file = nullptr;
  const char* passes_arg = nullptr;
  bool assemble_only = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--file" && i + 1 < argc) {
      file = argv[++i];
    } else if (a == "--passes" && i + 1 < argc) {
      passes_arg = argv[++i];
    } else if (a == "--assemble-only") {
      assemble_only = true;  // skip the "sse + records" series (instruction counts)
    } else {
      std::fprintf(stderr, "usage: %s --file PATH [--passes N] [--assemble-only]\n", argv[0]);
      return 2;
    }
  }
  if (!file) {
    std::fprintf(stderr, "usage: %s --file PATH [--passes N]  (PATH: e.g. build-c/bench-out.sse, "
                         "written by cargo bench --bench decode -- --write PATH)\n", argv[0]);
    return 2;
  }
  std::string bytes;
  {
    FILE* in = std::fopen(file, "rb");
    if (!in) {
      std::fprintf(stderr, "read %s: %s\n", file, std::strerror(errno));
      return 1;
    }
    char piece[1 << 16];
    size_t n;
    while ((n = std::fread(piece, 1, sizeof piece, in)) > 0) bytes.append(piece, n);
    std::fclose(in);
  }
  size_t passes = passes_arg ? size_t(std::strtoull(passes_arg, nullptr, 10)) : 6;
  size_t shown = passes > 1 ? passes - 1 : 1;

  Outcome full;
  double best = best_of<true>(bytes, passes, full);
  double mb = double(bytes.size()) / 1e6;
  std::printf("decoder benchmark (C++ simdjson %s On-Demand, %s, stage 1: %s by runtime dispatch, "
              "stage 2: %s as compiled): %s\n",
              SIMDJSON_STRINGIFY(SIMDJSON_VERSION), BENCH_CXXFLAGS, simdjson::get_active_implementation()->name().c_str(),
              SIMDJSON_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION), file);
  std::printf("  %zu bytes, %" PRIu64 " records (%" PRIu64 " chunks, %" PRIu64 " controls, %" PRIu64
              " turns), %zu text bytes assembled\n",
              bytes.size(), full.records, full.chunks, full.controls, full.turns, full.text_bytes);
  std::printf("  sse + records + assemble, one core: %.0f records/s, %.1f MB/s (%.1f ms per pass, best of %zu)\n",
              double(full.records) / best, mb / best, best * 1e3, shown);
  Outcome dec;
  if (!assemble_only) {
    double best_dec = best_of<false>(bytes, passes, dec);
    std::printf("  sse + records, one core: %.0f records/s, %.1f MB/s (%.1f ms per pass, best of %zu)\n",
                double(dec.records) / best_dec, mb / best_dec, best_dec * 1e3, shown);
  }
  const DecoderStats& s = full.stats;
  std::printf("  checks: last seq (cursor) %s, last-event-id %s, text-delta bytes %s, %" PRIu64 " commands, %" PRIu64
              " duplicates, %" PRIu64 " pings, %" PRIu64 " decode errors, %" PRIu64 " dropped, %" PRIu64
              " unknown events, %" PRIu64 " chunks of unsupported types\n",
              full.cursor ? std::to_string(*full.cursor).c_str() : "none", full.last_event_id.c_str(),
              assemble_only ? "-" : std::to_string(dec.delta_bytes).c_str(), s.commands, s.duplicates, s.pings,
              s.decode_errors, s.dropped_chunks, s.unknown_events, full.unsupported);
  if (!assemble_only && (dec.records != full.records || dec.chunks != full.chunks || dec.turns != full.turns)) {
    std::printf("  MISMATCH: the two series decoded different counts\n");
    return 1;
  }
  return 0;
}
