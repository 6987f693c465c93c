//! Microkit's semantics between PDs, with no I/O: notification words,
//! PPC endpoints, IRQ masking and fault delivery. Every operation returns
//! what sim must do ([`Effect`]s); `run` carries them out.
//!
//! What holds (and the tests below check):
//! - A PD gets one event at a time: nothing is delivered until it waits.
//! - Notifications coalesce into one word per PD, delivered as one badge;
//!   a pending notification is delivered before a queued PPC or fault (seL4
//!   checks the bound notification first).
//! - A PPC blocks the caller until the callee replies; callers queue FIFO.
//! - An IRQ is delivered as bit `id` to its owner and then masked until
//!   the owner acks it. Level-triggered: a line still high at the ack is
//!   delivered again. Edge-triggered: a raise while masked is delivered at
//!   the ack. IRQs start masked; the runtime acks them all at start.
//! - A PD that dies: its caller and queued callers get a
//!   [`PEER_DEAD_LABEL`] reply, later calls to it too, notifications to it
//!   stay pending (as in a faulted thread's notification object), and its
//!   parent (if nested) gets a fault event.
//! - A restarted PD runs its `init` again: no PPC or fault is owed or
//!   queued, its IRQs are masked until it acks them, and the
//!   notifications sent while it was down are delivered at its first wait.
//! - Misuse that seL4 turns into a cap fault (notify without the right, a
//!   PPC on a channel without `pp`, acking an id that is not an IRQ) kills
//!   the PD with a reason.

use sevio_runtime::hosted::wire::{BADGE_FAULT, BADGE_PPC, Message, PEER_DEAD_LABEL, SimMsg};
use sevio_sdf::{System, Trigger};
use std::collections::VecDeque;

/// Index of a PD (as in `System::pds`).
pub type PdId = usize;

/// seL4 fault labels (MCS, aarch64) used for a dead PD's fault event.
pub mod fault_label {
    /// An invocation of a cap the PD does not have.
    pub const CAP_FAULT: u64 = 1;
    /// The PD stopped on its own (panic, abort, exit).
    pub const USER_EXCEPTION: u64 = 3;
    /// A bad memory access (SIGSEGV / SIGBUS).
    pub const VM_FAULT: u64 = 6;
}

/// What sim must do after an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send this message to this PD.
    Send(PdId, SimMsg),
    /// This PD broke a rule: kill it, report `reason`, then call
    /// [`Router::died`] with `label`.
    Kill(PdId, String, u64),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum State {
    Running,
    Waiting,
    Calling,
    Dead,
}

#[derive(Copy, Clone, Debug)]
struct End {
    peer: PdId,
    peer_id: u8,
    pp: bool,
    notify: bool,
}

#[derive(Debug)]
enum EpMsg {
    Call { caller: PdId, id: u8, msg: Message },
    Fault { child: u8, label: u64 },
}

#[derive(Copy, Clone, Debug)]
enum Owed {
    Caller(PdId),
    Child,
}

#[derive(Debug)]
struct Pd {
    state: State,
    pending: u64,
    queue: VecDeque<EpMsg>,
    owed: Option<Owed>,
    ends: [Option<End>; 62],
    parent: Option<PdId>,
    child_id: Option<u8>,
}

#[derive(Debug)]
struct Line {
    intid: u32,
    pd: PdId,
    id: u8,
    level: bool,
    masked: bool,
    high: bool,
    latched: bool,
    /// `--hold-irq`: the line is never delivered (a device whose
    /// interrupt is lost).
    held: bool,
}

/// The routing state of a whole system.
#[derive(Debug)]
pub struct Router {
    pds: Vec<Pd>,
    lines: Vec<Line>,
    /// Notifications sent by any PD, for benchmarks.
    pub notifications: u64,
    /// IRQs delivered to any PD, for benchmarks.
    pub irqs_delivered: u64,
    /// Notifications by (sender, receiver), for `--profile`.
    pub notifications_by_pair: std::collections::BTreeMap<(PdId, PdId), u64>,
    /// IRQs delivered by (INTID, receiver), for `--profile`.
    pub irqs_by_line: std::collections::BTreeMap<(u32, PdId), u64>,
}

