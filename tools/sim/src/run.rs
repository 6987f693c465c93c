//! One run of a system: set up guest RAM, QEMU and the PD processes,
//! route events until the verdict, then tear everything down.

use crate::config::{self, SimDescription};
use crate::console::{self, LineBuffer};
use crate::layout::{self, PdMap};
use crate::procs::{self, PdProc};
use crate::qemu::{self, Launch};
use crate::qtest::{Qtest, QtestEvent};
use crate::router::{Effect, PdId, Router, fault_label};
use crate::timer::SimTimer;
use sevio_runtime::generic_timer::PHYSICAL_TIMER_INTID;
use sevio_runtime::hosted::wire::{PdMsg, RAM_SIZE, SimMsg, monotonic_ns};
use sevio_sdf::System;
use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

/// What the event loop reacts to.
#[derive(Debug)]
pub enum Input {
    /// A message from a PD.
    Pd(PdId, PdMsg),
    /// A PD sent something that does not decode.
    PdBad(PdId, String),
    /// A PD's socket closed: it has exited or been killed.
    PdClosed(PdId),
    /// An intercepted interrupt line changed: its new level waits in the
    /// session's queue of levels (taken in QEMU's order, see
    /// [`Session::take_irq_levels`]).
    IrqChanged,
    /// QEMU's qtest connection closed.
    QemuGone,
    /// sim got SIGINT, SIGTERM or SIGHUP.
    Signal(i32),
}

/// How to run.
#[derive(Debug)]
pub struct Options {
    /// The system description.
    pub system: PathBuf,
    /// The sim description (default: `<stem>.sim.toml` beside the system, if present).
    pub sim: Option<PathBuf>,
    /// Where the PDs' host executables are.
    pub pd_dir: PathBuf,
    /// Give up after this long.
    pub timeout: Duration,
    /// The QEMU binary.
    pub qemu: PathBuf,
    /// Fault injection: `(pd, text)`: when `pd` prints a line containing
    /// `text`, sim kills it as if it had faulted (VMFault), so the fault
    /// reaches its parent as on seL4. For testing fault containment and
    /// restart. Each rule fires once; a rule given n times fires on n
    /// such lines (a restarted PD prints its bring-up lines again).
    pub faults: Vec<(String, String)>,
    /// `--fault-random`: kill one PD at random moments.
    pub random_faults: Option<RandomFaults>,
    /// Interrupts to stop delivering (`--hold-irq`).
    pub holds: Vec<Hold>,
    /// After the verdict is PASS, keep the system running this long (to
    /// see what it does next; a FAIL meanwhile still fails the run).
    pub linger: Duration,
    /// At the end, print every notification count by sender and receiver
    /// and every IRQ count by line (`--profile`).
    pub profile: bool,
}

/// `--fault-random PD=N[@SEED]`: kill `pd` `count` times, each at a
/// moment drawn from [`RANDOM_FAULT_AFTER`] to that plus
/// [`RANDOM_FAULT_WITHIN`] after it (re)starts: the kill lands wherever
/// the PD happens to be (late in bring-up, mid-request, halfway through
/// writing shared memory), as a fault of a real PD can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RandomFaults {
    /// The PD's name.
    pub pd: String,
    /// How many kills.
    pub count: u32,
    /// The generator's seed (`None`: from the clock; printed either way).
    pub seed: Option<u64>,
}

/// When the window of a random fault opens after a (re)start, and how
/// long it is. A driver's restart and bring-up take some 60 to 70 ms in
/// sim: the window straddles its end, so kills fall in bring-up and in
/// the middle of its work, and a PD under load never gets much done
/// between two kills.
pub const RANDOM_FAULT_AFTER: Duration = Duration::from_millis(40);
/// See [`RANDOM_FAULT_AFTER`].
pub const RANDOM_FAULT_WITHIN: Duration = Duration::from_millis(80);

/// `--fault-random` in force.
struct RandomKills {
    pd: PdId,
    total: u32,
    done: u32,
    rng: u64,
    seed: u64,
    /// When the next kill is due (none while the PD is down).
    next_at: Option<Instant>,
}

impl RandomKills {
    /// Arm the next kill, if any are left, from `now`.
    fn arm(&mut self, now: Instant) {
        if self.done >= self.total {
            return;
        }
        // xorshift64: spread, not secrecy.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let window = RANDOM_FAULT_WITHIN.as_micros() as u64;
        self.next_at = Some(now + RANDOM_FAULT_AFTER + Duration::from_micros(self.rng % window));
    }
}

