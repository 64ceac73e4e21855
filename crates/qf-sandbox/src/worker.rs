//! The sandbox worker: a `qf` process started in sandbox mode that runs tenant Python with
//! the engine loop inside it, so isolation costs one round trip per run, not per bar.
//!
//! Before it reads any tenant code the worker locks itself down:
//! - rlimits: no core files, no file writes, few descriptors, a CPU-time and an address-space
//!   ceiling;
//! - a fresh network namespace (no interfaces but a down loopback) where the kernel allows
//!   it, and in any case a seccomp filter that refuses sockets, `execve`, `fork`, `ptrace`,
//!   `kill` and every call that opens, creates or removes a file;
//! - the `monty-alloc` global allocator's ceiling (installed by the `qf` binary), so the
//!   interpreter raises `MemoryError` at its soft limit and the process exits with a known
//!   code at the hard one;
//! - a watchdog thread that ends the process if one call runs far past its time limit in
//!   an operation the interpreter cannot interrupt (`10 ** 10 ** 8`).
//!
//! The parent adds a wall-clock kill and turns every way a worker can die into a message.

use std::io::{self, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use qf_core::BarSeries;
use qf_engine::strategies::Params;

use crate::limits::{FailureKind, Limits, RunFailure};
use crate::ops::write_ops;
use crate::python::{self, run::PyStrategy};
use crate::wire::{MAX_FRAME, Malformed, Reader, Writer, read_frame, write_frame};

/// Exit code of a worker whose watchdog stopped a call that could not be interrupted.
pub const EXIT_CALL_TIMEOUT: i32 = 66;
/// Exit code of a worker that hit the memory ceiling (`monty-alloc`'s code).
pub const EXIT_OUT_OF_MEMORY: i32 = monty_types::OOM_EXIT_CODE;

pub(crate) const REQ_CHECK: u8 = 1;
pub(crate) const REQ_RUN: u8 = 2;
pub(crate) const RESP_OK: u8 = 1;
pub(crate) const RESP_FAIL: u8 = 2;
pub(crate) const RESP_PROGRESS: u8 = 3;
pub(crate) const RESP_HELLO: u8 = 4;

/// How locked-down a worker managed to make itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Isolation {
    /// Runs in its own network namespace.
    pub network_namespace: bool,
    /// The seccomp filter is installed.
    pub seccomp: bool,
    /// Memory is accounted by `monty-alloc` (else only the address-space rlimit holds).
    pub memory_accounting: bool,
}

static CALL_STARTED_MS: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static E: OnceLock<Instant> = OnceLock::new();
    *E.get_or_init(Instant::now)
}

/// Marks the start (`true`) or end of a call of tenant code, for the watchdog.
pub(crate) fn call_mark(start: bool) {
    let v = if start {
        epoch().elapsed().as_millis() as u64 + 1
    } else {
        0
    };
    CALL_STARTED_MS.store(v, Ordering::Relaxed);
}

/// Entry point of `qf` in sandbox-worker mode: serves requests on stdin/stdout until the
/// parent closes the pipe. `memory_bytes` is the worker's memory ceiling.
pub fn worker_main(limits: Limits) -> i32 {
    let isolation = harden(&limits);
    let memory_ceiling = if isolation.memory_accounting {
        Some(
            monty_types::BASELINE_MEMORY
                .load(Ordering::Relaxed)
                .saturating_add(limits.memory_bytes),
        )
    } else {
        None
    };
    start_watchdog(limits.call_time);
    let mut input = io::stdin().lock();
    let mut output = io::stdout().lock();
    let mut w = Writer::default();
    w.u8(RESP_HELLO)
        .bool(isolation.network_namespace)
        .bool(isolation.seccomp)
        .bool(isolation.memory_accounting);
    if write_frame(&mut output, &w.0).is_err() {
        return 1;
    }
    let mut data: Option<(u64, Vec<BarSeries>)> = None;
    loop {
        let frame = match read_frame(&mut input, MAX_FRAME) {
            Ok(Some(f)) => f,
            Ok(None) => return 0,
            Err(_) => return 1,
        };
        let reply = match serve(&frame, &mut data, limits, memory_ceiling, &mut output) {
            Ok(reply) => reply,
            Err(Malformed(what)) => {
                let mut w = Writer::default();
                w.u8(RESP_FAIL);
                RunFailure::new(
                    FailureKind::Crash,
                    "",
                    format!("malformed request ({what})"),
                )
                .write(&mut w);
                w.0
            }
        };
        if write_frame(&mut output, &reply).is_err() {
            return 1;
        }
    }
}

