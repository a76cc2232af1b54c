//! The repro command line.

use lockstep_repro::options::Options;

/// The input split at NUL bytes into arguments (lossy UTF-8, as `std::env::args`
/// would refuse invalid UTF-8): `Options::parse`; what it accepts must validate and
/// survive a serde round trip.
pub fn repro_cli(data: &[u8]) {
    let args: Vec<String> = if data.is_empty() {
        Vec::new()
    } else {
        data.split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    };
    if let Ok(options) = Options::parse(&args) {
        assert!(options.validate().is_ok(), "parse accepted invalid options");
        assert!(options.steps() >= 1);
        let json = serde_json::to_string(&options).unwrap_or_default();
        let again: Option<Options> = serde_json::from_str(&json).ok();
        assert_eq!(again.as_ref(), Some(&options), "Options JSON round trip");
    }
}
