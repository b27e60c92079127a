fn main() {
    eprintln!("tchat-devserver: not built yet");
    std::process::exit(1);
}
