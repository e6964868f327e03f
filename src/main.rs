//! The `stackwright` command: parse the arguments, run the command, exit with its status.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
