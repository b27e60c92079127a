//! The blocking client against the in-process devserver, one test per capability, in both run modes.
//! Assertions are what a user sees: the streamed text, the assembled message, the events, the state.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use tchat::{ChatOptions, Client, ErrorKind, Event, RunMode as ClientRunMode};
use tchat_devserver::RunMode;

#[test]
fn preload_then_two_messages() {
    both_modes(|mode| {
        let server = server(mode);
        let chat = open(&client(&server));
        let expected_mode = if mode == RunMode::Server { ClientRunMode::Server } else { ClientRunMode::Client };
        assert_eq!(chat.run_mode(), expected_mode);
        assert!(chat.session_id().starts_with("session_"));
        assert!(chat.run_id().is_some());

        chat.send_text("hello there").unwrap();
        let turn = collect_turn(&chat);
        assert_eq!(turn.text, "You said: hello there");
        assert_eq!(turn.message_text(), "You said: hello there");
        assert_eq!(turn.complete().finish_reason.as_deref(), Some("stop"));
        assert!(!chat.is_turn_in_flight());

        chat.send_text("second one").unwrap();
        let turn2 = collect_turn(&chat);
        assert_eq!(turn2.text, "You said: second one");
        assert!(turn2.seqs.iter().min() > turn.seqs.iter().max(), "the second turn starts after the first");

        assert_eq!(
            in_messages(&server, chat.session_id()),
            vec![("submit-message".into(), "hello there".into()), ("submit-message".into(), "second one".into())]
        );
    });
}

#[test]
fn first_message_at_open() {
    both_modes(|mode| {
        let server = server(mode);
        let chat = client(&server).open(ChatOptions::new("demo").with_first_message("straight away")).unwrap();
        let turn = collect_turn(&chat);
        assert_eq!(turn.text, "You said: straight away");
    });
}

#[test]
fn open_is_idempotent_on_the_chat_id() {
    let server = server(RunMode::Server);
    let client = client(&server);
    let a = client.open(ChatOptions::new("demo").with_chat_id("same-chat")).unwrap();
    let b = client.open(ChatOptions::new("demo").with_chat_id("same-chat")).unwrap();
    assert_eq!(a.session_id(), b.session_id());
    assert_eq!(a.chat_id(), "same-chat");
}

#[test]
fn reasoning_and_data_parts_are_assembled() {
    let server = server(RunMode::Server);
    let chat = open(&client(&server));
    chat.send_text("/reason why not").unwrap();
    let turn = collect_turn(&chat);
    let msg: serde_json::Value = serde_json::from_str(&turn.complete().message_json).unwrap();
    let types: Vec<&str> = msg["parts"].as_array().unwrap().iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"reasoning"), "{types:?}");
    assert!(types.contains(&"text"), "{types:?}");
    assert!(turn.chunk_types.iter().any(|t| t == "reasoning-delta"));

    chat.send_text("/data").unwrap();
    let turn = collect_turn(&chat);
    let msg: serde_json::Value = serde_json::from_str(&turn.complete().message_json).unwrap();
    let data_parts: Vec<&serde_json::Value> =
        msg["parts"].as_array().unwrap().iter().filter(|p| p["type"].as_str().unwrap().starts_with("data-")).collect();
    assert!(!data_parts.is_empty());
    let ids: Vec<&str> = data_parts.iter().filter_map(|p| p["id"].as_str()).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(ids.len(), unique.len(), "a data part with an id replaces the earlier one: {ids:?}");
}

