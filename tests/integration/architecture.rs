//! The shape of the code, checked from its text (issue #12): no module reaches a module that
//! reaches it back, library code returns no `Result<_, String>`, and the crates that must not
//! know DataFusion do not depend on it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LIBRARIES: [&str; 8] = [
    "catalog", "sql", "store", "engine", "demo", "server", "cluster", "console",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, with its module path (`dense::exec`; `` for the crate root).
fn modules(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(dir).unwrap().with_extension("");
                let mut parts: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((parts.join("::"), without_tests(&text)));
            }
        }
    }
    out
}

/// The code before the unit tests (by convention the file's last item), without comments:
/// a doc link is not a dependency.
fn without_tests(text: &str) -> String {
    let code = text.find("#[cfg(test)]").map_or(text, |at| &text[..at]);
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules that `text` (of module `module`) names through `crate::` or `super::` paths.
fn references(module: &str, text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let parent: Vec<&str> = module.split("::").filter(|p| !p.is_empty()).collect();
    for (marker, base) in [
        ("crate::", Vec::new()),
        ("super::", parent[..parent.len().saturating_sub(1)].to_vec()),
    ] {
        for (at, _) in text.match_indices(marker) {
            let before = text[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: Vec<&str> = text[at + marker.len()..]
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or_default()
                .split("::")
                .filter(|p| !p.is_empty())
                .collect();
            // The longest prefix of the path that is a module.
            let mut target: Vec<&str> = base.clone();
            for part in path {
                let mut next = target.clone();
                next.push(part);
                if known.contains(&next.join("::")) {
                    target = next;
                } else {
                    break;
                }
            }
            found.insert(target.join("::"));
        }
    }
    found.remove(module);
    found
}

/// `a::b` and `c::d` as the two children of their common ancestor that contain them; `None`
/// when one contains the other (a parent declares its children).
fn siblings(a: &str, b: &str) -> Option<(String, String)> {
    let a: Vec<&str> = a.split("::").filter(|p| !p.is_empty()).collect();
    let b: Vec<&str> = b.split("::").filter(|p| !p.is_empty()).collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == a.len() || common == b.len() {
        return None;
    }
    Some((a[..=common].join("::"), b[..=common].join("::")))
}

fn cycles(crate_dir: &Path) -> Vec<String> {
    let modules = modules(crate_dir);
    let known: BTreeSet<String> = modules.iter().map(|(m, _)| m.clone()).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut upward = Vec::new();
    for (module, text) in &modules {
        for target in references(module, text, &known) {
            match siblings(module, &target) {
                Some((from, to)) => {
                    graph.entry(from).or_default().insert(to);
                }
                // A module naming one of its ancestors reaches back up.
                None if module.starts_with(&target) => {
                    upward.push(format!("{module} -> {}", display(&target)))
                }
                None => {}
            }
        }
    }
    let mut found = upward;
    for (from, targets) in &graph {
        for to in targets {
            if reaches(&graph, to, from, &mut BTreeSet::new()) {
                found.push(format!("{from} -> {to} -> … -> {from}"));
            }
        }
    }
    found
}

fn display(module: &str) -> &str {
    if module.is_empty() { "crate" } else { module }
}

fn reaches(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
    seen: &mut BTreeSet<String>,
) -> bool {
    from == to
        || (seen.insert(from.to_string())
            && graph
                .get(from)
                .is_some_and(|next| next.iter().any(|n| reaches(graph, n, to, seen))))
}

#[test]
fn no_module_cycles() {
    let mut dirs: Vec<PathBuf> = LIBRARIES
        .iter()
        .map(|c| root().join("crates").join(c).join("src"))
        .collect();
    dirs.push(root().join("crates/cli"));
    let found: Vec<String> = dirs
        .iter()
        .flat_map(|dir| {
            cycles(dir)
                .into_iter()
                .map(move |c| format!("{}: {c}", dir.display()))
        })
        .collect();
    assert!(found.is_empty(), "module cycles:\n{}", found.join("\n"));
}

#[test]
fn the_cycle_check_sees_a_cycle() {
    let known: BTreeSet<String> = ["", "a", "b"].map(String::from).into();
    assert_eq!(
        references("a", "use crate::b::Thing; fn f() -> crate::a::X {}", &known),
        BTreeSet::from(["b".to_string()])
    );
    assert_eq!(
        siblings("scan::table", "report::stats"),
        Some(("scan".into(), "report".into()))
    );
    assert_eq!(siblings("dense", "dense::exec"), None);

    let tree = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = tree.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "mod a;\nmod b;\npub(crate) fn helper() {}\n");
    write("a/mod.rs", "mod inner;\n");
    write(
        "a/inner.rs",
        "use crate::b::B;\n// crate::b is fine in a comment\n",
    );
    write(
        "b.rs",
        "use super::a::A;\n#[cfg(test)]\nmod tests { use crate::helper; }\n",
    );
    assert_eq!(
        cycles(tree.path()),
        ["a -> b -> … -> a", "b -> a -> … -> b"]
    );
    write("b.rs", "fn f() { crate::helper() }\n");
    assert_eq!(cycles(tree.path()), ["b -> crate"]);
}

/// `Result<T, String>` return types: where a caller would have to read a message to know what
/// went wrong.
fn string_results(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("Result<") {
        let mut depth = 0;
        let mut args = String::new();
        for c in text[at + "Result<".len()..].chars() {
            match c {
                '<' | '(' => depth += 1,
                '>' | ')' if depth == 0 => break,
                '>' | ')' => depth -= 1,
                _ => {}
            }
            args.push(c);
        }
        let mut depth = 0;
        let last = args
            .rsplit(|c: char| {
                match c {
                    '<' | '(' => depth -= 1,
                    '>' | ')' => depth += 1,
                    _ => {}
                }
                c == ',' && depth == 0
            })
            .next()
            .unwrap_or_default();
        if args.contains(',') && last.trim() == "String" {
            found.push(format!("Result<{args}>"));
        }
    }
    found
}

#[test]
fn libraries_return_typed_errors() {
    assert_eq!(
        string_results("fn f() -> Result<Vec<(u8, String)>, String> {}"),
        ["Result<Vec<(u8, String)>, String>"]
    );
    assert!(string_results("fn f() -> Result<String, Error> {}").is_empty());
    let mut found = Vec::new();
    for library in LIBRARIES {
        for (module, text) in modules(&root().join("crates").join(library).join("src")) {
            for hit in string_results(&text) {
                found.push(format!("{library}::{module}: {hit}"));
            }
        }
    }
    assert!(found.is_empty(), "string errors:\n{}", found.join("\n"));
}

#[test]
fn catalog_sql_and_store_know_nothing_of_datafusion() {
    for library in ["catalog", "sql", "store"] {
        let manifest =
            std::fs::read_to_string(root().join("crates").join(library).join("Cargo.toml"))
                .unwrap();
        for dependency in ["datafusion", "arrow", "parquet"] {
            assert!(
                !manifest
                    .lines()
                    .any(|l| l.trim_start().starts_with(dependency)),
                "crates/{library} depends on {dependency}"
            );
        }
    }
}