/// `--hold-irq WHO[=TEXT]`: an interrupt sim stops delivering, as if the
/// device never raised it (fault injection: a device that stops
/// answering).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// A PD's name (every line it owns) or an INTID.
    pub who: String,
    /// Hold from when any PD prints a line containing this; `None`: from
    /// the start.
    pub after: Option<String>,
}

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every expected PD passed.
    Pass(String),
    /// A failure, a fault of an expected PD, a timeout or an interruption.
    Fail(String),
}

/// Everything a run owns outside the process; all of it is gone after
/// drop, however the run ended.
#[derive(Default)]
struct Resources {
    pds: Vec<PdProc>,
    qemu: Option<Child>,
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

/// How long QEMU gets to shut down cleanly before it is killed.
const QEMU_GRACE: Duration = Duration::from_secs(5);

/// Stop QEMU the way its own `quit` would: SIGTERM makes it shut down
/// cleanly, so backends finish their files (the wav audiodev writes its
/// buffered frames and the RIFF sizes only then); one that lingers past
/// [`QEMU_GRACE`] is killed.
fn stop_qemu(q: &mut Child) {
    if let Ok(None) = q.try_wait() {
        // SAFETY: kill(2) on the pid of a child this process started and
        // has not reaped (try_wait said it is running), so the pid still
        // names it; no memory is involved.
        unsafe { libc::kill(q.id() as libc::pid_t, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < QEMU_GRACE {
            if let Ok(Some(_)) = q.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = q.kill();
    let _ = q.wait();
}

impl Resources {
    /// Remove the files now: QEMU and every PD hold what they need open.
    fn remove_files(&mut self) {
        for f in self.files.drain(..) {
            let _ = std::fs::remove_file(f);
        }
        for d in self.dirs.drain(..) {
            let _ = std::fs::remove_dir_all(d);
        }
    }

    /// Kill every process and wait for it; wait for their output too.
    /// CPU time (user + system) each PD process and QEMU have used so
    /// far, in ms (`--profile`); `None` where /proc does not say.
    fn cpu_ms(&self) -> (Vec<Option<u64>>, Option<u64>) {
        let pds = self.pds.iter().map(|p| cpu_ms(&format!("/proc/{}/stat", p.child.id()))).collect();
        (pds, self.qemu.as_ref().and_then(|q| cpu_ms(&format!("/proc/{}/stat", q.id()))))
    }

    fn shut_down(&mut self) {
        for p in &mut self.pds {
            let _ = p.child.kill();
        }
        if let Some(q) = &mut self.qemu {
            stop_qemu(q);
        }
        for p in &mut self.pds {
            let _ = p.child.wait();
            for echo in p.echoes.drain(..) {
                let _ = echo.join();
            }
        }
    }
}

impl Drop for Resources {
    fn drop(&mut self) {
        self.shut_down();
        self.remove_files();
    }
}

/// User + system CPU time in ms from a `/proc/<pid>/stat` file (fields
/// 14 and 15, after the command name in parentheses, in clock ticks).
fn cpu_ms(stat: &str) -> Option<u64> {
    parse_cpu_ms(&std::fs::read_to_string(stat).ok()?, clock_ticks_per_s())
}

fn clock_ticks_per_s() -> u64 {
    // SAFETY: sysconf reads a constant of the system; no memory is involved.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

fn parse_cpu_ms(stat: &str, ticks_per_s: u64) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After the name: state is field 3, utime field 14, stime field 15.
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) * 1000 / ticks_per_s.max(1))
}

fn unique_name() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("sevio-sim.{}.{nanos:x}", std::process::id())
}

fn load_description(opts: &Options, system: &System) -> Result<SimDescription, String> {
    let names: Vec<&str> = system.pds.iter().map(|p| p.name.as_str()).collect();
    match &opts.sim {
        Some(path) => config::load(path, &names),
        None => {
            let path = config::default_path(&opts.system);
            if path.exists() { config::load(&path, &names) } else { Ok(SimDescription::default()) }
        }
    }
}

/// The host executable of every PD, or an error naming the first missing one.
fn find_images(system: &System, pd_dir: &Path) -> Result<Vec<PathBuf>, String> {
    system
        .pds
        .iter()
        .map(|pd| {
            let exe = pd_dir.join(&pd.program_image);
            if exe.is_file() {
                Ok(exe)
            } else {
                Err(format!(
                    "PD '{}': program image '{}' not found: looked for {} (build the PD for the host, or give --pd-dir)",
                    pd.name,
                    pd.program_image,
                    exe.display()
                ))
            }
        })
        .collect()
}

/// Run the system; `Err` is a setup problem (bad input, QEMU missing, ...).
pub fn run(opts: &Options) -> Result<Outcome, String> {
    let system = sevio_sdf::load(&opts.system).map_err(|e| match e {
        sevio_sdf::LoadError::Invalid(_) => {
            format!("{} is not a valid system description:\n{e}", opts.system.display())
        }
        other => other.to_string(),
    })?;
    let desc = load_description(opts, &system)?;
    let layout = layout::lay_out(&system)?;
    let mut images = find_images(&system, &opts.pd_dir)?;
    let needs_qemu = layout.uses_devices || !desc.devices.is_empty() || !desc.qemu_args.is_empty();

    let mut res = Resources::default();
    let run_dir = std::env::temp_dir().join(unique_name());
    std::fs::DirBuilder::new().mode(0o700).create(&run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
    res.dirs.push(run_dir.clone());
    crate::sections::apply(&mut images, &system, &desc, &run_dir)?;
    let shm = Path::new("/dev/shm");
    let ram_path = if shm.is_dir() { shm.join(unique_name()) } else { run_dir.join("ram") };
    let ram = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&ram_path)
        .map_err(|e| format!("{}: {e}", ram_path.display()))?;
    res.files.push(ram_path.clone());
    ram.set_len(RAM_SIZE).map_err(|e| format!("{}: {e}", ram_path.display()))?;

    let (tx, rx) = channel();
    watch_signals(tx.clone())?;

    let mut qtest = None;
    let mut qmp = None;
    let (levels_tx, irq_levels) = channel();
    if needs_qemu {
        let sink_tx = std::sync::Mutex::new((tx.clone(), levels_tx));
        let sink = move |e: QtestEvent| {
            let Ok(sink) = sink_tx.lock() else { return };
            let (inputs, levels) = &*sink;
            let input = match e {
                QtestEvent::Irq { spi, high } => {
                    let _ = levels.send((spi, high));
                    Input::IrqChanged
                }
                QtestEvent::Closed => Input::QemuGone,
            };
            let _ = inputs.send(input);
        };
        let launch = Launch { qemu: &opts.qemu, ram_file: &ram_path, run_dir: &run_dir, desc: &desc };
        match qemu::start(&launch, sink) {
            Ok(q) => {
                res.qemu = Some(q.child);
                qtest = Some(q.qtest);
                qmp = q.qmp;
            }
            Err((e, child)) => {
                res.qemu = child;
                return Err(e);
            }
        }
    }
    for (i, exe) in images.iter().enumerate() {
        let pd = procs::spawn_pd(i, exe, ram.as_raw_fd(), &layout.setups[i], &tx)?;
        res.pds.push(pd);
    }
    // `ram` stays open: a restarted PD maps guest RAM again.
    res.remove_files();
    console::sim(&format!(
        "{}: {} PDs, {}",
        opts.system.display(),
        system.pds.len(),
        if needs_qemu { format!("QEMU with {} device(s)", desc.devices.len()) } else { "no devices".into() }
    ));

    let expect =
        desc.expect_pass.as_ref().map(|names| names.iter().filter_map(|n| system.pd_index(n)).collect::<Vec<_>>());
    let expect_fail: Vec<PdId> = desc.expect_fail.iter().filter_map(|n| system.pd_index(n)).collect();
    let mut session = Session {
        router: Router::new(&system),
        system,
        maps: layout.maps,
        restart: Respawn { images, setups: layout.setups, ram, inputs: tx },
        restarting: Vec::new(),
        qtest,
        qmp,
        screendump: desc.screendump.as_ref().map(|f| desc.base_dir.join(f)),
        doomed: Vec::new(),
        panics: Vec::new(),
        lines: Vec::new(),
        passed: Vec::new(),
        expect,
        outcome: None,
        faults: Vec::new(),
        holds: Vec::new(),
        random: None,
        expect_fail,
        failed: Vec::new(),
        timer: SimTimer::default(),
        res,
        profile: opts.profile,
        irq_levels,
    };
    for (name, text) in &opts.faults {
        match session.system.pds.iter().position(|p| &p.name == name) {
            Some(pd) => session.faults.push((pd, text.clone())),
            None => return Err(format!("--fault names PD '{name}', which system.xml does not have")),
        }
    }
    if let Some(r) = &opts.random_faults {
        let Some(pd) = session.system.pd_index(&r.pd) else {
            return Err(format!("--fault-random names PD '{}', which system.xml does not have", r.pd));
        };
        let seed = r.seed.unwrap_or_else(|| monotonic_ns() ^ u64::from(std::process::id()) << 32);
        console::sim(&format!(
            "random faults: {} kill(s) of {}, each {} to {} ms after it starts, seed {seed:#x}",
            r.count,
            r.pd,
            RANDOM_FAULT_AFTER.as_millis(),
            (RANDOM_FAULT_AFTER + RANDOM_FAULT_WITHIN).as_millis()
        ));
        let mut kills = RandomKills { pd, total: r.count, done: 0, rng: seed | 1, seed, next_at: None };
        kills.arm(Instant::now());
        session.random = Some(kills);
    }
    for hold in &opts.holds {
        let intids = match (hold.who.parse::<u32>(), session.system.pd_index(&hold.who)) {
            (_, Some(pd)) => session.router.intids_of(pd),
            (Ok(intid), None) => vec![intid],
            (Err(_), None) => return Err(format!("--hold-irq names '{}', neither a PD nor an INTID", hold.who)),
        };
        if intids.is_empty() {
            return Err(format!("--hold-irq {}: no PD owns such an interrupt", hold.who));
        }
        match &hold.after {
            Some(text) => session.holds.push((intids, text.clone())),
            None => session.hold(&intids),
        }
    }
    let n = session.system.pds.len();
    session.doomed.resize(n, None);
    session.panics.resize(n, None);
    session.lines.resize_with(n, LineBuffer::default);
    session.passed.resize(n, false);
    session.restarting.resize(n, false);
    session.failed.resize(n, false);
    Ok(session.run(rx, opts.timeout, opts.linger))
}

fn watch_signals(tx: Sender<Input>) -> Result<(), String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]).map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let _ = tx.send(Input::Signal(sig));
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// What starting a PD again takes: the same image, setup (maps,
/// setvars) and guest RAM as the first time.
struct Respawn {
    images: Vec<PathBuf>,
    setups: Vec<sevio_runtime::hosted::wire::Setup>,
    ram: std::fs::File,
    inputs: Sender<Input>,
}