impl Router {
    /// Routing for a checked system; every PD starts running its `init`.
    pub fn new(system: &System) -> Router {
        let mut pds: Vec<Pd> = system
            .pds
            .iter()
            .map(|pd| Pd {
                state: State::Running,
                pending: 0,
                queue: VecDeque::new(),
                owed: None,
                ends: [None; 62],
                parent: pd.parent,
                child_id: pd.child_id,
            })
            .collect();
        for ch in &system.channels {
            for (a, b) in [(&ch.ends[0], &ch.ends[1]), (&ch.ends[1], &ch.ends[0])] {
                pds[a.pd].ends[a.id as usize] = Some(End { peer: b.pd, peer_id: b.id, pp: a.pp, notify: a.notify });
            }
        }
        let lines = system
            .pds
            .iter()
            .enumerate()
            .flat_map(|(pd, p)| {
                p.irqs.iter().map(move |irq| Line {
                    intid: irq.irq,
                    pd,
                    id: irq.id,
                    level: irq.trigger == Trigger::Level,
                    masked: true,
                    high: false,
                    latched: false,
                    held: false,
                })
            })
            .collect();
        Router {
            pds,
            lines,
            notifications: 0,
            irqs_delivered: 0,
            notifications_by_pair: Default::default(),
            irqs_by_line: Default::default(),
        }
    }

    /// The INTIDs of `pd`'s interrupt lines.
    pub fn intids_of(&self, pd: PdId) -> Vec<u32> {
        self.lines.iter().filter(|l| l.pd == pd).map(|l| l.intid).collect()
    }

    /// From now on, never deliver line `intid` (fault injection: the
    /// device's completions are never signalled). False if no PD has it.
    pub fn hold(&mut self, intid: u32) -> bool {
        let held = self.lines.iter_mut().filter(|l| l.intid == intid).map(|l| l.held = true).count();
        held > 0
    }

    /// Whether the PD has died.
    pub fn is_dead(&self, pd: PdId) -> bool {
        self.pds[pd].state == State::Dead
    }

    /// `pd` signals its channel `ch`.
    pub fn notify(&mut self, pd: PdId, ch: u8, out: &mut Vec<Effect>) {
        match self.end(pd, ch) {
            Some(end) if end.notify => {
                self.notifications += 1;
                *self.notifications_by_pair.entry((pd, end.peer)).or_default() += 1;
                self.signal(end.peer, end.peer_id, out)
            }
            _ => self.misuse(pd, format!("notify on channel {ch}, which it may not notify"), out),
        }
    }

    /// `pd` acks its IRQ `id`.
    pub fn irq_ack(&mut self, pd: PdId, id: u8, out: &mut Vec<Effect>) {
        let Some(i) = self.lines.iter().position(|l| l.pd == pd && l.id == id) else {
            return self.misuse(pd, format!("irq_ack on id {id}, which is not one of its IRQs"), out);
        };
        let line = &mut self.lines[i];
        line.masked = false;
        let again = if line.level { line.high } else { std::mem::take(&mut line.latched) };
        if again {
            self.fire(i, out);
        }
    }

    /// `pd` calls the PD at the other end of its channel `ch`.
    pub fn pp_call(&mut self, pd: PdId, ch: u8, msg: Message, out: &mut Vec<Effect>) {
        let end = match self.end(pd, ch) {
            Some(end) if end.pp => end,
            _ => return self.misuse(pd, format!("pp_call on channel {ch}, which is not a PPC channel of it"), out),
        };
        if self.pds[end.peer].state == State::Dead {
            out.push(Effect::Send(pd, dead_reply()));
            return;
        }
        self.pds[pd].state = State::Calling;
        self.pds[end.peer].queue.push_back(EpMsg::Call { caller: pd, id: end.peer_id, msg });
        self.deliver(end.peer, out);
    }

