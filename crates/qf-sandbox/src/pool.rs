//! The parent's side of isolation: a pool of warm sandbox workers, one run at a time each,
//! with a wall-clock kill and a clear message for every way a worker can die.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qf_core::BarSeries;
use qf_engine::BacktestConfig;
use qf_engine::strategies::Params;

use crate::limits::{FailureKind, Limits, RunFailure};
use crate::ops::{Recorded, read_ops};
use crate::python::PythonProgram;
use crate::wire::{MAX_REPLY, Reader, Writer, read_frame, write_frame};
use crate::worker::{
    EXIT_CALL_TIMEOUT, EXIT_OUT_OF_MEMORY, Isolation, REQ_CHECK, REQ_RUN, REQ_SELFTEST, RESP_FAIL,
    RESP_HELLO, RESP_OK, RESP_PROGRESS, WORKER_CPU_SECONDS,
};

/// A worker serves at most this many runs before it is replaced.
const RUNS_PER_WORKER: u32 = 100;

/// Bars shared by many runs; a worker keeps the last data it was sent, so a sweep sends
/// the bars to each worker once.
#[derive(Clone)]
pub struct SharedData {
    id: u64,
    series: Arc<Vec<BarSeries>>,
}

impl SharedData {
    /// Wraps bars for sending to workers.
    pub fn new(series: Vec<BarSeries>) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        SharedData {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            series: Arc::new(series),
        }
    }

    /// The bars.
    pub fn series(&self) -> &[BarSeries] {
        &self.series
    }
}

/// What an isolated run produced.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The engine calls the strategy made; replay them with [`crate::ops::Replay`].
    pub ops: Vec<Recorded>,
    /// What `print()` wrote (bounded).
    pub log: String,
    /// Bytes of `print()` output dropped past the cap.
    pub log_dropped: u64,
    /// Time spent in tenant code.
    pub tenant_time: Duration,
    /// How the worker was isolated.
    pub isolation: Isolation,
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    data: u64,
    runs: u32,
    /// Time its runs spent in tenant code: the worker is retired well before its lifetime
    /// CPU rlimit could stop an innocent run.
    busy: Duration,
    isolation: Isolation,
}

/// A pool of sandbox workers.
pub struct Pool {
    program: PathBuf,
    args: Vec<String>,
    limits: Limits,
    idle: Mutex<Vec<Worker>>,
    max_idle: usize,
}

impl Pool {
    /// Workers are started as `program args… --call-ms … --memory-mb …` (the `qf` binary's
    /// hidden `sandbox-worker` command).
    pub fn new(program: impl Into<PathBuf>, args: Vec<String>, limits: Limits) -> Self {
        Pool {
            program: program.into(),
            args,
            limits,
            idle: Mutex::new(Vec::new()),
            // Enough for a sweep on every core to keep its workers (and their bars) warm.
            max_idle: std::thread::available_parallelism().map_or(8, |n| n.get().max(8)),
        }
    }