struct Session {
    system: System,
    router: Router,
    maps: Vec<Vec<PdMap>>,
    restart: Respawn,
    /// A PD its parent asked to restart while its process still ran
    /// (judged hung): started again when the process is gone, and its
    /// end is no fault.
    restarting: Vec<bool>,
    qtest: Option<Qtest>,
    /// QMP, for the screendump at the end.
    qmp: Option<std::os::unix::net::UnixStream>,
    /// Where to write it (the sim description's `screendump`).
    screendump: Option<PathBuf>,
    /// Why sim killed a PD (reported when its socket closes), with the fault label.
    doomed: Vec<Option<(String, u64)>>,
    /// A PD's own panic report.
    panics: Vec<Option<String>>,
    lines: Vec<LineBuffer>,
    passed: Vec<bool>,
    expect: Option<Vec<PdId>>,
    outcome: Option<Outcome>,
    /// Fault injection rules: (pd, text).
    faults: Vec<(PdId, String)>,
    /// `--hold-irq` rules not yet in force: (INTIDs, text).
    holds: Vec<(Vec<u32>, String)>,
    /// `--fault-random`, if given.
    random: Option<RandomKills>,
    /// PDs whose FAIL is the expected outcome (`expect_fail`), and
    /// whether they have reported it.
    expect_fail: Vec<PdId>,
    failed: Vec<bool>,
    /// The machine's generic timer (INTID 30).
    timer: SimTimer,
    res: Resources,
    /// `--profile`: print the signal counts at the end.
    profile: bool,
    /// Interrupt line levels from QEMU, in its order.
    irq_levels: Receiver<(u32, bool)>,
}

