//! A generic explicit-state explorer: breadth-first search over the reachable states of a
//! [`Model`], a visited set of 128-bit fingerprints of each state's canonical encoding, an
//! invariant checked on every reachable state, and on failure the shortest counterexample
//! trace (replayed from the initial state, so no state is stored except the frontier).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt::Debug;
use std::hash::Hasher;
use std::time::{Duration, Instant};

/// A named property that failed, with what was seen.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The property's name, e.g. "(h) count".
    pub property: &'static str,
    /// What was wrong in the state.
    pub detail: String,
}

/// A state machine to explore.
pub trait Model {
    /// A state.
    type State: Clone;
    /// A transition's label (printed in traces).
    type Action: Debug + Clone;
    /// The initial state.
    fn initial(&self) -> Self::State;
    /// Every enabled transition from `s`, in a deterministic order.
    fn successors(&self, s: &Self::State, out: &mut Vec<(Self::Action, Self::State)>);
    /// The canonical encoding of `s` (equal states encode equally).
    fn encode(&self, s: &Self::State, buf: &mut Vec<u8>);
    /// The invariants, on one state.
    fn check(&self, s: &Self::State) -> Result<(), Violation>;
    /// A one-paragraph description of `s` for traces.
    fn describe(&self, s: &Self::State) -> String;
    /// Coverage counters (named facts that hold in `s`), to show the properties are not
    /// vacuous.
    fn observe(&self, _s: &Self::State, _seen: &mut Vec<&'static str>) {}
}

/// A counterexample: the violated property and the path to it.
#[derive(Debug, Clone)]
pub struct Counterexample {
    /// What failed.
    pub violation: Violation,
    /// One line per step: the action and the state it led to (first: the initial state).
    pub trace: Vec<String>,
}

impl std::fmt::Display for Counterexample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "property {} violated: {}",
            self.violation.property, self.violation.detail
        )?;
        for (i, line) in self.trace.iter().enumerate() {
            writeln!(f, "  {i:>3}. {line}")?;
        }
        Ok(())
    }
}

/// What an exploration found.
#[derive(Debug)]
pub struct Report {
    /// Distinct states reached (and checked).
    pub states: u64,
    /// Transitions generated.
    pub transitions: u64,
    /// The deepest breadth-first level reached.
    pub depth: u32,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// Whether the state limit stopped the search before the frontier was empty.
    pub truncated: bool,
    /// The first violation found (shortest, by breadth-first order).
    pub counterexample: Option<Counterexample>,
    /// How many states showed each coverage fact.
    pub coverage: BTreeMap<&'static str, u64>,
}

fn fingerprint(buf: &[u8]) -> u128 {
    let mut a = DefaultHasher::new();
    a.write(buf);
    let mut b = DefaultHasher::new();
    b.write_u8(0xA5);
    b.write(buf);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

/// Explores every state reachable from the initial one (up to `max_states`), checking the
/// invariants on each; stops at the first violation.
pub fn explore<M: Model>(model: &M, max_states: u64) -> Report {
    let start = Instant::now();
    let mut visited: HashSet<u128> = HashSet::new();
    // For each state id: (parent id, index of the successor that led here).
    let mut parents: Vec<(u32, u32)> = Vec::new();
    let mut frontier: VecDeque<(u32, u32, M::State)> = VecDeque::new();
    let mut buf = Vec::with_capacity(4096);
    let mut succ = Vec::new();
    let mut coverage = BTreeMap::new();
    let mut seen = Vec::new();
    let mut transitions = 0u64;
    let mut depth = 0u32;
    let mut truncated = false;

    let init = model.initial();
    buf.clear();
    model.encode(&init, &mut buf);
    visited.insert(fingerprint(&buf));
    parents.push((u32::MAX, 0));
    let mut found: Option<(u32, Violation)> = None;
    if let Err(v) = model.check(&init) {
        found = Some((0, v));
    } else {
        frontier.push_back((0, 0, init));
    }

    'search: while let Some((id, d, state)) = frontier.pop_front() {
        depth = depth.max(d);
        seen.clear();
        model.observe(&state, &mut seen);
        for s in &seen {
            *coverage.entry(*s).or_insert(0u64) += 1;
        }
        succ.clear();
        model.successors(&state, &mut succ);
        for (i, (_, next)) in succ.drain(..).enumerate() {
            transitions += 1;
            buf.clear();
            model.encode(&next, &mut buf);
            if !visited.insert(fingerprint(&buf)) {
                continue;
            }
            let nid = parents.len() as u32;
            parents.push((id, i as u32));
            if let Err(v) = model.check(&next) {
                found = Some((nid, v));
                break 'search;
            }
            if parents.len() as u64 >= max_states {
                truncated = true;
                break 'search;
            }
            frontier.push_back((nid, d + 1, next));
        }
    }

    let counterexample = found.map(|(id, violation)| Counterexample {
        violation,
        trace: replay(model, &parents, id),
    });
    Report {
        states: parents.len() as u64,
        transitions,
        depth,
        elapsed: start.elapsed(),
        truncated,
        counterexample,
        coverage,
    }
}

/// The path from the initial state to `id`, replayed: each step's action and state.
fn replay<M: Model>(model: &M, parents: &[(u32, u32)], id: u32) -> Vec<String> {
    let mut path = Vec::new();
    let mut at = id;
    while at != 0 {
        let (p, i) = parents[at as usize];
        path.push(i);
        at = p;
    }
    path.reverse();
    let mut state = model.initial();
    let mut trace = vec![format!("initial: {}", model.describe(&state))];
    let mut succ = Vec::new();
    for i in path {
        succ.clear();
        model.successors(&state, &mut succ);
        let (action, next) = succ.swap_remove(i as usize);
        trace.push(format!("{action:?}\n         -> {}", model.describe(&next)));
        state = next;
    }
    trace
}