    /// `pd` replies (if `reply`) to what it was handling and waits.
    pub fn wait(&mut self, pd: PdId, reply: Option<Message>, out: &mut Vec<Effect>) {
        if self.pds[pd].state != State::Running {
            return self.misuse(pd, "waited while not running (protocol error)".into(), out);
        }
        match (self.pds[pd].owed.take(), reply) {
            (Some(Owed::Caller(c)), Some(msg)) if self.pds[c].state == State::Calling => {
                self.pds[c].state = State::Running;
                out.push(Effect::Send(c, SimMsg::Reply(msg)));
            }
            // A fault reply would resume the child; a dead process cannot
            // be resumed, so it is dropped (as is a reply nobody is owed).
            _ => {}
        }
        self.pds[pd].state = State::Waiting;
        self.deliver(pd, out);
    }

    /// QEMU reports SPI `spi` (INTID `spi + 32`) high or low.
    pub fn irq_level(&mut self, spi: u32, high: bool, out: &mut Vec<Effect>) {
        self.line_level(spi + 32, high, out)
    }

    /// Interrupt line `intid` (an SPI from QEMU, or sim's own generic
    /// timer PPI) is high or low.
    pub fn line_level(&mut self, intid: u32, high: bool, out: &mut Vec<Effect>) {
        let Some(i) = self.lines.iter().position(|l| l.intid == intid) else { return };
        let line = &mut self.lines[i];
        let rose = high && !line.high;
        line.high = high;
        if !rose {
            return;
        }
        if line.masked {
            line.latched = true;
        } else {
            self.fire(i, out);
        }
    }

    /// `pd`'s process is gone; `label` is the seL4 fault label to report
    /// to its parent (`None`: its parent ended it to restart it, no fault).
    pub fn died(&mut self, pd: PdId, label: Option<u64>, out: &mut Vec<Effect>) {
        let p = &mut self.pds[pd];
        if p.state == State::Dead {
            return;
        }
        p.state = State::Dead;
        let owed = p.owed.take();
        let queued: Vec<EpMsg> = p.queue.drain(..).collect();
        if let Some(Owed::Caller(c)) = owed {
            self.answer_dead(c, out);
        }
        for m in queued {
            if let EpMsg::Call { caller, .. } = m {
                self.answer_dead(caller, out);
            }
        }
        let (parent, child_id) = (self.pds[pd].parent, self.pds[pd].child_id);
        if let (Some(parent), Some(child), Some(label)) = (parent, child_id, label)
            && self.pds[parent].state != State::Dead
        {
            self.pds[parent].queue.push_back(EpMsg::Fault { child, label });
            self.deliver(parent, out);
        }
    }

    /// `pd` was started again (its parent restarted it): it runs its
    /// `init`, owes nothing, and its IRQs wait for its acks.
    pub fn restarted(&mut self, pd: PdId, out: &mut Vec<Effect>) {
        let p = &mut self.pds[pd];
        p.state = State::Running;
        p.owed = None;
        p.queue.clear();
        for line in self.lines.iter_mut().filter(|l| l.pd == pd) {
            line.masked = true;
            line.latched = false;
        }
        self.deliver(pd, out);
    }

    fn end(&self, pd: PdId, ch: u8) -> Option<End> {
        *self.pds[pd].ends.get(ch as usize)?
    }

    fn misuse(&mut self, pd: PdId, what: String, out: &mut Vec<Effect>) {
        out.push(Effect::Kill(pd, what, fault_label::CAP_FAULT));
    }

    fn answer_dead(&mut self, caller: PdId, out: &mut Vec<Effect>) {
        if self.pds[caller].state == State::Calling {
            self.pds[caller].state = State::Running;
            out.push(Effect::Send(caller, dead_reply()));
        }
    }

    fn fire(&mut self, line: usize, out: &mut Vec<Effect>) {
        let l = &mut self.lines[line];
        if l.held {
            return;
        }
        l.masked = true;
        let (pd, id) = (l.pd, l.id);
        self.irqs_delivered += 1;
        *self.irqs_by_line.entry((l.intid, pd)).or_default() += 1;
        self.signal(pd, id, out);
    }