impl Session {
    fn run(mut self, rx: Receiver<Input>, timeout: Duration, linger: Duration) -> Outcome {
        let mut deadline = Instant::now() + timeout;
        // A PASS reached while lingering waits here until the linger time
        // is over; a FAIL meanwhile replaces it.
        let mut held: Option<Outcome> = None;
        let mut lingered = linger.is_zero();
        loop {
            match self.outcome.take() {
                Some(pass @ Outcome::Pass(_)) if !lingered => {
                    lingered = true;
                    held = Some(pass);
                    deadline = Instant::now() + linger;
                }
                Some(outcome) => {
                    self.outcome = Some(outcome);
                    break;
                }
                None => {}
            }
            self.sync_timer();
            self.random_fault_due();
            let mut left = deadline.saturating_duration_since(Instant::now());
            let timer_rise =
                self.timer.next_rise_ns().map(|at| Duration::from_nanos(at.saturating_sub(monotonic_ns())));
            let kill_due =
                self.random.as_ref().and_then(|r| r.next_at).map(|at| at.saturating_duration_since(Instant::now()));
            let wake_first = [timer_rise, kill_due].into_iter().flatten().min().filter(|&w| w < left);
            if let Some(wake) = wake_first {
                left = wake;
            }
            match rx.recv_timeout(left) {
                Ok(input) => self.handle(input),
                // The timer line rises, or a random fault is due: the
                // next round delivers it.
                Err(RecvTimeoutError::Timeout) if wake_first.is_some() => {}
                Err(RecvTimeoutError::Timeout) if held.is_some() => self.outcome = held.take(),
                Err(RecvTimeoutError::Timeout) => {
                    self.outcome =
                        Some(Outcome::Fail(format!("timeout after {}s: {}", timeout.as_secs_f32(), self.waiting_for())))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.outcome = held.take().or(Some(Outcome::Fail("every input closed".into())))
                }
            }
        }
        if let (Some(qmp), Some(file)) = (&self.qmp, &self.screendump) {
            match qemu::screendump(qmp, file) {
                Ok(()) => console::sim(&format!("screendump written to {}", file.display())),
                Err(e) => console::sim(&format!("no screendump: {e}")),
            }
        }
        // Before the processes go: where the CPU time went.
        let cpu = self.profile.then(|| (self.res.cpu_ms(), cpu_ms("/proc/self/stat")));
        self.res.shut_down();
        // Output the PDs sent before they were stopped.
        for input in rx.try_iter() {
            if let Input::Pd(pd, PdMsg::Output(bytes)) = input {
                self.output(pd, &bytes);
            }
        }
        for pd in 0..self.lines.len() {
            self.flush_output(pd);
        }
        if self.profile {
            self.print_profile();
        }
        if let Some(((pds, qemu), sim)) = cpu {
            self.print_cpu(&pds, qemu, sim);
        }
        self.outcome.take().unwrap_or(Outcome::Fail("no outcome".into()))
    }

