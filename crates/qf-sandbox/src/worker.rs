//! The sandbox worker: a `qf` process started in sandbox mode that runs tenant Python with
//! the engine loop inside it, so isolation costs one round trip per run, not per bar.
//!
//! Before it reads any tenant code the worker locks itself down (Linux):
//! - closes every descriptor but stdin, stdout and stderr, and asks to be killed if the
//!   parent dies;
//! - rlimits: no core files, no file writes, few descriptors, a CPU-time and an address-space
//!   ceiling;
//! - a fresh network namespace (no interfaces but a down loopback) where the kernel allows it;
//! - when started as root, drops to `nobody` with no capabilities, so it cannot signal, trace
//!   or read the memory of the parent or of other workers; it is also made non-dumpable;
//! - a seccomp *allowlist*: reading and writing its pipes, memory management (never
//!   executable), futexes, signals to itself, clocks, sleeping, exiting. Everything else —
//!   sockets, files, `execve`, new processes or threads, namespaces, `io_uring`, other
//!   processes — fails with `EPERM`; another ABI or the x32 range kills the process. A worker
//!   that cannot install the filter refuses to run tenant code;
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
/// CPU seconds a worker may use over its whole life (a backstop: the pool retires workers
/// well before, by the CPU their runs used).
pub const WORKER_CPU_SECONDS: u64 = 3600;

/// Exit code of a worker that hit the memory ceiling (`monty-alloc`'s code).
pub const EXIT_OUT_OF_MEMORY: i32 = monty_types::OOM_EXIT_CODE;

pub(crate) const REQ_CHECK: u8 = 1;
pub(crate) const REQ_RUN: u8 = 2;
pub(crate) const RESP_OK: u8 = 1;
pub(crate) const RESP_FAIL: u8 = 2;
pub(crate) const RESP_PROGRESS: u8 = 3;
pub(crate) const RESP_HELLO: u8 = 4;
pub(crate) const REQ_SELFTEST: u8 = 9;

/// Whether a worker must have its seccomp filter to run tenant code.
const SECCOMP_REQUIRED: bool = cfg!(all(target_os = "linux", target_arch = "x86_64"));

/// How locked-down a worker managed to make itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Isolation {
    /// Runs in its own network namespace.
    pub network_namespace: bool,
    /// The seccomp filter is installed.
    pub seccomp: bool,
    /// Memory is accounted by `monty-alloc` (else only the address-space rlimit holds).
    pub memory_accounting: bool,
    /// Runs without root and without capabilities.
    pub unprivileged: bool,
}

/// What the worker's own system calls get after lockdown: `(call, errno)`, 0 meaning it
/// succeeded. Answers [`REQ_SELFTEST`], for tests of the filter itself.
fn selftest() -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(RESP_OK);
    let errno = || io::Error::last_os_error().raw_os_error().unwrap_or(0) as u32;
    #[cfg(target_os = "linux")]
    {
        let path = c"/etc/hostname";
        // SAFETY: plain system calls with valid arguments; every result is only inspected.
        let results: [(&str, i64); 5] = unsafe {
            [
                (
                    "socket",
                    libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) as i64,
                ),
                ("open", libc::open(path.as_ptr(), libc::O_RDONLY) as i64),
                ("fork", {
                    let r =
                        libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_long, 0, 0, 0, 0);
                    if r == 0 {
                        libc::_exit(0);
                    }
                    r
                }),
                ("kill_parent", libc::kill(libc::getppid(), 0) as i64),
                (
                    "exec_memory",
                    libc::mprotect(std::ptr::null_mut(), 0, libc::PROT_EXEC) as i64,
                ),
            ]
        };
        for (name, r) in results {
            w.str(name).u32(if r < 0 { errno() } else { 0 });
        }
    }
    let _ = errno;
    w.0
}

static CALL_STARTED_MS: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static E: OnceLock<Instant> = OnceLock::new();
    *E.get_or_init(Instant::now)
}

/// Marks that a call of tenant code started at `at` (`Some`) or ended (`None`), for the
/// watchdog. Takes the caller's clock reading so a call costs no extra one.
pub(crate) fn call_mark(at: Option<Instant>) {
    let v = at.map_or(0, |t| {
        t.saturating_duration_since(epoch()).as_millis() as u64 + 1
    });
    CALL_STARTED_MS.store(v, Ordering::Relaxed);
}

