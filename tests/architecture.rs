//! The layering rule of `ARCHITECTURE.md`, checked: each top-level module of `src/` imports only
//! modules of lower layers, or of its own layer without forming a cycle; nothing below the HTTP
//! layer knows the application state or the route table; no source file outside `tests/` grows
//! past 600 lines; and no crate of the workspace has an import cycle among its modules.
//!
//! The layer of each module comes from the table in `ARCHITECTURE.md` itself, so the picture a
//! newcomer reads and the rule CI enforces cannot drift apart. `.ci/run` runs this first.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The longest a source file outside `tests/` may be.
const MAX_LINES: usize = 600;
/// The layer that owns `AppState` and the route table; nothing below it may name them.
const HTTP: &str = "http";
/// What only the HTTP layer and above may name.
const HTTP_ONLY: [&str; 4] = ["AppState", "State<", "http::routes", "http::Route"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_import_points_down_the_layers() {
    let layers = layers(&root().join("ARCHITECTURE.md"));
    let graph = module_graph(&root().join("src"));
    let mut wrong = Vec::new();
    for module in graph.keys() {
        if !layers.contains_key(module) {
            wrong.push(format!(
                "src/{module} has no layer: add it to the table in ARCHITECTURE.md"
            ));
        }
    }
    for (from, imports) in &graph {
        for (to, file) in imports {
            let (Some(a), Some(b)) = (layers.get(from), layers.get(to)) else {
                continue;
            };
            if b > a {
                wrong.push(format!(
                    "{file}: `{from}` (layer {a}) imports `crate::{to}` (layer {b}), a layer above it"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_module_graphs_have_no_cycles() {
    let mut crates = vec![root().join("src")];
    crates.extend(member_sources());
    let mut cycles = Vec::new();
    for src in crates {
        let graph = module_graph(&src);
        for component in strongly_connected(&graph) {
            cycles.push(format!(
                "{}: {} (all of {} are in one circle)",
                src.display(),
                a_cycle(&graph, &component),
                component.join(", ")
            ));
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles among top-level modules (each must import only layers below it, see ARCHITECTURE.md):\n{}",
        cycles.join("\n")
    );
}

#[test]
fn nothing_below_the_http_layer_knows_the_app_state_or_the_routes() {
    let layers = layers(&root().join("ARCHITECTURE.md"));
    let http = layers[HTTP];
    let mut wrong = Vec::new();
    for file in rust_files(&root().join("src")) {
        let Some(module) = top_module(&root().join("src"), &file) else {
            continue;
        };
        if layers.get(&module).is_none_or(|layer| *layer >= http) {
            continue;
        }
        let code = strip_comments(&fs::read_to_string(&file).unwrap());
        for name in HTTP_ONLY {
            if names(&code, name) {
                wrong.push(format!("{}: names `{name}`", relative(&file)));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_source_file_outside_tests_is_longer_than_600_lines() {
    let mut dirs = vec![root().join("src"), root().join("benches")];
    dirs.extend(member_sources());
    let mut long = Vec::new();
    for file in dirs.iter().flat_map(|dir| rust_files(dir)) {
        let lines = fs::read_to_string(&file).unwrap().lines().count();
        if lines > MAX_LINES {
            long.push(format!("{}: {lines} lines", relative(&file)));
        }
    }
    assert!(
        long.is_empty(),
        "split these by what their parts own:\n{}",
        long.join("\n")
    );
}

/// Module name → layer, from the rows of ARCHITECTURE.md's layer table: `| 3 | `store` | … |`.
fn layers(doc: &Path) -> BTreeMap<String, u32> {
    let text = fs::read_to_string(doc).expect("ARCHITECTURE.md is readable");
    let mut layers = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let [_, layer, modules, ..] = cells.as_slice() else {
            continue;
        };
        let Ok(layer) = layer.parse::<u32>() else {
            continue;
        };
        for name in modules.split('`').skip(1).step_by(2) {
            let name = name.trim_end_matches('/').to_owned();
            assert!(
                layers.insert(name.clone(), layer).is_none(),
                "ARCHITECTURE.md lists `{name}` twice"
            );
        }
    }
    assert!(
        layers.contains_key(HTTP),
        "ARCHITECTURE.md has no layer table"
    );
    layers
}

/// Top-level module → the modules it names (with one file that does), for the crate at `src`.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let files = rust_files(src);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| top_module(src, f)).collect();
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = modules
        .iter()
        .map(|m| (m.clone(), BTreeMap::new()))
        .collect();
    for file in &files {
        let Some(from) = top_module(src, file) else {
            continue;
        };
        let code = strip_comments(&fs::read_to_string(file).unwrap());
        for to in named_modules(&code, depth(src, file)) {
            if to != from && modules.contains(&to) {
                graph
                    .get_mut(&from)
                    .unwrap()
                    .entry(to)
                    .or_insert_with(|| relative(file));
            }
        }
    }
    graph
}

/// The top-level modules a file names: `crate::x`, `crate::{x, y::z}`, and `super::` paths that
/// climb out to the crate root (`super::x` in `src/a.rs`, `super::super::x` in `src/a/b.rs`).
fn named_modules(code: &str, depth: usize) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let preceded_by_ident = code[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        if preceded_by_ident {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            named.extend(group.split(',').filter_map(|item| ident(item.trim_start())));
        } else {
            named.extend(ident(rest));
        }
    }
    for (i, _) in code.match_indices("super::") {
        if code[..i].ends_with("super::") {
            continue;
        }
        let mut rest = &code[i..];
        let mut climbs = 0;
        while let Some(next) = rest.strip_prefix("super::") {
            climbs += 1;
            rest = next;
        }
        if climbs == depth {
            named.extend(ident(rest));
        }
    }
    named
}

/// Whether `code` holds `word` not as the tail of a longer identifier (`State<` but not
/// `PauseState<`).
fn names(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(i, _)| {
        !code[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

fn ident(text: &str) -> Option<String> {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    let name = &text[..end];
    (!name.is_empty() && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_'))
        .then(|| name.to_owned())
}

/// `src/a.rs` and `src/a/**` belong to `a`; the crate roots to no module.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let first = file.strip_prefix(src).ok()?.components().next()?;
    let name = first.as_os_str().to_str()?;
    let name = name.strip_suffix(".rs").unwrap_or(name);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

/// How many `super::` reach the crate root from `file`: 1 in `src/a.rs` and `src/a/mod.rs`, 2 in
/// `src/a/b.rs`, …
fn depth(src: &Path, file: &Path) -> usize {
    let parts = file.strip_prefix(src).unwrap().components().count();
    if file.file_name().is_some_and(|n| n == "mod.rs") {
        parts - 1
    } else {
        parts
    }
}

/// Components of the graph with more than one module, by Tarjan's algorithm.
/// One concrete circle through the first module of a strongly connected `component`, each step
/// with the file whose import makes it: `store → http (src/store/mod.rs) → … → store (…)`.
fn a_cycle(graph: &BTreeMap<String, BTreeMap<String, String>>, component: &[String]) -> String {
    let start = &component[0];
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.as_str()]);
    while let Some(v) = queue.pop_front() {
        for w in graph[v].keys().filter(|w| component.contains(*w)) {
            if w == start {
                let mut path = vec![(w.as_str(), v)];
                let mut at = v;
                while at != start {
                    let previous = came_from[at];
                    path.push((at, previous));
                    at = previous;
                }
                path.reverse();
                let steps: Vec<String> = path
                    .iter()
                    .map(|(to, from)| format!("{to} ({})", graph[*from][*to]))
                    .collect();
                return format!("{start} → {}", steps.join(" → "));
            }
            if !came_from.contains_key(w.as_str()) {
                came_from.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    component.join(" → ")
}

fn strongly_connected(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeMap<String, String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph[v].keys() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found
}

/// Code without `//` and `/* */` comments (doc comments mention paths that are not imports).
/// String literals are kept; none of ccbridge's spell a `crate::` path.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |end| &after[end + 2..]);
        } else if rest.starts_with("//") {
            rest = rest.find('\n').map_or("", |end| &rest[end..]);
        } else {
            let next = rest.find('/').map_or(rest.len(), |i| i.max(1));
            out.push_str(&rest[..next]);
            rest = &rest[next..];
        }
    }
    out
}

/// The `src/` of every other workspace member (`crates/*/src`).
fn member_sources() -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root().join("crates")) else {
        return Vec::new();
    };
    let mut sources: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("src"))
        .filter(|src| src.is_dir())
        .collect();
    sources.sort();
    sources
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn relative(file: &Path) -> String {
    file.strip_prefix(root())
        .unwrap_or(file)
        .display()
        .to_string()
}

#[test]
fn the_checker_reads_imports_the_way_rust_does() {
    let code = strip_comments(
        "use crate::{store::Store, config};\n// crate::http\n/* crate::cli */ let x = crate::domain::EmailAddress::parse(s);\nuse super::tokens;\nuse super::super::alerts;",
    );
    let at_depth_1: Vec<String> = named_modules(&code, 1).into_iter().collect();
    assert_eq!(at_depth_1, ["config", "domain", "store", "tokens"]);
    let at_depth_2: Vec<String> = named_modules(&code, 2).into_iter().collect();
    assert_eq!(at_depth_2, ["alerts", "config", "domain", "store"]);
    assert!(names("fn f(State(s): State<Store>)", "State<"));
    assert!(!names("let p: PauseState<u8>;", "State<"));
    let doc = "| 2 | `config`, `telemetry` | x |\n| 1 | `domain/` | y |\n| 7 | `http/` | z |";
    let dir = std::env::temp_dir().join(format!("arch-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("A.md"), doc).unwrap();
    let parsed = layers(&dir.join("A.md"));
    assert_eq!(parsed["telemetry"], 2);
    assert_eq!(parsed["domain"], 1);
    fs::remove_dir_all(dir).unwrap();
}