fn serve(
    frame: &[u8],
    data: &mut Option<(u64, Vec<BarSeries>)>,
    limits: Limits,
    memory_ceiling: Option<usize>,
    out: &mut impl Write,
) -> Result<Vec<u8>, Malformed> {
    let mut r = Reader::new(frame);
    let tag = r.u8()?;
    let file = r.str()?.to_string();
    let source = r.str()?.to_string();
    let mut w = Writer::default();
    let prog = match python::check(&file, &source) {
        Ok(p) => p,
        Err(d) => {
            let first = &d.0[0];
            let mut f = RunFailure::new(FailureKind::Compile, &file, first.message.clone());
            f.line = first.line;
            f.col = first.col;
            f.source_line = first.source_line.clone();
            w.u8(RESP_FAIL);
            f.write(&mut w);
            return Ok(w.0);
        }
    };
    let runner = match python::run::compile(&prog) {
        Ok(r) => r,
        Err(f) => {
            w.u8(RESP_FAIL);
            f.write(&mut w);
            return Ok(w.0);
        }
    };
    if tag == REQ_CHECK {
        w.u8(RESP_OK);
        return Ok(w.0);
    }
    if tag != REQ_RUN {
        return Err(Malformed("request"));
    }
    let n = r.u32()? as usize;
    let mut params = Params::new();
    for _ in 0..n {
        let k = r.str()?.to_string();
        params.insert(k, r.f64()?);
    }
    let config = r.config()?;
    let data_id = r.u64()?;
    if r.bool()? {
        *data = Some((data_id, r.series()?));
    }
    let Some((id, series)) = data.as_ref() else {
        return Err(Malformed("no data"));
    };
    if *id != data_id {
        return Err(Malformed("stale data"));
    }
    let mut strategy = PyStrategy::new(&prog, runner, params, limits, memory_ceiling);
    let mut progress = |bars: u64| {
        let mut p = Writer::default();
        p.u8(RESP_PROGRESS).u64(bars);
        let _ = write_frame(out, &p.0);
    };
    let outcome = qf_engine::run_backtest(&config, series, &mut strategy, Some(&mut progress));
    match (outcome, strategy.failure.take()) {
        (Ok(_), _) => {
            w.u8(RESP_OK);
            write_ops(&mut w, &strategy.ops);
            w.str(&strategy.log.text)
                .u64(strategy.log.dropped)
                .u64(strategy.python_time.as_nanos() as u64);
        }
        (Err(_), Some(f)) => {
            w.u8(RESP_FAIL);
            f.write(&mut w);
        }
        (Err(e), None) => {
            w.u8(RESP_FAIL);
            RunFailure::new(FailureKind::Exception, &file, e.to_string()).write(&mut w);
        }
    }
    Ok(w.0)
}

fn start_watchdog(call_time: Duration) {
    // Generous: the interpreter stops an ordinary over-long call itself at `call_time`;
    // the watchdog is for operations it cannot interrupt.
    let grace = call_time.saturating_mul(2) + Duration::from_secs(1);
    let _ = std::thread::Builder::new()
        .name("qf-sandbox-watchdog".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(20));
                let started = CALL_STARTED_MS.load(Ordering::Relaxed);
                if started != 0 {
                    let now = epoch().elapsed().as_millis() as u64 + 1;
                    if now.saturating_sub(started) > grace.as_millis() as u64 {
                        // SAFETY: `_exit` ends the process at once; nothing is left to unwind
                        // that the parent relies on.
                        unsafe { libc::_exit(EXIT_CALL_TIMEOUT) };
                    }
                }
            }
        });
}