#[test]
fn stop_ends_the_turn_early() {
    both_modes(|mode| {
        let server = server_with(mode, |c| c.delta_delay = Duration::from_millis(5));
        let chat = open(&client(&server));
        chat.send_text("/slow 400").unwrap();
        let mut stopped = false;
        let turn = collect_turn_with(&chat, |t| {
            if !stopped && t.chunk_types.iter().filter(|c| *c == "text-delta").count() >= 3 {
                chat.stop(Some("user pressed stop")).unwrap();
                stopped = true;
            }
        });
        assert!(turn.complete().stopped);
        let deltas = turn.chunk_types.iter().filter(|c| *c == "text-delta").count();
        assert!(deltas < 400, "the reply was cut short ({deltas} deltas)");
        // The conversation goes on.
        chat.send_text("after stop").unwrap();
        assert_eq!(collect_turn(&chat).text, "You said: after stop");
    });
}

#[test]
fn steering_message_joins_the_running_turn() {
    let server = server_with(RunMode::Server, |c| c.delta_delay = Duration::from_millis(5));
    let chat = open(&client(&server));
    chat.send_text("/slow 30").unwrap();
    let mut steered = false;
    let turn = collect_turn_with(&chat, |t| {
        if !steered && t.chunk_types.iter().filter(|c| *c == "text-delta").count() >= 2 {
            chat.steer("go left").unwrap();
            steered = true;
        }
    });
    assert!(turn.text.contains("Noted: go left"), "{}", turn.text);
    assert!(!chat.is_turn_in_flight());
    let msgs = in_messages(&server, chat.session_id());
    assert_eq!(msgs.iter().filter(|(_, t)| t == "go left").count(), 1);
}

