//! jujusim binary: the CLI, or a hook tool when invoked through a symlink (argv[0]).
fn main() {
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    let name = std::path::Path::new(&argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("jujusim")
        .to_string();
    let rest: Vec<String> = args.collect();
    let code = if name.starts_with("jujusim") {
        jujusim::cli::main(rest)
    } else {
        jujusim::tools::tool_main(&name, &rest)
    };
    std::process::exit(code);
}