    fn signal(&mut self, pd: PdId, id: u8, out: &mut Vec<Effect>) {
        // Kept while dead: a restarted PD gets it at its first wait.
        self.pds[pd].pending |= 1 << id;
        self.deliver(pd, out);
    }

    /// Give a waiting PD its next event, if it has one.
    fn deliver(&mut self, pd: PdId, out: &mut Vec<Effect>) {
        if self.pds[pd].state != State::Waiting {
            return;
        }
        let pending = std::mem::take(&mut self.pds[pd].pending);
        if pending != 0 {
            self.pds[pd].state = State::Running;
            out.push(Effect::Send(pd, SimMsg::Event { badge: pending, msg: Message::default() }));
            return;
        }
        while let Some(m) = self.pds[pd].queue.pop_front() {
            let (badge, msg, owed) = match m {
                EpMsg::Call { caller, id, msg } => {
                    if self.pds[caller].state != State::Calling {
                        continue; // the caller died while queued
                    }
                    (BADGE_PPC | id as u64, msg, Owed::Caller(caller))
                }
                EpMsg::Fault { child, label } => {
                    let info = sevio_runtime::MessageInfo::new(label, 0).raw();
                    (BADGE_FAULT | child as u64, Message { info, mrs: Vec::new() }, Owed::Child)
                }
            };
            let p = &mut self.pds[pd];
            p.state = State::Running;
            p.owed = Some(owed);
            out.push(Effect::Send(pd, SimMsg::Event { badge, msg }));
            return;
        }
    }
}