#[test]
fn action_undo() {
    both_modes(|mode| {
        let server = server(mode);
        let chat = open(&client(&server));
        chat.send_text("something").unwrap();
        collect_turn(&chat);
        chat.send_action(r#"{"type":"undo"}"#).unwrap();
        assert_eq!(collect_turn(&chat).text, "Undid the last exchange.");
        assert_eq!(chat.send_action("{not json").unwrap_err().kind(), ErrorKind::InvalidArgument);
    });
}

#[test]
fn tool_approval_approved_and_denied() {
    both_modes(|mode| {
        let server = server(mode);
        let chat = open(&client(&server));
        chat.send_text("/tool Paris").unwrap();
        let turn = collect_turn(&chat);
        let approvals = turn.complete().pending_approvals.clone();
        assert_eq!(approvals.len(), 1, "one tool call waits for approval");
        assert!(turn.chunk_types.iter().any(|t| t == "tool-input-delta"));
        chat.approve(&approvals[0], true, None).unwrap();
        let turn = collect_turn(&chat);
        assert!(turn.text.contains("The weather in Paris is sunny, 21°C."), "{}", turn.text);
        assert!(turn.chunk_types.iter().any(|t| t == "tool-output-available"));

        chat.send_text("/tool Oslo").unwrap();
        let turn = collect_turn(&chat);
        let id = turn.complete().pending_approvals[0].clone();
        assert_eq!(chat.approve("no-such-approval", true, None).unwrap_err().kind(), ErrorKind::InvalidState);
        chat.approve(&id, false, Some("not now")).unwrap();
        let turn = collect_turn(&chat);
        assert!(turn.text.contains("Okay, I won't check the weather in Oslo."), "{}", turn.text);
        assert!(turn.chunk_types.iter().any(|t| t == "tool-output-denied"));
    });
}

#[test]
fn regenerate_and_error_turns() {
    let server = server(RunMode::Server);
    let chat = open(&client(&server));
    chat.send_text("say it again").unwrap();
    collect_turn(&chat);
    chat.regenerate().unwrap();
    assert_eq!(collect_turn(&chat).text, "You said: say it again");
    chat.send_text("/error").unwrap();
    let turn = collect_turn(&chat);
    assert!(turn.complete().error_text.as_deref().unwrap_or("").contains("failed on purpose"));
    chat.send_text("fine again").unwrap();
    assert_eq!(collect_turn(&chat).text, "You said: fine again");
}

#[test]
fn full_message_json_and_bad_input() {
    let server = server(RunMode::Server);
    let chat = open(&client(&server));
    chat.send_message_json(r#"{"role":"user","parts":[{"type":"text","text":"from json"}]}"#).unwrap();
    assert_eq!(collect_turn(&chat).text, "You said: from json");
    for bad in ["", "[]", "{\"parts\":3}", "nope"] {
        assert_eq!(chat.send_message_json(bad).unwrap_err().kind(), ErrorKind::InvalidArgument, "{bad}");
    }
}

#[test]
fn oversized_message_is_refused_before_sending() {
    let server = server(RunMode::Server);
    let chat = open(&client(&server));
    let big = "x".repeat(1024 * 1024 + 1);
    let err = chat.send_text(&big).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert!(in_messages(&server, chat.session_id()).is_empty());
}

/// The server meters a record as its body JSON-escaped inside `{"data":..,"id":..}` plus 8
/// bytes: a text of quotes doubles twice (once in the message JSON, once in the record), so
/// 262,100 quotes are refused although the body is only ~512 KiB, while 261,000 pass the
/// check and the server, which meters the same way, accepts and answers them.
#[test]
fn message_size_is_metered_as_the_server_meters_it() {
    let server = server(RunMode::Server);
    let chat = open(&client(&server));
    let over = "\"".repeat(262_100);
    let err = chat.send_text(&over).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    assert!(err.message().contains("as the server meters it"), "{err}");
    assert!(in_messages(&server, chat.session_id()).is_empty(), "nothing was sent");
    let inside = "\"".repeat(261_000);
    chat.send_text(&inside).unwrap();
    let turn = collect_turn(&chat);
    assert_eq!(turn.text, format!("You said: {inside}"));
    assert_eq!(in_messages(&server, chat.session_id()).len(), 1);
}

/// A 256-character chat id (the server's externalId limit) opens and converses; its run tag
/// `chat:<id>` would be over the 128-character tag limit, so runs carry only the caller's
/// tags, as the official `chatRunTags` does.
#[test]
fn a_256_character_chat_id_opens_and_converses() {
    both_modes(|mode| {
        let server = server(mode);
        let client = client(&server);
        let long_id = format!("{}{}", "é".repeat(100), "c".repeat(156));
        let chat = client.open(ChatOptions::new("demo").with_chat_id(&long_id).with_tag("team-a")).unwrap();
        chat.send_text("hello long id").unwrap();
        assert_eq!(collect_turn(&chat).text, "You said: hello long id");
        let session = session_json(&server, &long_id);
        assert_eq!(session["externalId"], long_id.as_str());
        assert_eq!(session["triggerConfig"]["tags"], serde_json::json!(["team-a"]));

        let short = client.open(ChatOptions::new("demo").with_chat_id("short-id")).unwrap();
        assert_eq!(session_json(&server, "short-id")["triggerConfig"]["tags"], serde_json::json!(["chat:short-id"]));
        drop(short);
        for bad in [" padded".to_string(), "x".repeat(257), "session_abc".to_string()] {
            let err = client.open(ChatOptions::new("demo").with_chat_id(&bad)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad:?}");
        }
        let err = client.open(ChatOptions::new("demo").with_tag("t".repeat(129))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    });
}

/// `GET /api/v1/sessions/{id}` with the secret key.
fn session_json(server: &tchat_devserver::DevServer, id: &str) -> serde_json::Value {
    let url = format!("{}/api/v1/sessions/{}", server.base_url(), tchat_devserver_encode(id));
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut r = agent.get(&url).header("Authorization", format!("Bearer {}", server.secret_key())).call().unwrap();
    assert_eq!(r.status(), 200);
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

fn tchat_devserver_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn save_and_restore_between_turns() {
    both_modes(|mode| {
        let server = server(mode);
        let saved = {
            let chat = open(&client(&server));
            chat.send_text("before restart").unwrap();
            collect_turn(&chat);
            chat.save_state()
        };
        let state: serde_json::Value = serde_json::from_str(&saved).unwrap();
        assert!(state["sessionId"].as_str().unwrap().starts_with("session_"));
        assert!(state["lastEventId"].is_u64());
        assert_eq!(state["turnInFlight"], false);

        // A new client, as after an app restart.
        let chat = client(&server).restore(&saved).unwrap();
        assert!(chat.next_event(Duration::from_millis(50)).is_none(), "nothing replays between turns");
        chat.send_text("after restart").unwrap();
        let turn = collect_turn(&chat);
        assert_eq!(turn.text, "You said: after restart");
        assert_eq!(
            in_messages(&server, chat.session_id()).iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
            vec!["before restart", "after restart"]
        );
        assert!(client(&server).restore("{\"version\":1}").is_err());
    });
}

#[test]
fn restore_mid_turn_gets_the_rest_without_duplicates() {
    both_modes(|mode| {
        let server = server_with(mode, |c| c.delta_delay = Duration::from_millis(3));
        let chat = open(&client(&server));
        chat.send_text("/slow 60").unwrap();
        let mut saved = None;
        let mut first_part = Turn::default();
        let deadline = Instant::now() + WAIT;
        while saved.is_none() {
            assert!(Instant::now() < deadline);
            if let Some(Event::Chunk(c)) = chat.next_event(WAIT) {
                first_part.seqs.push(c.seq_num);
                if c.chunk_type == "text-delta" {
                    first_part.text.push_str(c.delta.as_deref().unwrap());
                    if first_part.text.split(' ').count() > 10 {
                        saved = Some(chat.save_state());
                    }
                }
            }
        }
        drop(chat); // the app dies mid-turn
        let saved = saved.unwrap();
        assert!(serde_json::from_str::<serde_json::Value>(&saved).unwrap()["turnInFlight"] == true);

        let chat = client(&server).restore(&saved).unwrap();
        let rest = collect_turn(&chat);
        let max_before = *first_part.seqs.iter().max().unwrap();
        assert!(rest.seqs.iter().all(|s| *s > max_before), "no record repeats after the restore");
        let mut expected = Turn::default();
        // Fault-free reference: the same command in a fresh chat.
        let reference = open(&client(&server));
        reference.send_text("/slow 60").unwrap();
        expected.text = collect_turn(&reference).text;
        assert_eq!(format!("{}{}", first_part.text, rest.text), expected.text);
        // The message assembled after the restore is the whole reply, not only its rest.
        assert_eq!(rest.message_text(), expected.text);
    });
}

#[test]
fn close_session_then_sends_fail() {
    both_modes(|mode| {
        let server = server(mode);
        let chat = open(&client(&server));
        chat.send_text("last words").unwrap();
        collect_turn(&chat);
        chat.close_session(Some("done")).unwrap();
        let err = chat.send_text("anyone?").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SessionClosed);
        // A second client for the same session hears about it from the server.
        let other = client(&server).restore(&chat.save_state()).unwrap();
        let err = other.send_text("hello?").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SessionClosed, "{err:?}");
        assert!(err.message().contains("closed"), "{}", err.message());
    });
}

#[test]
fn agent_loop_close_then_continuation() {
    both_modes(|mode| {
        let server = server(mode);
        let chat = open(&client(&server));
        chat.send_text("one").unwrap();
        collect_turn(&chat);
        let first_run = chat.run_id().unwrap();
        chat.close_agent().unwrap();
        // The run ends; the next message needs a continuation (the server's in server mode, ours in
        // client mode) and gets its answer.
        chat.send_text("two").unwrap();
        assert_eq!(collect_turn(&chat).text, "You said: two");
        assert!(server.run_ids(chat.session_id()).len() >= 2, "a continuation run started");
        if mode == RunMode::Client {
            assert_ne!(chat.run_id().unwrap(), first_run);
        }
    });
}

#[test]
fn upgrade_required_is_survived() {
    both_modes(|mode| {
        let server = server(mode);
        let chat = open(&client(&server));
        chat.send_text("/upgrade").unwrap();
        let turn = collect_turn(&chat);
        assert!(turn.others.iter().any(|e| matches!(e, Event::UpgradeRequired)), "{:?}", turn.others);
        assert!(turn.text.starts_with("You said: /upgrade"), "{}", turn.text);
    });
}

#[test]
fn callback_delivery_and_reentrant_send() {
    let server = server(RunMode::Server);
    let chat = Arc::new(open(&client(&server)));
    let (tx, rx) = crossbeam_channel::unbounded();
    let seen = Arc::new(Mutex::new(String::new()));
    let weak = Arc::downgrade(&chat);
    let seen2 = seen.clone();
    chat.set_callback(Some(Arc::new(move |ev: &Event| match ev {
        Event::Chunk(c) if c.chunk_type == "text-delta" => seen2.lock().unwrap().push_str(c.delta.as_deref().unwrap()),
        Event::TurnComplete(_) => {
            let text = std::mem::take(&mut *seen2.lock().unwrap());
            if text == "You said: first" {
                // Sending from inside the callback (on the reader thread) works.
                let chat = weak.upgrade().unwrap();
                assert!(chat.is_reader_thread());
                chat.send_text("second").unwrap();
            }
            tx.send(text).unwrap();
        }
        _ => {}
    })));
    chat.send_text("first").unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "You said: first");
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "You said: second");
    chat.set_callback(None);
}

