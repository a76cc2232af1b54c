//! `lockstep-fuzz-afl TARGET`: one AFL++ persistent-mode harness for every target of
//! `lockstep-fuzz` (the name picks the function). Run under `afl-fuzz` by
//! `cargo xtask fuzz`; run by hand with an input on standard input to reproduce a
//! crash.

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(target) = lockstep_fuzz::target(&name) else {
        let names: Vec<&str> = lockstep_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
        eprintln!(
            "usage: lockstep-fuzz-afl TARGET (one of: {})",
            names.join(", ")
        );
        std::process::exit(2);
    };
    afl::fuzz!(|data: &[u8]| {
        target(data);
    });
}