#[cfg(target_os = "linux")]
fn harden(limits: &Limits) -> Isolation {
    let mut iso = Isolation::default();
    let set = |res, soft: u64, hard: u64| {
        let lim = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: plain syscall with a valid pointer to a local.
        unsafe { libc::setrlimit(res, &lim) == 0 }
    };
    set(libc::RLIMIT_CORE, 0, 0);
    set(libc::RLIMIT_FSIZE, 0, 0);
    set(libc::RLIMIT_NOFILE, 16, 16);
    let cpu = (limits.run_cpu.as_secs() + 60).saturating_mul(4).max(600);
    set(libc::RLIMIT_CPU, cpu, cpu + 10);
    let address_space = (limits.memory_bytes as u64)
        .saturating_mul(2)
        .saturating_add(2 << 30);
    set(libc::RLIMIT_AS, address_space, address_space);
    // SAFETY: unshare only affects this process.
    iso.network_namespace = unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0
        || unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } == 0;
    iso.memory_accounting = monty_alloc::set_limit(Some(limits.memory_bytes), false).is_ok();
    epoch();
    iso.seccomp = seccomp::install().is_ok();
    iso
}

#[cfg(not(target_os = "linux"))]
fn harden(limits: &Limits) -> Isolation {
    Isolation {
        memory_accounting: monty_alloc::set_limit(Some(limits.memory_bytes), false).is_ok(),
        ..Isolation::default()
    }
}

#[cfg(target_os = "linux")]
mod seccomp {
    //! A classic-BPF seccomp filter: refuse, with `EPERM`, the system calls tenant code
    //! must never reach even if it escaped the interpreter; allow everything else.

    const DENY: &[libc::c_long] = &[
        libc::SYS_socket,
        libc::SYS_socketpair,
        libc::SYS_connect,
        libc::SYS_bind,
        libc::SYS_listen,
        libc::SYS_accept,
        libc::SYS_accept4,
        libc::SYS_execve,
        libc::SYS_execveat,
        libc::SYS_fork,
        libc::SYS_vfork,
        libc::SYS_ptrace,
        libc::SYS_kill,
        libc::SYS_open,
        libc::SYS_openat,
        libc::SYS_openat2,
        libc::SYS_creat,
        libc::SYS_unlink,
        libc::SYS_unlinkat,
        libc::SYS_rename,
        libc::SYS_renameat,
        libc::SYS_renameat2,
        libc::SYS_mkdir,
        libc::SYS_mkdirat,
        libc::SYS_rmdir,
        libc::SYS_chmod,
        libc::SYS_fchmodat,
        libc::SYS_truncate,
        libc::SYS_link,
        libc::SYS_linkat,
        libc::SYS_symlink,
        libc::SYS_symlinkat,
        libc::SYS_mount,
        libc::SYS_setns,
        libc::SYS_unshare,
    ];

    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xC000_00B7;

    const BPF_LD_W_ABS: u16 = 0x20;
    const BPF_JEQ_K: u16 = 0x15;
    const BPF_RET_K: u16 = 0x06;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_KILL: u32 = 0x8000_0000;
    const RET_ERRNO: u32 = 0x0005_0000;

    fn stmt(code: u16, k: u32) -> libc::sock_filter {
        libc::sock_filter {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    fn jeq(k: u32, jt: u8, jf: u8) -> libc::sock_filter {
        libc::sock_filter {
            code: BPF_JEQ_K,
            jt,
            jf,
            k,
        }
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    pub fn install() -> Result<(), ()> {
        let mut prog = vec![
            // seccomp_data.arch at offset 4: another ABI is killed outright.
            stmt(BPF_LD_W_ABS, 4),
            jeq(AUDIT_ARCH, 1, 0),
            stmt(BPF_RET_K, RET_KILL),
            // seccomp_data.nr at offset 0.
            stmt(BPF_LD_W_ABS, 0),
        ];
        for &nr in DENY {
            prog.push(jeq(nr as u32, 0, 1));
            prog.push(stmt(BPF_RET_K, RET_ERRNO | libc::EPERM as u32));
        }
        prog.push(stmt(BPF_RET_K, RET_ALLOW));
        let fprog = libc::sock_fprog {
            len: prog.len() as u16,
            filter: prog.as_mut_ptr(),
        };
        // SAFETY: prctl with a pointer to a filter that lives across the call; the kernel
        // copies it.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(());
            }
            if libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &fprog as *const libc::sock_fprog,
            ) != 0
            {
                return Err(());
            }
        }
        Ok(())
    }

    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub fn install() -> Result<(), ()> {
        Err(())
    }
}