    /// `--fault-random`: kill the PD if its moment has come.
    fn random_fault_due(&mut self) {
        let Some(r) = &mut self.random else { return };
        if r.next_at.is_none_or(|at| at > Instant::now()) {
            return;
        }
        r.next_at = None;
        let pd = r.pd;
        if self.router.is_dead(pd) || self.doomed[pd].is_some() {
            return;
        }
        r.done += 1;
        let why = format!("fault injected (--fault-random {} of {}, seed {:#x})", r.done, r.total, r.seed);
        self.apply(vec![Effect::Kill(pd, why, fault_label::VM_FAULT)]);
    }

    /// Drive the timer's interrupt line to the level its registers and the
    /// clock give now (before every input, so a PD's reprogramming lowers
    /// the line before its ack of the interrupt is routed).
    fn sync_timer(&mut self) {
        if let Some(high) = self.timer.level_change(monotonic_ns()) {
            let mut out = Vec::new();
            self.router.line_level(PHYSICAL_TIMER_INTID, high, &mut out);
            self.apply(out);
        }
    }

    /// `--profile`: who notified whom and which lines interrupted, over
    /// the whole run, most first (where the signals a benchmark counts
    /// come from).
    fn print_profile(&self) {
        let mut rows: Vec<(u64, String)> = self
            .router
            .notifications_by_pair
            .iter()
            .map(|(&(from, to), &n)| (n, format!("notify {} -> {}", self.name(from), self.name(to))))
            .chain(
                self.router
                    .irqs_by_line
                    .iter()
                    .map(|(&(intid, to), &n)| (n, format!("irq {intid} -> {}", self.name(to)))),
            )
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        for (n, what) in rows {
            console::sim(&format!("profile: {what}: {n}"));
        }
    }

