//! The crate's layout (STYLE.md "Layout"): modules grouped by role, and no import cycles between
//! modules. Reads `src/` and builds the graph of `crate::` paths each file uses (comments
//! excluded), then looks for cycles. A module's use of its own descendants or ancestors (a
//! folder root declaring and re-exporting its files) is not an edge; the crate root, `hazmat`
//! and the fuzz entry points, which only re-export, are left out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `src/server/store.rs` -> `server::store`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("::")
}

/// The code of a file without comments and without its `#[cfg(test)] mod tests`.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeMap<String, PathBuf> = files
        .iter()
        .map(|f| (module_of(&src, f), f.clone()))
        .collect();
    let related =
        |a: &str, b: &str| a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::"));
    let skip = ["lib", "hazmat", "__fuzz"];
    let mut edges = BTreeMap::new();
    for (m, f) in &modules {
        if skip.contains(&m.as_str()) {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(f).unwrap());
        let mut deps = BTreeSet::new();
        for (i, _) in code.match_indices("crate::") {
            let path: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
            for k in (1..=parts.len()).rev() {
                let cand = parts[..k].join("::");
                if modules.contains_key(&cand) {
                    if cand != *m && !related(&cand, m) && !skip.contains(&cand.as_str()) {
                        deps.insert(cand);
                    }
                    break;
                }
            }
        }
        edges.insert(m.clone(), deps);
    }
    edges
}

#[test]
fn no_import_cycles_between_modules() {
    let edges = graph();
    assert!(edges.len() > 25, "the source tree was not found");
    // Depth-first search with colours: a grey node reached again closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let mut colour: BTreeMap<&str, Colour> =
        edges.keys().map(|k| (k.as_str(), Colour::White)).collect();
    fn visit<'a>(
        n: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        colour: &mut BTreeMap<&'a str, Colour>,
        stack: &mut Vec<&'a str>,
    ) {
        colour.insert(n, Colour::Grey);
        stack.push(n);
        for d in edges.get(n).into_iter().flatten() {
            match colour.get(d.as_str()).copied().unwrap_or(Colour::Black) {
                Colour::Grey => {
                    let at = stack.iter().position(|s| *s == d).unwrap();
                    panic!("import cycle: {} -> {d}", stack[at..].join(" -> "));
                }
                Colour::White => visit(d, edges, colour, stack),
                Colour::Black => {}
            }
        }
        stack.pop();
        colour.insert(n, Colour::Black);
    }
    let keys: Vec<&str> = edges.keys().map(String::as_str).collect();
    for k in keys {
        if colour[k] == Colour::White {
            visit(k, &edges, &mut colour, &mut Vec::new());
        }
    }
}

#[test]
fn modules_are_grouped_by_role() {
    let edges = graph();
    for folder in ["arith", "rsa", "device", "server", "wire"] {
        assert!(
            edges.keys().any(|m| m.starts_with(&format!("{folder}::"))),
            "no module under src/{folder}/"
        );
    }
    // The device's code cannot reach the server's share or its session rules (SPEC §1 (b), (f)).
    for (m, deps) in &edges {
        if m.starts_with("device::") {
            for forbidden in [
                "server::record",
                "server::session",
                "server::service",
                "server::kek",
            ] {
                assert!(!deps.contains(forbidden), "{m} uses {forbidden}");
            }
        }
    }
}
