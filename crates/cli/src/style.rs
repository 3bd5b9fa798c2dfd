//! Colour on a terminal only (never in pipes or files).

use std::io::IsTerminal;

/// Is stdout a terminal (and colour not disabled with NO_COLOR)?
pub fn is_tty() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// A state word, coloured by how good it is.
pub fn state(word: &str) -> String {
    if !is_tty() {
        return word.to_string();
    }
    let code = match word {
        "running" | "online" | "completed" => "32",
        "deploying" | "pending" | "restarting" | "starting" => "33",
        _ => "31",
    };
    format!("\x1b[{code}m{word}\x1b[0m")
}
