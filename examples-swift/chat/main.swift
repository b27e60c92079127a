// A small Swift client over tchat's C API (the `tchat` module of Package.swift): opens a chat,
// sends one message and prints the reply's text deltas as they stream in, then the turn's end.
//
//   make install PREFIX=$HOME/.local
//   export PKG_CONFIG_PATH=$HOME/.local/lib/pkgconfig LD_LIBRARY_PATH=$HOME/.local/lib
//   cargo run --release -p tchat-devserver -- --addr 127.0.0.1:8030 &
//   swift run tchat-swift-chat "hello from Swift"
//
// Environment: TRIGGER_API_URL (default http://127.0.0.1:8030), TRIGGER_SECRET_KEY (default
// tr_dev_tchat_local, the devserver's), TCHAT_TASK (default demo).
//
// Not compiled by CI (no Swift toolchain there); the same calls in C are the README's C quick start.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import tchat

func environment(_ name: String, _ fallback: String) -> String {
    guard let value = getenv(name) else { return fallback }
    return String(cString: value)
}

/// Prints what failed (the status and the library's message for this thread) and exits.
func fail(_ call: String, _ status: tchat_status) -> Never {
    let name = String(cString: tchat_status_str(Int32(status.rawValue)))
    let message = String(cString: tchat_last_error_message())
    fputs("\(call): \(name): \(message)\n", stderr)
    exit(1)
}

/// A borrowed (pointer, length) string of an event as a Swift String.
func text(_ pointer: UnsafePointer<CChar>, _ length: Int) -> String {
    String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
}

print("tchat \(String(cString: tchat_version()))")
var status: tchat_status

let clientOptions = tchat_client_options_new()
tchat_client_options_set_base_url(clientOptions, environment("TRIGGER_API_URL", "http://127.0.0.1:8030"))
tchat_client_options_set_token(clientOptions, environment("TRIGGER_SECRET_KEY", "tr_dev_tchat_local"))
var client: OpaquePointer?
status = tchat_client_new(clientOptions, &client)
tchat_client_options_free(clientOptions)
guard status == TCHAT_OK else { fail("tchat_client_new", status) }

let chatOptions = tchat_chat_options_new()
tchat_chat_options_set_task_id(chatOptions, environment("TCHAT_TASK", "demo"))
var chat: OpaquePointer?
status = tchat_chat_open(client, chatOptions, &chat)
tchat_chat_options_free(chatOptions)
guard status == TCHAT_OK else { fail("tchat_chat_open", status) }

let message = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "hello from Swift"
status = tchat_chat_send_text(chat, message)
guard status == TCHAT_OK else { fail("tchat_chat_send_text", status) }

var done = false
while !done {
    var event: OpaquePointer?
    status = tchat_chat_next_event(chat, 1000, &event)
    if status == TCHAT_NO_EVENT || status == TCHAT_WOKEN { continue }  // nothing yet: poll again
    guard status == TCHAT_OK, let ev = event else { fail("tchat_chat_next_event", status) }

    var length = 0
    if let delta = tchat_event_text_delta(ev, &length) {  // non-NULL only for the reply's text
        print(text(delta, length), terminator: "")
        fflush(stdout)
    }
    switch tchat_event_get_kind(ev) {
    case TCHAT_EVENT_KIND_TURN_COMPLETE:
        print("\n[turn complete: \(tchat_event_finish_reason(ev).map { String(cString: $0) } ?? "-")]")
        done = true
    case TCHAT_EVENT_KIND_ERROR:
        print("\n[error: \(tchat_event_error_message(ev).map { String(cString: $0) } ?? "-")]")
        done = true
    default:
        break
    }
    tchat_event_free(ev)
}

tchat_chat_free(chat)
tchat_client_free(client)