/// Entry point of `qf` in sandbox-worker mode: serves requests on stdin/stdout until the
/// parent closes the pipe. `memory_bytes` is the worker's memory ceiling.
pub fn worker_main(limits: Limits) -> i32 {
    // The watchdog thread must exist before the filter forbids creating threads.
    start_watchdog(limits.call_time);
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
    let mut input = io::stdin().lock();
    let mut output = io::stdout().lock();
    let mut w = Writer::default();
    w.u8(RESP_HELLO)
        .bool(isolation.network_namespace)
        .bool(isolation.seccomp)
        .bool(isolation.memory_accounting)
        .bool(isolation.unprivileged);
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
        let reply = if SECCOMP_REQUIRED && !isolation.seccomp {
            let mut w = Writer::default();
            w.u8(RESP_FAIL);
            RunFailure::new(
                FailureKind::Crash,
                "",
                "the sandbox could not be set up (the seccomp filter was refused by the kernel); tenant code is not run without it",
            )
            .write(&mut w);
            Ok(w.0)
        } else if frame.first() == Some(&REQ_SELFTEST) {
            Ok(selftest())
        } else {
            serve(frame, &mut data, limits, memory_ceiling, &mut output)
        };
        let reply = match reply {
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
    frame: Vec<u8>,
    data: &mut Option<(u64, Vec<BarSeries>)>,
    limits: Limits,
    memory_ceiling: Option<usize>,
    out: &mut impl Write,
) -> Result<Vec<u8>, Malformed> {
    let mut r = Reader::new(&frame);
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
    // The request (bars included) is decoded: free it before the run, so every run of the
    // same strategy has the same memory to work with.
    drop(frame);
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
    // SAFETY: plain system calls on this process with valid arguments.
    unsafe {
        // Nothing inherited from the parent but the three standard descriptors.
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
    }
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
    set(
        libc::RLIMIT_CPU,
        WORKER_CPU_SECONDS,
        WORKER_CPU_SECONDS + 10,
    );
    let address_space = (limits.memory_bytes as u64)
        .saturating_mul(2)
        .saturating_add(2 << 30);
    set(libc::RLIMIT_AS, address_space, address_space);
    // SAFETY: unshare only affects this process.
    iso.network_namespace = unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0
        || unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } == 0;
    // SAFETY: dropping privileges of this process; the results are checked.
    unsafe {
        if libc::geteuid() == 0 {
            let nobody: libc::uid_t = 65534;
            let ok = libc::setgroups(0, std::ptr::null()) == 0
                && libc::setresgid(nobody, nobody, nobody) == 0
                && libc::setresuid(nobody, nobody, nobody) == 0;
            iso.unprivileged = ok && libc::geteuid() != 0;
        } else {
            iso.unprivileged = true;
        }
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
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
    //! A classic-BPF seccomp allowlist: the few system calls a worker needs after lockdown.
    //! Everything else fails with `EPERM`; another ABI, or a call number in the x32 range,
    //! kills the process. Tenant code never makes system calls itself (the interpreter has
    //! no way to); this is the wall behind the interpreter, should it ever be broken.

    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E;

    #[cfg(target_arch = "x86_64")]
    const ALLOW: &[libc::c_long] = &[
        libc::SYS_read,
        libc::SYS_write,
        libc::SYS_readv,
        libc::SYS_writev,
        libc::SYS_close,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_brk,
        libc::SYS_madvise,
        libc::SYS_futex,
        libc::SYS_rt_sigaction,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigreturn,
        libc::SYS_sigaltstack,
        libc::SYS_clock_gettime,
        libc::SYS_clock_getres,
        libc::SYS_gettimeofday,
        libc::SYS_clock_nanosleep,
        libc::SYS_nanosleep,
        libc::SYS_sched_yield,
        libc::SYS_getrandom,
        libc::SYS_getpid,
        libc::SYS_gettid,
        libc::SYS_getrusage,
        libc::SYS_exit,
        libc::SYS_exit_group,
    ];

    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JGE_K: u16 = 0x35;
    const JSET_K: u16 = 0x45;
    const RET_K: u16 = 0x06;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_KILL: u32 = 0x8000_0000;
    const RET_EPERM: u32 = 0x0005_0000 | libc::EPERM as u32;
    /// Offsets in `struct seccomp_data`: nr, arch, then args[i] at 16 + 8 i (low word).
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    const fn arg(i: u32) -> u32 {
        16 + 8 * i
    }

    fn stmt(code: u16, k: u32) -> libc::sock_filter {
        libc::sock_filter {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
        libc::sock_filter { code, jt, jf, k }
    }

    /// The filter program for a process whose pid is `pid`.
    #[cfg(target_arch = "x86_64")]
    pub(super) fn program(pid: u32) -> Vec<libc::sock_filter> {
        let mut p = vec![
            stmt(LD_W_ABS, ARCH),
            jump(JEQ_K, AUDIT_ARCH, 1, 0),
            stmt(RET_K, RET_KILL),
            stmt(LD_W_ABS, NR),
            jump(JGE_K, 0x4000_0000, 0, 1),
            stmt(RET_K, RET_KILL),
        ];
        // mmap and mprotect, never executable.
        for nr in [libc::SYS_mmap, libc::SYS_mprotect] {
            p.extend([
                jump(JEQ_K, nr as u32, 0, 4),
                stmt(LD_W_ABS, arg(2)),
                jump(JSET_K, libc::PROT_EXEC as u32, 1, 0),
                stmt(RET_K, RET_ALLOW),
                stmt(RET_K, RET_EPERM),
            ]);
        }
        // Signals only to itself (abort raises SIGABRT with tgkill).
        p.extend([
            jump(JEQ_K, libc::SYS_tgkill as u32, 0, 4),
            stmt(LD_W_ABS, arg(0)),
            jump(JEQ_K, pid, 0, 1),
            stmt(RET_K, RET_ALLOW),
            stmt(RET_K, RET_EPERM),
        ]);
        for &nr in ALLOW {
            p.push(jump(JEQ_K, nr as u32, 0, 1));
            p.push(stmt(RET_K, RET_ALLOW));
        }
        p.push(stmt(RET_K, RET_EPERM));
        p
    }

    #[cfg(target_arch = "x86_64")]
    pub fn install() -> Result<(), ()> {
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() } as u32;
        let mut prog = program(pid);
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

    #[cfg(not(target_arch = "x86_64"))]
    pub fn install() -> Result<(), ()> {
        let _ = (
            stmt, jump, arg, NR, ARCH, LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K, RET_ALLOW, RET_KILL,
            RET_EPERM,
        );
        Err(())
    }
}
