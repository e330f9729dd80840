//! `mcp-relay PROGRAM ARGS...`: start PROGRAM and copy lines between it and this process's
//! stdio, untouched, one thread per direction. It does no work at all, so in a benchmark
//! (`scripts/bench-servers.sh`) it shows what putting one more process between a client and a
//! server costs on the machine, apart from anything switchboard does.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};

fn copy_lines(from: impl std::io::Read, mut to: impl Write) {
    let mut reader = BufReader::new(from);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if to.write_all(&line).and_then(|()| to.flush()).is_err() {
                    return;
                }
            }
        }
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: mcp-relay PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    let mut child = match Command::new(&program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            eprintln!("mcp-relay: cannot start {program:?}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (Some(child_in), Some(child_out)) = (child.stdin.take(), child.stdout.take()) else {
        return ExitCode::FAILURE;
    };
    let down = std::thread::spawn(move || copy_lines(std::io::stdin(), child_in));
    copy_lines(child_out, std::io::stdout());
    let _ = down.join();
    let _ = child.wait();
    ExitCode::SUCCESS
}
