//! The `tchat-devserver` binary and the library's lifecycle.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn binary_prints_its_url_first_and_exits_cleanly_on_sigterm_and_sigint() {
    for sig in ["-TERM", "-INT"] {
        run_binary_until(sig);
    }
}

fn run_binary_until(sig: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tchat-devserver"))
        .args(["--addr", "127.0.0.1:0", "--delta-delay-ms", "0", "--runs", "client", "--ping-interval-ms", "100"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn devserver");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("tchat-devserver listening on ").expect(&line).to_string();
    assert!(url.starts_with("http://127.0.0.1:"));
    let r = call("GET", &format!("{url}/api/v1/sessions"), Some("tr_dev_tchat_local"), None, &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    let status = Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + WAIT;
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "devserver did not exit");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(exit.code(), Some(0), "{sig}");
}

#[test]
fn shutdown_is_prompt_with_open_streams() {
    let s = server();
    let pat = create_session(&s, "sd")["publicAccessToken"].as_str().unwrap().to_string();
    let mut sse = subscribe(&s, "sd", &pat, &[]);
    let started = Instant::now();
    s.shutdown();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_ne!(sse.read_to_end(), End::Open);
}

#[test]
fn the_server_handle_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<tchat_devserver::DevServer>();
    assert_send_sync::<tchat_devserver::Config>();
    assert_send_sync::<tchat_devserver::Faults>();
}

#[test]
fn dropping_inside_another_runtime_does_not_panic() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let s = server();
        assert!(s.base_url().starts_with("http://127.0.0.1:"));
        drop(s);
    });
}
