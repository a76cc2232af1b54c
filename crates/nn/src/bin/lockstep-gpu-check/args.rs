//! A small `--key value` parser: the checks take few options, and lockstep-nn has no
//! argument-parser dependency.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;

use lockstep_nn::{DeterminismMode as Mode, DeviceConfig};

use crate::Failure;

/// The options after the subcommand: `--key value` pairs and positional values.
#[derive(Debug, Default)]
pub struct Args {
    named: BTreeMap<String, String>,
    /// Values without a `--key`.
    pub positional: Vec<String>,
}

impl Args {
    /// Splits `args` into `--key value` pairs and positional values.
    pub fn parse(args: &[String]) -> Result<Self, Failure> {
        let mut out = Self::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if let Some(key) = a.strip_prefix("--") {
                let value = it
                    .next()
                    .ok_or_else(|| Failure(format!("--{key} needs a value")))?;
                if out.named.insert(key.to_string(), value.clone()).is_some() {
                    return Err(Failure(format!("--{key} given twice")));
                }
            } else {
                out.positional.push(a.clone());
            }
        }
        Ok(out)
    }

    /// The value of `--key`, if given.
    pub fn opt(&self, key: &str) -> Option<&str> {
        self.named.get(key).map(String::as_str)
    }

    /// The value of `--key`, which must be given.
    pub fn req(&self, key: &str) -> Result<&str, Failure> {
        self.opt(key)
            .ok_or_else(|| Failure(format!("--{key} is required")))
    }

    /// `--key` parsed, or `default`.
    pub fn num<T: FromStr>(&self, key: &str, default: T) -> Result<T, Failure> {
        match self.opt(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| Failure(format!("--{key} `{v}` is not a valid number"))),
        }
    }

    /// `--out`, which every subcommand needs.
    pub fn out(&self) -> Result<PathBuf, Failure> {
        Ok(PathBuf::from(self.req("out")?))
    }

    /// `--device cpu|cuda` (default cpu).
    pub fn device(&self) -> Result<DeviceConfig, Failure> {
        parse_device(self.opt("device").unwrap_or("cpu"))
    }

    /// `--mode strict|default` (default strict).
    pub fn mode(&self) -> Result<Mode, Failure> {
        match self.opt("mode").unwrap_or("strict") {
            "strict" => Ok(Mode::Strict),
            "default" => Ok(Mode::Default),
            other => Err(Failure(format!(
                "--mode is strict or default, not `{other}`"
            ))),
        }
    }
}

/// `cpu` or `cuda` (device 0).
pub fn parse_device(s: &str) -> Result<DeviceConfig, Failure> {
    match s {
        "cpu" => Ok(DeviceConfig::Cpu),
        "cuda" => Ok(DeviceConfig::Cuda(0)),
        other => Err(Failure(format!("--device is cpu or cuda, not `{other}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pairs_and_positionals_are_split_and_bad_input_is_refused() {
        let a = Args::parse(&strings(&[
            "x.json", "--steps", "7", "y.json", "--device", "cuda",
        ]))
        .unwrap();
        assert_eq!(a.positional, ["x.json", "y.json"]);
        assert_eq!(a.num("steps", 1u64).unwrap(), 7);
        assert_eq!(a.num("rounds", 3u64).unwrap(), 3);
        assert_eq!(a.device().unwrap(), DeviceConfig::Cuda(0));
        assert!(Args::parse(&strings(&["--steps"])).is_err());
        assert!(Args::parse(&strings(&["--a", "1", "--a", "2"])).is_err());
        let bad = Args::parse(&strings(&["--steps", "x", "--device", "tpu"])).unwrap();
        assert!(bad.num("steps", 1u64).unwrap_err().0.contains("steps"));
        assert!(bad.device().is_err());
        assert!(bad.out().is_err());
    }
}
