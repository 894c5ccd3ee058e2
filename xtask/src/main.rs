//! Project automation: `cargo xtask pack [--out PATH]` builds docker-registry.charm.

mod archive;
mod pack;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  pack [--out PATH]   build the charm binary (release) and write
                      target/charm/docker-registry.charm (or PATH)
  help                show this text";

/// A parsed command line.
#[derive(Debug, PartialEq)]
enum Cli {
    Pack { out: Option<PathBuf> },
    Help,
}

/// Parses the arguments after the program name.
fn parse(args: &[String]) -> Result<Cli, String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        None | Some("help" | "-h" | "--help") => Ok(Cli::Help),
        Some("pack") => {
            let mut out = None;
            while let Some(arg) = it.next() {
                match arg.as_str() {
                    "--out" => {
                        let path = it
                            .next()
                            .ok_or("`--out` needs a path, e.g. `--out /tmp/x.charm`")?;
                        out = Some(PathBuf::from(path));
                    }
                    s if s.starts_with("--out=") => {
                        out = Some(PathBuf::from(&s["--out=".len()..]));
                    }
                    other => return Err(format!("unknown argument `{other}` for `pack`")),
                }
            }
            Ok(Cli::Pack { out })
        }
        Some(other) => Err(format!("unknown command `{other}`")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(Cli::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Cli::Pack { out }) => match pack::pack(&pack::PackOptions { out }) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn parses_pack_and_out() {
        assert_eq!(parse(&args(&["pack"])), Ok(Cli::Pack { out: None }));
        assert_eq!(
            parse(&args(&["pack", "--out", "/tmp/a.charm"])),
            Ok(Cli::Pack {
                out: Some("/tmp/a.charm".into())
            })
        );
        assert_eq!(
            parse(&args(&["pack", "--out=b.charm"])),
            Ok(Cli::Pack {
                out: Some("b.charm".into())
            })
        );
        assert_eq!(parse(&args(&[])), Ok(Cli::Help));
    }

    #[test]
    fn rejects_bad_arguments_with_a_hint() {
        assert!(parse(&args(&["pack", "--out"]))
            .unwrap_err()
            .contains("needs a path"));
        assert!(parse(&args(&["pack", "-x"])).unwrap_err().contains("`-x`"));
        assert!(parse(&args(&["build"])).unwrap_err().contains("`build`"));
    }
}