fn dead_reply() -> SimMsg {
    SimMsg::Reply(Message { info: sevio_runtime::MessageInfo::new(PEER_DEAD_LABEL, 0).raw(), mrs: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// client (1) ↔ server (passive, 3): notify both ways, client may PPC;
    /// other (2) may PPC server too; dev (4) owns INTID 79 as id 5
    /// (level) and INTID 80 as id 6 (edge); child (5) nested in client as 7.
    fn router() -> Router {
        let s = sevio_sdf::parse(
            r#"<system>
            <protection_domain name="client" priority="1"><program_image path="c" />
              <protection_domain name="child" priority="9" id="7"><program_image path="k" /></protection_domain>
            </protection_domain>
            <protection_domain name="other" priority="2"><program_image path="o" /></protection_domain>
            <protection_domain name="server" priority="3" passive="true"><program_image path="s" /></protection_domain>
            <protection_domain name="dev" priority="4"><program_image path="d" />
              <irq irq="79" id="5" /><irq irq="80" id="6" trigger="edge" /></protection_domain>
            <channel><end pd="client" id="0" pp="true" /><end pd="server" id="1" /></channel>
            <channel><end pd="other" id="2" pp="true" notify="false" /><end pd="server" id="3" /></channel>
            </system>"#,
        )
        .unwrap();
        Router::new(&s)
    }

    const CLIENT: PdId = 0;
    const CHILD: PdId = 1;
    const OTHER: PdId = 2;
    const SERVER: PdId = 3;
    const DEV: PdId = 4;

    fn event(badge: u64) -> SimMsg {
        SimMsg::Event { badge, msg: Message::default() }
    }

    fn msg(label: u64, mrs: &[u64]) -> Message {
        Message { info: sevio_runtime::MessageInfo::new(label, mrs.len()).raw(), mrs: mrs.to_vec() }
    }

    fn run(r: &mut Router, f: impl FnOnce(&mut Router, &mut Vec<Effect>)) -> Vec<Effect> {
        let mut out = Vec::new();
        f(r, &mut out);
        out
    }

    #[test]
    fn notifications_coalesce_until_the_pd_waits() {
        let mut r = router();
        assert_eq!(run(&mut r, |r, o| r.notify(CLIENT, 0, o)), []);
        assert_eq!(run(&mut r, |r, o| r.notify(CLIENT, 0, o)), []);
        // Busy in init: both signals wait in one word, delivered once.
        assert_eq!(run(&mut r, |r, o| r.wait(SERVER, None, o)), [Effect::Send(SERVER, event(1 << 1))]);
        // Handling that event: a new signal is not delivered yet.
        assert_eq!(run(&mut r, |r, o| r.notify(CLIENT, 0, o)), []);
        assert_eq!(run(&mut r, |r, o| r.wait(SERVER, None, o)), [Effect::Send(SERVER, event(1 << 1))]);
        assert_eq!(run(&mut r, |r, o| r.wait(SERVER, None, o)), []);
        assert_eq!(run(&mut r, |r, o| r.notify(SERVER, 1, o)), []);
        assert_eq!(run(&mut r, |r, o| r.wait(CLIENT, None, o)), [Effect::Send(CLIENT, event(1 << 0))]);
    }

    #[test]
    fn ppc_blocks_the_caller_until_the_reply_and_callers_queue() {
        let mut r = router();
        assert_eq!(run(&mut r, |r, o| r.pp_call(CLIENT, 0, msg(1, &[10, 20]), o)), []);
        assert_eq!(run(&mut r, |r, o| r.pp_call(OTHER, 2, msg(2, &[]), o)), []);
        let out = run(&mut r, |r, o| r.wait(SERVER, None, o));
        assert_eq!(out, [Effect::Send(SERVER, SimMsg::Event { badge: BADGE_PPC | 1, msg: msg(1, &[10, 20]) })]);
        // The reply goes to the first caller, then the second call is served.
        let out = run(&mut r, |r, o| r.wait(SERVER, Some(msg(0, &[30])), o));
        assert_eq!(
            out,
            [
                Effect::Send(CLIENT, SimMsg::Reply(msg(0, &[30]))),
                Effect::Send(SERVER, SimMsg::Event { badge: BADGE_PPC | 3, msg: msg(2, &[]) }),
            ]
        );
        let out = run(&mut r, |r, o| r.wait(SERVER, Some(msg(9, &[])), o));
        assert_eq!(out, [Effect::Send(OTHER, SimMsg::Reply(msg(9, &[])))]);
    }

    #[test]
    fn a_pending_notification_goes_before_a_queued_call() {
        let mut r = router();
        run(&mut r, |r, o| r.pp_call(OTHER, 2, msg(2, &[]), o));
        run(&mut r, |r, o| r.notify(CLIENT, 0, o));
        assert_eq!(run(&mut r, |r, o| r.wait(SERVER, None, o)), [Effect::Send(SERVER, event(1 << 1))]);
        let out = run(&mut r, |r, o| r.wait(SERVER, None, o));
        assert_eq!(out, [Effect::Send(SERVER, SimMsg::Event { badge: BADGE_PPC | 3, msg: msg(2, &[]) })]);
    }

    #[test]
    fn misuse_kills_the_pd() {
        let mut r = router();
        let k = |out: Vec<Effect>| match &out[..] {
            [Effect::Kill(pd, why, fault_label::CAP_FAULT)] => (*pd, why.clone()),
            other => panic!("{other:?}"),
        };
        assert_eq!(k(run(&mut r, |r, o| r.notify(OTHER, 2, o))).0, OTHER);
        assert!(k(run(&mut r, |r, o| r.notify(CLIENT, 9, o))).1.contains("channel 9"));
        assert!(k(run(&mut r, |r, o| r.pp_call(SERVER, 1, msg(0, &[]), o))).1.contains("not a PPC channel"));
        assert!(k(run(&mut r, |r, o| r.irq_ack(DEV, 4, o))).1.contains("not one of its IRQs"));
    }

    #[test]
    fn level_irq_is_masked_until_acked_and_redelivered_while_high() {
        let mut r = router();
        // Raised before the start-up ack: masked, delivered at the ack.
        assert_eq!(run(&mut r, |r, o| r.irq_level(47, true, o)), []);
        assert_eq!(run(&mut r, |r, o| r.irq_ack(DEV, 5, o)), []);
        assert_eq!(run(&mut r, |r, o| r.wait(DEV, None, o)), [Effect::Send(DEV, event(1 << 5))]);
        assert_eq!(run(&mut r, |r, o| r.wait(DEV, None, o)), []);
        // Lower and raise again while masked: nothing until the ack.
        run(&mut r, |r, o| r.irq_level(47, false, o));
        assert_eq!(run(&mut r, |r, o| r.irq_level(47, true, o)), []);
        assert_eq!(run(&mut r, |r, o| r.irq_ack(DEV, 5, o)), [Effect::Send(DEV, event(1 << 5))]);
        // Acked after the line went low: no redelivery, and the next raise is.
        run(&mut r, |r, o| r.irq_level(47, false, o));
        assert_eq!(run(&mut r, |r, o| r.irq_ack(DEV, 5, o)), []);
        assert_eq!(run(&mut r, |r, o| r.wait(DEV, None, o)), []);
        assert_eq!(run(&mut r, |r, o| r.irq_level(47, true, o)), [Effect::Send(DEV, event(1 << 5))]);
        // Other INTIDs are not this PD's.
        assert_eq!(run(&mut r, |r, o| r.irq_level(3, true, o)), []);
    }

    #[test]
    fn counts_notifications_sent_and_irqs_delivered() {
        let mut r = router();
        run(&mut r, |r, o| r.notify(CLIENT, 0, o));
        run(&mut r, |r, o| r.notify(CLIENT, 0, o));
        assert_eq!((r.notifications, r.irqs_delivered), (2, 0), "coalesced or not, each notify counts");
        run(&mut r, |r, o| r.irq_ack(DEV, 5, o));
        run(&mut r, |r, o| r.irq_level(47, true, o));
        run(&mut r, |r, o| r.irq_level(47, false, o));
        run(&mut r, |r, o| r.irq_level(47, true, o));
        assert_eq!(r.irqs_delivered, 1, "a masked line is not delivered again until acked");
        run(&mut r, |r, o| r.irq_ack(DEV, 5, o));
        assert_eq!((r.notifications, r.irqs_delivered), (2, 2));
        assert_eq!(r.notifications_by_pair.values().sum::<u64>(), 2, "every notification in the profile");
        assert_eq!(r.irqs_by_line.values().sum::<u64>(), 2, "every IRQ in the profile");
    }

    #[test]
    fn a_held_line_is_never_delivered() {
        let mut r = router();
        run(&mut r, |r, o| r.irq_ack(DEV, 5, o));
        assert!(r.hold(79));
        assert!(!r.hold(3), "no PD has INTID 3");
        assert_eq!(run(&mut r, |r, o| r.irq_level(47, true, o)), []);
        assert_eq!(run(&mut r, |r, o| r.irq_ack(DEV, 5, o)), [], "not on the ack either, though still high");
        assert_eq!(r.irqs_delivered, 0);
        assert_eq!(r.intids_of(DEV), [79, 80]);
    }

    #[test]
    fn edge_irq_latches_while_masked() {
        let mut r = router();
        run(&mut r, |r, o| r.irq_ack(DEV, 6, o));
        run(&mut r, |r, o| r.wait(DEV, None, o));
        assert_eq!(run(&mut r, |r, o| r.irq_level(48, true, o)), [Effect::Send(DEV, event(1 << 6))]);
        run(&mut r, |r, o| r.irq_level(48, false, o));
        run(&mut r, |r, o| r.wait(DEV, None, o));
        // Acked with the line low and no new edge: nothing.
        assert_eq!(run(&mut r, |r, o| r.irq_ack(DEV, 6, o)), []);
        run(&mut r, |r, o| r.irq_level(48, true, o)); // delivered (unmasked)
        run(&mut r, |r, o| r.wait(DEV, None, o));
        run(&mut r, |r, o| r.irq_level(48, false, o));
        assert_eq!(run(&mut r, |r, o| r.irq_level(48, true, o)), []);
        assert_eq!(run(&mut r, |r, o| r.irq_ack(DEV, 6, o)), [Effect::Send(DEV, event(1 << 6))]);
    }

    #[test]
    fn death_answers_callers_and_tells_the_parent() {
        let mut r = router();
        run(&mut r, |r, o| r.pp_call(CLIENT, 0, msg(1, &[]), o));
        run(&mut r, |r, o| r.pp_call(OTHER, 2, msg(2, &[]), o));
        run(&mut r, |r, o| r.wait(SERVER, None, o)); // serving client
        let out = run(&mut r, |r, o| r.died(SERVER, Some(fault_label::VM_FAULT), o));
        assert_eq!(out, [Effect::Send(CLIENT, dead_reply()), Effect::Send(OTHER, dead_reply())]);
        assert!(r.is_dead(SERVER));
        // Later calls are answered at once; notifications wait for a restart.
        assert_eq!(run(&mut r, |r, o| r.pp_call(CLIENT, 0, msg(1, &[]), o)), [Effect::Send(CLIENT, dead_reply())]);
        assert_eq!(run(&mut r, |r, o| r.notify(CLIENT, 0, o)), []);
        // The nested child's death reaches its parent as a fault badge.
        assert_eq!(run(&mut r, |r, o| r.died(CHILD, Some(fault_label::USER_EXCEPTION), o)), []);
        let out = run(&mut r, |r, o| r.wait(CLIENT, None, o));
        let info = sevio_runtime::MessageInfo::new(fault_label::USER_EXCEPTION, 0).raw();
        assert_eq!(
            out,
            [Effect::Send(CLIENT, SimMsg::Event { badge: BADGE_FAULT | 7, msg: Message { info, mrs: vec![] } })]
        );
        // Dying twice changes nothing.
        assert_eq!(run(&mut r, |r, o| r.died(SERVER, Some(0), o)), []);
    }

    #[test]
    fn a_caller_that_dies_while_queued_is_skipped() {
        let mut r = router();
        run(&mut r, |r, o| r.pp_call(CLIENT, 0, msg(1, &[]), o));
        run(&mut r, |r, o| r.pp_call(OTHER, 2, msg(2, &[]), o));
        run(&mut r, |r, o| r.died(CLIENT, Some(fault_label::USER_EXCEPTION), o));
        let out = run(&mut r, |r, o| r.wait(SERVER, None, o));
        assert!(matches!(out[..], [Effect::Send(SERVER, SimMsg::Event { badge, .. })] if badge == BADGE_PPC | 3));
    }

    #[test]
    fn a_restarted_pd_serves_again_and_gets_what_was_sent_while_down() {
        let mut r = router();
        run(&mut r, |r, o| r.wait(SERVER, None, o));
        run(&mut r, |r, o| r.died(SERVER, Some(fault_label::VM_FAULT), o));
        run(&mut r, |r, o| r.notify(CLIENT, 0, o));
        assert_eq!(run(&mut r, |r, o| r.restarted(SERVER, o)), [], "running its init: nothing delivered yet");
        assert!(!r.is_dead(SERVER));
        assert_eq!(run(&mut r, |r, o| r.wait(SERVER, None, o)), [Effect::Send(SERVER, event(1 << 1))]);
        run(&mut r, |r, o| r.pp_call(CLIENT, 0, msg(4, &[9]), o));
        assert_eq!(
            run(&mut r, |r, o| r.wait(SERVER, None, o)),
            [Effect::Send(SERVER, SimMsg::Event { badge: BADGE_PPC | 1, msg: msg(4, &[9]) })]
        );
    }

    #[test]
    fn a_pd_ended_for_a_restart_is_no_fault_of_its_parent() {
        let mut r = router();
        run(&mut r, |r, o| r.wait(CLIENT, None, o));
        // The parent waits: a fault would be delivered to it at once.
        assert_eq!(run(&mut r, |r, o| r.died(CHILD, None, o)), [], "no fault event");
        assert_eq!(run(&mut r, |r, o| r.restarted(CHILD, o)), []);
        let out = run(&mut r, |r, o| r.died(CHILD, Some(fault_label::VM_FAULT), o));
        assert!(matches!(out[..], [Effect::Send(CLIENT, SimMsg::Event { badge, .. })] if badge == BADGE_FAULT | 7));
    }
}