#[test]
fn wake_interrupts_a_waiting_poll() {
    let server = server(RunMode::Server);
    let chat = Arc::new(open(&client(&server)));
    let waker = chat.clone();
    let (tx, rx) = crossbeam_channel::bounded(1);
    let t = std::thread::spawn(move || {
        rx.recv().unwrap();
        waker.wake();
    });
    let start = Instant::now();
    tx.send(()).unwrap();
    assert!(chat.next_event(Duration::from_secs(30)).is_none());
    assert!(start.elapsed() < Duration::from_secs(10));
    t.join().unwrap();
    // Zero timeout never blocks.
    assert!(chat.next_event(Duration::ZERO).is_none());
}

#[test]
fn drop_while_blocked_in_a_read_is_prompt() {
    let server = server_with(RunMode::Server, |c| c.delta_delay = Duration::from_millis(200));
    let chat = open(&client(&server));
    chat.send_text("/slow 100").unwrap();
    // Wait for the first chunk: the reader is now blocked reading between deltas.
    loop {
        if let Some(Event::Chunk(_)) = chat.next_event(WAIT) {
            break;
        }
    }
    let start = Instant::now();
    drop(chat);
    let took = start.elapsed();
    assert!(took < Duration::from_millis(500), "drop took {took:?}");
}

#[test]
fn no_token_in_errors_or_debug() {
    let server = server(RunMode::Server);
    let secret = server.secret_key().to_owned();
    let bad_token = "tr_dev_this_is_a_wrong_and_secret_value";
    let bad = Client::new(config(&server).with_user_agent("t")).unwrap();
    let _ = bad;
    let wrong = Client::new(tchat::ClientConfig::new(bad_token).with_base_url(server.base_url())).unwrap();
    let err = wrong.open(ChatOptions::new("demo")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.status(), Some(401));
    for text in [err.to_string(), format!("{err:?}"), format!("{wrong:?}")] {
        assert!(!text.contains(bad_token), "{text}");
        assert!(!text.contains("wrong_and_secret"), "{text}");
    }
    let chat = open(&client(&server));
    chat.send_text("hi").unwrap();
    collect_turn(&chat);
    let state: serde_json::Value = serde_json::from_str(&chat.save_state()).unwrap();
    let pat = state["publicAccessToken"].as_str().unwrap().to_owned();
    let debug = format!("{chat:?} {:?}", client(&server));
    assert!(!debug.contains(&pat), "{debug}");
    assert!(!debug.contains(&secret), "{debug}");
}
