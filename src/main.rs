use clap::Parser;

fn main() {
    let cli = loket::cli::Cli::parse();
    match loket::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("loket: {e:#}");
            std::process::exit(1);
        }
    }
}