    /// The limits every run gets.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn spawn(&self) -> Result<Worker, RunFailure> {
        let l = &self.limits;
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .args([
                "--call-ms".to_string(),
                l.call_time.as_millis().to_string(),
                "--run-cpu-s".into(),
                l.run_cpu.as_secs().to_string(),
                "--memory-mb".into(),
                (l.memory_bytes >> 20).to_string(),
                "--recursion".into(),
                l.recursion.to_string(),
                "--log-bytes".into(),
                l.log_bytes.to_string(),
            ])
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                crash(format!(
                    "cannot start a sandbox worker ({}): {e}",
                    self.program.display()
                ))
            })?;
        let stdin = child.stdin.take().expect("piped");
        let mut stdout = child.stdout.take().expect("piped");
        let hello = read_frame(&mut stdout, MAX_REPLY).ok().flatten();
        let isolation = hello
            .as_deref()
            .and_then(|h| {
                let mut r = Reader::new(h);
                (r.u8().ok()? == RESP_HELLO).then_some(())?;
                Some(Isolation {
                    network_namespace: r.bool().ok()?,
                    seccomp: r.bool().ok()?,
                    memory_accounting: r.bool().ok()?,
                    unprivileged: r.bool().ok()?,
                })
            })
            .ok_or_else(|| {
                let _ = child.kill();
                let _ = child.wait();
                crash("a sandbox worker failed to start".to_string())
            })?;
        Ok(Worker {
            child,
            stdin,
            stdout,
            data: 0,
            runs: 0,
            busy: Duration::ZERO,
            isolation,
        })
    }

    fn take(&self) -> Result<Worker, RunFailure> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(w) => Ok(w),
            None => self.spawn(),
        }
    }

    fn give_back(&self, mut w: Worker) {
        w.runs += 1;
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = w.busy < Duration::from_secs(WORKER_CPU_SECONDS / 2);
        if w.runs < RUNS_PER_WORKER && fresh && idle.len() < self.max_idle {
            idle.push(w);
        } else {
            drop(idle);
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
    }

    /// Starts `n` workers ahead of need.
    pub fn warm(&self, n: usize) -> Result<(), RunFailure> {
        let mut fresh = Vec::new();
        for _ in 0..n {
            fresh.push(self.spawn()?);
        }
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(fresh);
        Ok(())
    }

    /// Workers waiting for work.
    pub fn idle_workers(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Compiles the strategy in a worker: syntax errors and unsupported features come back
    /// located, without running any of it.
    pub fn check(&self, prog: &PythonProgram) -> Result<(), RunFailure> {
        let mut w = Writer::default();
        w.u8(REQ_CHECK).str(&prog.file).str(&prog.source);
        self.exchange(prog, w.0, None, &mut |_| {}).map(drop)
    }

    /// Asks a worker which system calls it can still make after lockdown: `(call, errno)`,
    /// 0 when the call succeeded. For tests of the isolation itself.
    pub fn selftest(&self) -> Result<Vec<(String, u32)>, RunFailure> {
        let mut worker = self.take()?;
        let reply = write_frame(&mut worker.stdin, &[REQ_SELFTEST])
            .ok()
            .and_then(|_| read_frame(&mut worker.stdout, MAX_REPLY).ok().flatten());
        let _ = worker.child.kill();
        let _ = worker.child.wait();
        let frame = reply.ok_or_else(|| crash("the sandbox worker did not answer".into()))?;
        let mut r = Reader::new(&frame);
        let mut out = Vec::new();
        if r.u8().ok() == Some(RESP_OK) {
            while !r.done() {
                let (name, errno) = (r.str(), r.u32());
                match (name, errno) {
                    (Ok(n), Ok(e)) => out.push((n.to_string(), e)),
                    _ => return Err(crash("malformed self-test reply".into())),
                }
            }
            Ok(out)
        } else {
            RunFailure::read(&mut r)
                .map_or_else(|_| Err(crash("malformed self-test reply".into())), Err)
        }
    }

    /// Runs a backtest of `prog` in a worker and returns what the strategy did.
    pub fn run(
        &self,
        prog: &PythonProgram,
        params: &Params,
        config: &BacktestConfig,
        data: &SharedData,
        progress: &mut dyn FnMut(u64),
    ) -> Result<RunOutput, RunFailure> {
        let config = BacktestConfig {
            record: false,
            ..config.clone()
        };
        let mut w = Writer::default();
        w.u8(REQ_RUN).str(&prog.file).str(&prog.source);
        w.u32(params.len() as u32);
        for (k, v) in params {
            w.str(k).f64(*v);
        }
        w.config(&config);
        self.exchange(prog, w.0, Some(data), progress)
    }

    fn exchange(
        &self,
        prog: &PythonProgram,
        mut request: Vec<u8>,
        data: Option<&SharedData>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<RunOutput, RunFailure> {
        let mut worker = self.take()?;
        if let Some(d) = data {
            let mut w = Writer(std::mem::take(&mut request));
            w.u64(d.id).bool(worker.data != d.id);
            if worker.data != d.id {
                w.series(&d.series);
            }
            request = w.0;
        }
        let pid = worker.child.id() as libc::pid_t;
        let killed = Arc::new(AtomicBool::new(false));
        let (done, wait) = mpsc::channel::<()>();
        let wall = self.limits.run_wall;
        let flag = killed.clone();
        let watchdog = std::thread::spawn(move || {
            if wait.recv_timeout(wall) == Err(mpsc::RecvTimeoutError::Timeout) {
                flag.store(true, Ordering::SeqCst);
                // SAFETY: signals our own child, which has not been reaped (we wait on it
                // only after this thread is joined).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        });
        let mut too_large = false;
        let reply = (|| {
            write_frame(&mut worker.stdin, &request).ok()?;
            loop {
                let frame = match read_frame(&mut worker.stdout, MAX_REPLY) {
                    Ok(f) => f?,
                    Err(e) => {
                        too_large = e.kind() == std::io::ErrorKind::InvalidData;
                        return None;
                    }
                };
                if frame.first() == Some(&RESP_PROGRESS) {
                    let mut r = Reader::new(&frame[1..]);
                    progress(r.u64().ok()?);
                    continue;
                }
                return Some(frame);
            }
        })();
        let _ = done.send(());
        let _ = watchdog.join();
        let wall_killed = killed.load(Ordering::SeqCst);
        let Some(frame) = reply else {
            return Err(self.died(worker, wall_killed, too_large, &prog.file));
        };
        match decode(&frame, worker.isolation) {
            Ok(out) => {
                if let (Some(d), Ok(o)) = (data, &out) {
                    worker.data = d.id;
                    worker.busy += o.tenant_time;
                }
                if wall_killed {
                    // The kill landed after the reply: the reply stands, the worker is gone.
                    let _ = worker.child.wait();
                } else {
                    self.give_back(worker);
                }
                out
            }
            Err(why) => {
                let _ = worker.child.kill();
                let _ = worker.child.wait();
                Err(crash(format!(
                    "the sandbox worker sent a malformed reply ({why})"
                )))
            }
        }
    }

    fn died(
        &self,
        mut worker: Worker,
        wall_killed: bool,
        too_large: bool,
        file: &str,
    ) -> RunFailure {
        drop(worker.stdin);
        // It may still be alive (stuck writing a reply nobody reads): never wait on it alive.
        // A worker that already exited keeps its exit status; the kill does not change it.
        let _ = worker.child.kill();
        let status = worker.child.wait().ok();
        let code = status.and_then(|s| s.code());
        let signal = status.and_then(|s| s.signal());
        let l = &self.limits;
        let (kind, msg) = if too_large {
            (
                FailureKind::Limit,
                format!(
                    "output limit exceeded: the run's orders and log came to more than {} MiB",
                    MAX_REPLY >> 20
                ),
            )
        } else if wall_killed {
            (
                FailureKind::Limit,
                format!(
                    "wall-clock limit exceeded: the run took longer than {} s and was stopped",
                    l.run_wall.as_secs_f64()
                ),
            )
        } else if code == Some(EXIT_OUT_OF_MEMORY) {
            (
                FailureKind::Limit,
                format!(
                    "memory limit exceeded: the run needed more than {} MiB",
                    l.memory_bytes >> 20
                ),
            )
        } else if code == Some(EXIT_CALL_TIMEOUT) {
            (
                FailureKind::Limit,
                format!(
                    "time limit exceeded: one call ran far past its {} ms limit in an operation that cannot be interrupted (such as a huge power or repetition)",
                    l.call_time.as_millis()
                ),
            )
        } else if signal == Some(libc::SIGXCPU) {
            (
                FailureKind::Limit,
                "CPU-time limit of the sandbox worker exceeded".to_string(),
            )
        } else if signal == Some(libc::SIGSEGV) || signal == Some(libc::SIGBUS) {
            (FailureKind::Crash, "the interpreter crashed (stack overflow or memory fault); the run was stopped and nothing else was affected".to_string())
        } else if signal == Some(libc::SIGABRT) {
            (FailureKind::Crash, "the interpreter aborted (usually a memory allocation that could not be satisfied); the run was stopped and nothing else was affected".to_string())
        } else {
            (
                FailureKind::Crash,
                format!(
                    "the sandbox worker stopped unexpectedly ({}); the run was stopped and nothing else was affected",
                    status.map_or("unknown status".to_string(), |s| s.to_string())
                ),
            )
        };
        let mut f = RunFailure::new(kind, file, msg);
        if kind == FailureKind::Limit {
            f.function = None;
        }
        f
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for mut w in self
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
    }
}

fn crash(msg: String) -> RunFailure {
    RunFailure::new(FailureKind::Crash, "", msg)
}

fn decode(
    frame: &[u8],
    isolation: Isolation,
) -> Result<Result<RunOutput, RunFailure>, &'static str> {
    let mut r = Reader::new(frame);
    match r.u8().map_err(|m| m.0)? {
        RESP_OK if r.done() => Ok(Ok(RunOutput {
            ops: Vec::new(),
            log: String::new(),
            log_dropped: 0,
            tenant_time: Duration::ZERO,
            isolation,
        })),
        RESP_OK => {
            let ops = read_ops(&mut r).map_err(|m| m.0)?;
            let log = r.str().map_err(|m| m.0)?.to_string();
            let log_dropped = r.u64().map_err(|m| m.0)?;
            let tenant_time = Duration::from_nanos(r.u64().map_err(|m| m.0)?);
            Ok(Ok(RunOutput {
                ops,
                log,
                log_dropped,
                tenant_time,
                isolation,
            }))
        }
        RESP_FAIL => Ok(Err(RunFailure::read(&mut r).map_err(|m| m.0)?)),
        _ => Err("unknown reply"),
    }
}