    /// `--profile`: CPU time by process over the run (a restarted PD's
    /// since its last start), most first: which PD, QEMU's device side
    /// or sim's own routing the run's time went to. Divide by the
    /// requests a benchmark client reports for a cost per request.
    fn print_cpu(&self, pds: &[Option<u64>], qemu: Option<u64>, sim: Option<u64>) {
        let mut rows: Vec<(u64, String)> = pds
            .iter()
            .enumerate()
            .filter_map(|(pd, ms)| ms.map(|ms| (ms, self.name(pd).to_string())))
            .chain(qemu.map(|ms| (ms, "qemu (the devices)".to_string())))
            .chain(sim.map(|ms| (ms, "sim (routing, register round trips)".to_string())))
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        for (ms, what) in rows {
            console::sim(&format!("profile: cpu {what}: {ms} ms"));
        }
    }

    fn name(&self, pd: PdId) -> &str {
        &self.system.pds[pd].name
    }

    fn waiting_for(&self) -> String {
        match &self.expect {
            Some(list) => {
                let missing: Vec<&str> = list.iter().filter(|&&p| !self.passed[p]).map(|&p| self.name(p)).collect();
                format!("no PASS yet from {}", missing.join(", "))
            }
            None => "no PD reported a verdict".into(),
        }
    }

