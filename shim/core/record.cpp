// The record formats, text and JSON (see record.h); the pieces a record is
// made of are written by line_buffer, escape, addr_text and time_text.
#include "record.h"

#include <cstring>

#include "escape.h"

namespace sd {
namespace {

// ns as milliseconds with three decimals, rounded to the microsecond: how
// JSON records carry durations. In integers: a float's formatting costs
// several times more.
void append_ms(LineBuffer& out, uint64_t ns) {
  uint64_t us = ns / 1000 + (ns % 1000 >= 500);
  unsigned frac = static_cast<unsigned>(us % 1000);
  out.put(us / 1000, '.', static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
          static_cast<char>('0' + frac % 10));
}

}  // namespace

std::string_view DecimalCache::text(long v) {
  if (!known_ || v != value_) {
    size_ = static_cast<uint8_t>(fmt::format_to(text_, FMT_COMPILE("{}"), v) - text_);
    value_ = v;
    known_ = true;
  }
  return {text_, size_};
}

namespace {

// The name of the placeholder that starts at `brace` ('{'), or "" when there
// is none. A name is at most this long: no need to look further for its '}'
// (which may be far away, or missing, after a brace that is only text).
constexpr std::size_t kLongestPlaceholder = sizeof("received") - 1;

std::string_view placeholder_at(const char* brace) {
  for (std::size_t n = 1; n <= kLongestPlaceholder + 1 && brace[n] != '\0'; ++n) {
    if (brace[n] == '}') return {brace + 1, n - 1};
  }
  return {};
}

}  // namespace

namespace {
// A connection the process inherited is older than anything the library
// saw: its age, and the bytes counted with it, start with this process.
void put_age(const RecordData& r, LineBuffer& out) {
  format_duration(r.age_ns, out);
  if (r.inherited) out.put(" since this process started");
}
}  // namespace

namespace {
enum Placeholder : uint8_t {
  ph_peer = 1, ph_local = 2, ph_host = 4, ph_fd = 8, ph_call = 16, ph_sent = 32, ph_received = 64, ph_age = 128,
};

// The placeholders filled; `names` gets a bit for each.
void fill_named(const char* text, const RecordData& r, Format format, LineBuffer& out, uint8_t* names) {
  auto value = [&](std::string_view v, std::string_view fallback) {
    if (v.empty()) v = fallback;
    if (format == Format::json) out.append_json_escaped(v);
    else out.append_text_escaped(v);
  };
  for (const char* p = text;;) {
    // One pass for both the next brace and the end.
    const char* brace = strchrnul(p, '{');
    out.append({p, static_cast<std::size_t>(brace - p)});
    if (*brace == '\0') return;
    std::string_view key = placeholder_at(brace);
    uint8_t name = 0;
    if (key == "peer") value(r.peer, "the peer"), name = ph_peer;
    else if (key == "local") value(r.local, "the local address"), name = ph_local;
    else if (key == "host") value(r.host, "\"\" (an empty name)"), name = ph_host;
    else if (key == "fd") out.put(r.fd), name = ph_fd;
    else if (key == "call") value(r.call, ""), name = ph_call;
    else if (key == "sent") out.put(r.sent), name = ph_sent;
    else if (key == "received") out.put(r.received), name = ph_received;
    else if (key == "age") put_age(r, out), name = ph_age;
    else {
      out.append_char('{');  // not a placeholder: keep the brace as written
      p = brace + 1;
      continue;
    }
    *names |= name;
    p = brace + key.size() + 2;
  }
}

bool same_value(std::string_view v, const char* kept, uint8_t kept_len) {
  return v.size() == kept_len && std::memcmp(v.data(), kept, kept_len) == 0;
}

// Copies `v` into a kept value; false when it is too long to keep.
bool keep_value(std::string_view v, char* kept, uint8_t* kept_len) {
  if (v.size() > FilledText::kKeptValue) return false;
  std::memcpy(kept, v.data(), v.size());
  *kept_len = static_cast<uint8_t>(v.size());
  return true;
}

bool still_filled(const FilledText& k, const char* text, const RecordData& r, Format format) {
  if (k.tmpl != text || k.format != format) return false;
  return (!(k.names & ph_peer) || same_value(r.peer, k.peer, k.peer_len)) &&
         (!(k.names & ph_local) || same_value(r.local, k.local, k.local_len)) &&
         (!(k.names & ph_host) || same_value(r.host, k.host, k.host_len)) && (!(k.names & ph_fd) || k.fd == r.fd) &&
         (!(k.names & ph_call) || k.call == r.call.data()) && (!(k.names & ph_sent) || k.sent == r.sent) &&
         (!(k.names & ph_received) || k.received == r.received);
}
}  // namespace

void fill_template(const char* text, const RecordData& r, Format format, LineBuffer& out) {
  uint8_t names = 0;
  fill_named(text, r, format, out, &names);
}

void fill_template_kept(const char* text, const RecordData& r, Format format, FilledText& kept, LineBuffer& out) {
  if (still_filled(kept, text, r, format)) {
    out.append({kept.text, kept.len});
    return;
  }
  std::size_t start = out.view().size();
  uint8_t names = 0;
  fill_named(text, r, format, out, &names);
  std::string_view filled = out.view().substr(start);
  kept.tmpl = nullptr;
  if (out.full() || (names & ph_age) || filled.size() > FilledText::kKeptText ||
      !keep_value(r.peer, kept.peer, &kept.peer_len) || !keep_value(r.local, kept.local, &kept.local_len) ||
      !keep_value(r.host, kept.host, &kept.host_len))
    return;
  std::memcpy(kept.text, filled.data(), filled.size());
  kept.len = static_cast<uint16_t>(filled.size());
  kept.format = format;
  kept.names = names;
  kept.fd = r.fd;
  kept.call = r.call.data();
  kept.sent = r.sent;
  kept.received = r.received;
  kept.tmpl = text;
}

namespace {

// An injected failure did not happen for the row's reasons: the record says
// so first, then what such a failure means when it is real.
void put_explanation(const RecordData& r, Format format, RecordCache& cache, LineBuffer& out) {
  if (r.injected && r.code_kind != CodeKind::event) out.put("Injected by a sockdiag rule. When real: ");
  fill_template_kept(r.explanation, r, format, cache.explanation, out);
}

void text_record(const RecordData& r, RecordCache& cache, LineBuffer& out) {
  out.put("sockdiag ");
  format_time(r.wall_ns, cache.time, out);
  out.append_char(' ');
  out.append_text_escaped(r.prog);
  out.put('[', cache.pid.text(r.pid), '/', cache.tid.text(r.tid), "] ", level_name(r.level), ' ', r.call);
  if (r.fd >= 0) out.put(" fd=", r.fd);
  if (!r.kind.empty()) out.put(' ', r.kind);
  if (!r.local.empty() || !r.peer.empty()) {
    out.append_char(' ');
    out.append_text_escaped(r.local.empty() ? "?" : r.local);
    out.put(" -> ");
    out.append_text_escaped(r.peer.empty() ? "?" : r.peer);
  }
  if (!r.host.empty()) {
    out.put(" host=");
    out.append_text_escaped(r.host);
  }
  if (r.code == 0) {
    out.put(" = ", r.ret);
  } else if (r.notice) {
    out.put(' ', r.code_name);
  } else if (r.code_kind == CodeKind::event) {
    out.put(" = ", r.ret, ' ', r.code_name);
  } else {
    out.put(" = ", r.ret, ' ', r.code_name, '(', r.code, ") \"", r.message, '"');
  }
  if (!r.via.empty()) out.put(" via ", r.via);
  if (r.injected) {
    out.put(" [injected by '");
    out.append_text_escaped(r.rule);
    out.put("']");
  }
  if (r.retrying) {
    out.put(" [retry ", r.retries, ", waited ");
    format_duration(r.waited_ns, out);
    out.put(']');
  } else if (r.retries) {
    out.put(" [after ", r.retries, " retries]");
  }
  if (*r.explanation) {
    out.put(": ");
    put_explanation(r, Format::text, cache, out);
  }
  if (*r.advice) {
    out.put(" Try: ");
    fill_template_kept(r.advice, r, Format::text, cache.advice, out);
  }
  if (!r.note.empty()) out.put(" Note: ", r.note);
  if (r.have_history) {
    out.put(" [connection: sent ", r.sent, " B, received ", r.received, " B, age ");
    put_age(r, out);
    if (r.peer_gone_ago_ns) {
      out.put("; peer seen gone ");
      format_duration(r.peer_gone_ago_ns, out);
      out.put(" before");
    }
    out.put(']');
  }
}

void json_record(const RecordData& r, RecordCache& cache, LineBuffer& out) {
  out.put("{\"v\":", kRecordSchemaVersion, ",\"ts\":\"");
  format_time(r.wall_ns, cache.time, out);
  out.put("\",\"pid\":", cache.pid.text(r.pid), ",\"tid\":", cache.tid.text(r.tid), ",\"prog\":");
  out.append_json_string(r.prog);
  out.put(",\"level\":\"", level_name(r.level), "\",\"call\":\"", r.call, "\",\"fd\":", r.fd, ",\"kind\":");
  out.append_json_string(r.kind);
  out.put(",\"local\":");
  out.append_json_string(r.local);
  out.put(",\"peer\":");
  out.append_json_string(r.peer);
  out.put(",\"host\":");
  out.append_json_string(r.host);
  out.put(",\"ret\":", r.ret, ",\"errno\":", r.code_kind == CodeKind::errno_code ? r.code : 0, ",\"code\":");
  out.append_json_string(r.code_name);
  out.put(",\"message\":");
  out.append_json_string(r.message);
  out.put(",\"explanation\":\"");
  if (*r.explanation) put_explanation(r, Format::json, cache, out);
  out.put("\",\"advice\":\"");
  fill_template_kept(r.advice, r, Format::json, cache.advice, out);
  out.put('"');
  out.put(",\"via\":");
  out.append_json_string(r.via);
  out.put(",\"injected\":", r.injected ? "true" : "false", ",\"rule\":");
  out.append_json_string(r.rule);
  out.put(",\"retries\":", r.retries);
  if (r.retrying) {
    out.put(",\"retrying\":true,\"waited_ms\":");
    append_ms(out, r.waited_ns);
  }
  if (!r.note.empty()) {
    out.put(",\"note\":");
    out.append_json_string(r.note);
  }
  if (r.call_n) {
    out.put(",\"conn\":");
    out.append_json_string(r.conn);
    out.put(",\"call_n\":", r.call_n);
    if (r.drawn) out.put(",\"drawn_ns\":", r.drawn_ns);
  }
  if (r.have_history) {
    out.put(",\"bytes_sent\":", r.sent, ",\"bytes_received\":", r.received, ",\"age_ms\":");
    append_ms(out, r.age_ns);
    if (r.inherited) out.put(",\"inherited\":true");
  }
  if (r.peer_gone_ago_ns) {
    out.put(",\"peer_gone_ms_ago\":");
    append_ms(out, r.peer_gone_ago_ns);
  }
  if (r.clipped) out.put(",\"clipped\":true");
  out.put('}');
}

// How much of a value from outside a JSON record keeps when the whole record
// would not fit: 32 bytes, 192 once escaped, times every place a value can
// appear, leave room for the longest explanation (test_record checks it).
constexpr std::size_t kClippedValue = 32;

std::string_view clip(std::string_view v) {
  return v.size() <= kClippedValue ? v : v.substr(0, whole_utf8_prefix(v.substr(0, kClippedValue)));
}

}  // namespace

void put_prog_pid(std::string_view prog, long pid, LineBuffer& out) {
  out.append_text_escaped(prog);
  out.put('[', pid, ']');
}

void put_summary_start(std::string_view prog, long pid, LineBuffer& out) {
  out.put("sockdiag summary ");
  put_prog_pid(prog, pid, out);
  out.put("   ");
}

void format_record(const RecordData& r, Format format, RecordCache& cache, LineBuffer& out) {
  out.clear();
  if (format == Format::text) {
    text_record(r, cache, out);  // cut at the end, marked "…", if too long
  } else {
    json_record(r, cache, out);
    if (out.full()) {
      // A cut JSON line would not parse. Only values from outside can be
      // that long (argv[0] has no bound, and escapes take up to six bytes a
      // byte): written again with them clipped, and saying so.
      RecordData c = r;
      c.prog = clip(r.prog);
      c.local = clip(r.local);
      c.peer = clip(r.peer);
      c.host = clip(r.host);
      c.rule = clip(r.rule);
      c.clipped = true;
      out.clear();
      json_record(c, cache, out);
    }
  }
  out.finish_line();
}

void format_seed_notice(int64_t wall_ns, long pid, std::string_view prog, uint64_t seed, Format format,
                        LineBuffer& out) {
  out.clear();
  unsigned long long s = seed;
  if (format == Format::json) {
    out.appendf(FMT_COMPILE("{{\"v\":{},\"ts\":\""), kRecordSchemaVersion);
    format_time(wall_ns, out);
    out.appendf(FMT_COMPILE("\",\"pid\":{},\"prog\":"), pid);
    out.append_json_string(prog);
    out.appendf(FMT_COMPILE(",\"level\":\"info\",\"seed\":{},\"message\":\"injection seed {} (SOCKDIAG_SEED={} replays this run)\"}}"),
                s, s, s);
  } else {
    out.append("sockdiag ");
    format_time(wall_ns, out);
    out.append_char(' ');
    put_prog_pid(prog, pid, out);
    out.appendf(FMT_COMPILE(" info injection seed {} (SOCKDIAG_SEED={} replays this run)"), s, s);
  }
  out.finish_line();
}

}  // namespace sd
