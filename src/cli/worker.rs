//! `modeldeck batch-worker RUN`: one batch run, started by the server (DESIGN.md: a large run
//! can neither starve nor crash the gateway). It reads its assignment from the first line of
//! stdin, lowers its own priority, and reports JSON lines on stdout. The server keeps stdin
//! open: end of file means the server is gone, and the worker stops with it.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use crate::batch::run::{Assignment, Report, execute};

/// The longest assignment read (a spec with its chain; bounded like any input).
const MAX_ASSIGNMENT: u64 = 4 << 20;

pub fn batch_worker(run: i64) -> ExitCode {
    // A nice value alone still lets a busy worker hold a core for a scheduler slice (ms)
    // when a gateway thread wakes; the idle class gives the core up at once, so the gateway's
    // latency holds while a run goes. Threads started later inherit both.
    // SAFETY: these change this process's own scheduling only; a failure leaves it as it was.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
        #[cfg(target_os = "linux")]
        {
            let param = libc::sched_param { sched_priority: 0 };
            libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
        }
    }
    let mut line = String::new();
    let mut stdin = std::io::stdin().lock();
    let read = std::io::Read::take(&mut stdin, MAX_ASSIGNMENT).read_line(&mut line);
    let assignment: Assignment = match read.map(|_| serde_json::from_str(&line)) {
        Ok(Ok(a)) => a,
        _ => {
            eprintln!(
                "error: batch-worker is started by `modeldeck serve` for a run; run a job with `modeldeck jobs run NAME`"
            );
            return ExitCode::from(2);
        }
    };
    if assignment.run != run {
        eprintln!(
            "error: the assignment is for run {}, not {run}",
            assignment.run
        );
        return ExitCode::from(2);
    }
    drop(stdin);
    // The server going away closes stdin: stop, leaving the run for the next server to close.
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut sink);
        std::process::exit(3);
    });
    let mut out = std::io::stdout().lock();
    execute(&assignment, &mut |report: &Report| {
        let text = serde_json::to_string(report).unwrap_or_default();
        if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
            std::process::exit(3);
        }
    });
    ExitCode::SUCCESS
}