    fn handle(&mut self, input: Input) {
        let mut out = Vec::new();
        match input {
            Input::Pd(pd, msg) => {
                if self.doomed[pd].is_some() || self.router.is_dead(pd) {
                    if let PdMsg::Output(bytes) = msg {
                        self.output(pd, &bytes);
                    }
                    return;
                }
                self.pd_message(pd, msg, &mut out);
            }
            Input::PdBad(pd, why) => {
                out.push(Effect::Kill(pd, format!("malformed message to sim: {why}"), fault_label::USER_EXCEPTION))
            }
            Input::PdClosed(pd) => self.pd_gone(pd, &mut out),
            Input::IrqChanged => self.take_irq_levels(&mut out),
            Input::QemuGone => {
                let status = self.res.qemu.as_mut().and_then(|q| q.wait().ok());
                let how = status.map(describe_status).unwrap_or_else(|| "closed its qtest socket".into());
                self.outcome = Some(Outcome::Fail(format!("QEMU exited unexpectedly ({how})")));
            }
            Input::Signal(sig) => self.outcome = Some(Outcome::Fail(format!("interrupted by {}", signal_name(sig)))),
        }
        self.apply(out);
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Send(pd, msg) => {
                    // A PD that has just died cannot be told; its closed
                    // socket reports the death.
                    let _ = self.res.pds[pd].link.send(&msg.encode());
                }
                Effect::Kill(pd, why, label) => {
                    if self.doomed[pd].is_none() {
                        self.doomed[pd] = Some((why, label));
                        let _ = self.res.pds[pd].child.kill();
                    }
                }
            }
        }
    }

    fn pd_message(&mut self, pd: PdId, msg: PdMsg, out: &mut Vec<Effect>) {
        match msg {
            PdMsg::Notify(ch) => self.router.notify(pd, ch, out),
            PdMsg::IrqAck(id) => self.router.irq_ack(pd, id, out),
            PdMsg::Counters => out.push(Effect::Send(
                pd,
                SimMsg::Counters { notifications: self.router.notifications, irqs: self.router.irqs_delivered },
            )),
            PdMsg::PpCall(ch, m) => self.router.pp_call(pd, ch, m, out),
            PdMsg::Wait(reply) => self.router.wait(pd, reply, out),
            PdMsg::MmioRead { vaddr, width } => {
                match self.device_access(pd, vaddr, width, None) {
                    Ok(value) => out.push(Effect::Send(pd, SimMsg::MmioValue(value))),
                    Err(why) => out.push(Effect::Kill(pd, why, fault_label::VM_FAULT)),
                }
                self.take_irq_levels(out);
            }
            PdMsg::MmioWrite { vaddr, width, value } => {
                if let Err(why) = self.device_access(pd, vaddr, width, Some(value)) {
                    out.push(Effect::Kill(pd, why, fault_label::VM_FAULT));
                }
                // A write that lowers a line (an interrupt acknowledged)
                // must take effect before the PD's next message, often its
                // irq_ack, or a level line would fire again for nothing.
                self.take_irq_levels(out);
            }
            PdMsg::Output(bytes) => {
                if self.output(pd, &bytes) {
                    out.push(Effect::Kill(pd, "fault injected (--fault)".into(), fault_label::VM_FAULT));
                }
            }
            PdMsg::Verdict { pass, reason } => self.verdict(pd, pass, &reason),
            PdMsg::TimerSet { compare, control } => self.timer.program(compare, control),
            PdMsg::Panic(text) => self.panics[pd] = Some(text),
            PdMsg::RestartChild(id) => self.restart_child(pd, id, out),
        }
    }

    /// `parent` restarts its child `id` (Microkit: the child's TCB
    /// registers written, then resumed). A process that still runs is
    /// ended first; a fresh process is the state the PD booted with,
    /// with the same maps, so shared regions keep their contents.
    fn restart_child(&mut self, parent: PdId, id: u8, out: &mut Vec<Effect>) {
        let child = self.system.pds.iter().position(|p| p.parent == Some(parent) && p.child_id == Some(id));
        let Some(child) = child else {
            let name = self.name(parent).to_string();
            console::sim(&format!("{name} asked to restart child {id}, which it does not have; ignored"));
            return;
        };
        if self.router.is_dead(child) {
            self.respawn(child, out);
        } else if !self.restarting[child] {
            self.restarting[child] = true;
            let _ = self.res.pds[child].child.kill();
        }
    }

    fn respawn(&mut self, pd: PdId, out: &mut Vec<Effect>) {
        let r = &self.restart;
        match procs::spawn_pd(pd, &r.images[pd], r.ram.as_raw_fd(), &r.setups[pd], &r.inputs) {
            Ok(new) => {
                let old = std::mem::replace(&mut self.res.pds[pd], new);
                // The old process has exited; its output threads end on
                // their own and are joined with the new one's.
                self.res.pds[pd].echoes.extend(old.echoes);
                self.lines[pd] = LineBuffer::default();
                self.router.restarted(pd, out);
                console::sim(&format!("{} restarted", self.name(pd)));
                if let Some(r) = self.random.as_mut().filter(|r| r.pd == pd) {
                    r.arm(Instant::now());
                }
            }
            Err(e) => self.outcome = Some(Outcome::Fail(format!("cannot restart {}: {e}", self.name(pd)))),
        }
    }

    /// Apply every interrupt level change QEMU has reported so far. QEMU
    /// reports the changes a register access causes before it answers the
    /// access, so after an access this includes them all.
    fn take_irq_levels(&mut self, out: &mut Vec<Effect>) {
        while let Ok((spi, high)) = self.irq_levels.try_recv() {
            self.router.irq_level(spi, high, out);
        }
    }

    /// A register read (`write` None) or write through the PD's maps.
    fn device_access(&mut self, pd: PdId, vaddr: u64, width: u8, write: Option<u64>) -> Result<u64, String> {
        let kind = if write.is_some() { "write" } else { "read" };
        let map = self.maps[pd].iter().find(|m| m.translate(vaddr, width as u64).is_some());
        let Some(map) = map else {
            return Err(format!("register {kind} at {vaddr:#x}, outside its maps"));
        };
        if (write.is_some() && !map.write) || (write.is_none() && !map.read) {
            return Err(format!("register {kind} at {vaddr:#x}, which its map does not allow"));
        }
        let paddr = map.paddr + (vaddr - map.vaddr);
        let Some(qtest) = &mut self.qtest else {
            return Err(format!("register {kind} at {vaddr:#x}, but sim runs no device machine"));
        };
        let result = match write {
            Some(v) => qtest.write(paddr, width, v).map(|()| 0),
            None => qtest.read(paddr, width),
        };
        result.or_else(|e| {
            self.outcome.get_or_insert(Outcome::Fail(format!("QEMU: {e}")));
            Ok(u64::MAX)
        })
    }

    /// Print `pd`'s complete lines; true if one of them triggers a fault
    /// injection rule.
    fn output(&mut self, pd: PdId, bytes: &[u8]) -> bool {
        let mut fault = false;
        for line in self.lines[pd].push(bytes) {
            console::pd_line(&self.system.pds[pd].name, &line);
            if let Some(rule) = self.faults.iter().position(|(p, text)| *p == pd && line.contains(text.as_str())) {
                self.faults.remove(rule);
                fault = true;
            }
            let (due, later): (Vec<_>, Vec<_>) =
                std::mem::take(&mut self.holds).into_iter().partition(|(_, text)| line.contains(text.as_str()));
            self.holds = later;
            for (intids, _) in due {
                self.hold(&intids);
            }
        }
        fault
    }

    /// Stop delivering the lines `intids` (`--hold-irq`).
    fn hold(&mut self, intids: &[u32]) {
        for &intid in intids {
            if self.router.hold(intid) {
                console::sim(&format!("holding back INTID {intid} (--hold-irq)"));
            }
        }
    }

    fn flush_output(&mut self, pd: PdId) {
        if let Some(rest) = self.lines[pd].take_rest() {
            console::pd_line(&self.system.pds[pd].name, &rest);
        }
    }

    fn verdict(&mut self, pd: PdId, pass: bool, reason: &str) {
        let name = self.name(pd).to_string();
        let fail_expected = self.expect_fail.contains(&pd);
        match (pass, fail_expected) {
            (false, true) => {
                console::sim(&format!("{name} reported FAIL, as expected: {reason}"));
                self.failed[pd] = true;
            }
            (false, false) => {
                self.outcome = Some(Outcome::Fail(format!("{name} reported FAIL: {reason}")));
                return;
            }
            (true, true) => {
                self.outcome = Some(Outcome::Fail(format!("{name} passed, but was expected to FAIL")));
                return;
            }
            (true, false) => self.passed[pd] = true,
        }
        if !self.expect_fail.iter().all(|&p| self.failed[p]) {
            return;
        }
        match &self.expect {
            None if pass => self.outcome = Some(Outcome::Pass(format!("{name} passed"))),
            None => self.outcome = Some(Outcome::Pass(format!("{name} failed as expected"))),
            Some(list) if list.iter().all(|&p| self.passed[p]) => {
                let names: Vec<&str> = list.iter().map(|&p| self.name(p)).collect();
                self.outcome = Some(Outcome::Pass(format!("{} passed", names.join(", "))));
            }
            Some(_) => {}
        }
    }

    fn pd_gone(&mut self, pd: PdId, out: &mut Vec<Effect>) {
        let status = reap(&mut self.res.pds[pd].child);
        if std::mem::take(&mut self.restarting[pd]) {
            // Ended by its parent's restart, not a fault of its own.
            self.flush_output(pd);
            self.doomed[pd] = None;
            self.panics[pd] = None;
            self.router.died(pd, None, out);
            self.respawn(pd, out);
            return;
        }
        let (reason, label) = match (self.doomed[pd].take(), self.panics[pd].take()) {
            (Some(killed), _) => killed,
            (None, Some(panic)) => (panic, fault_label::USER_EXCEPTION),
            (None, None) => {
                let label = match status.and_then(|s| s.signal()) {
                    Some(libc::SIGSEGV | libc::SIGBUS) => fault_label::VM_FAULT,
                    _ => fault_label::USER_EXCEPTION,
                };
                (status.map(describe_status).unwrap_or_else(|| "closed its connection".into()), label)
            }
        };
        self.flush_output(pd);
        let name = self.name(pd).to_string();
        let pdef = &self.system.pds[pd];
        let parent = match (pdef.parent, pdef.child_id) {
            (Some(p), Some(id)) if !self.router.is_dead(p) => {
                format!(" (fault delivered to {} as child {id})", self.system.pds[p].name)
            }
            _ => String::new(),
        };
        console::sim(&format!("{name} faulted: {reason}{parent}"));
        self.router.died(pd, Some(label), out);
        let expected = self.expect.as_ref().is_some_and(|l| l.contains(&pd));
        if expected && !self.passed[pd] {
            self.outcome = Some(Outcome::Fail(format!("{name} faulted before passing: {reason}")));
        } else if (0..self.system.pds.len()).all(|p| self.router.is_dead(p)) {
            self.outcome = Some(Outcome::Fail("every PD has faulted".into()));
        }
    }
}

/// The exit status of a process whose socket closed (it is exiting).
fn reap(child: &mut Child) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => return None,
        }
    }
    let _ = child.kill();
    child.wait().ok()
}

fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGABRT => "SIGABRT",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGTRAP => "SIGTRAP",
        _ => return format!("signal {sig}"),
    };
    format!("signal {sig} ({name})")
}

fn describe_status(s: ExitStatus) -> String {
    match (s.code(), s.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("killed by {}", signal_name(sig)),
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_cpu_ms;

    #[test]
    fn cpu_time_comes_from_utime_and_stime() {
        // A name with spaces and parentheses: fields count from the last ')'.
        let stat = "4242 (blk (x) y) S 1 4242 4242 0 -1 4194304 100 0 0 0 150 50 0 0 20 0 1 0 5 0 0";
        assert_eq!(parse_cpu_ms(stat, 100), Some(2000), "150 + 50 ticks at 100 per second");
        assert_eq!(parse_cpu_ms(stat, 1000), Some(200));
        assert_eq!(parse_cpu_ms("4242 (blk) S 1", 100), None, "cut short");
        assert_eq!(parse_cpu_ms("no parenthesis", 100), None);
    }
}
