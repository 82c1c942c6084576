//! The rules of ARCHITECTURE.md that a machine can check, over the source text of `src/`
//! (tests excluded): no import cycles between the top-level modules, no function longer
//! than 120 lines, and no SQL outside `src/store/`. Run alone with
//! `cargo test --test it architecture`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::helpers::root;

/// The longest function allowed outside tests, in lines.
const MAX_FN_LINES: usize = 120;

/// A source file with comments, strings and character literals blanked out (newlines kept,
/// so line numbers stay right) and its test-only parts removed.
struct Source {
    /// Path under `src/`, e.g. `channels/whatsapp/wire.rs`.
    rel: PathBuf,
    code: String,
}

impl Source {
    /// The top-level module the file belongs to (`channels` for `channels/whatsapp/wire.rs`).
    fn module(&self) -> String {
        let first = self.rel.components().next().unwrap();
        let name = first.as_os_str().to_string_lossy();
        name.trim_end_matches(".rs").to_string()
    }

    fn line_of(&self, at: usize) -> usize {
        self.code[..at].matches('\n').count() + 1
    }
}

/// Blanks comments, string literals (raw ones too) and character literals, keeping newlines.
fn blank(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let blank_range = |out: &mut String, s: &str| {
        out.extend(s.chars().map(|c| if c == '\n' { '\n' } else { ' ' }));
    };
    let mut i = 0;
    while i < b.len() {
        let rest = &src[i..];
        let prev_ident = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if rest.starts_with("//") {
            let end = rest.find('\n').map_or(src.len(), |n| i + n);
            blank_range(&mut out, &src[i..end]);
            i = end;
        } else if rest.starts_with("/*") {
            let (mut depth, mut j) = (0, i);
            while j < b.len() {
                if src[j..].starts_with("/*") {
                    depth += 1;
                    j += 2;
                } else if src[j..].starts_with("*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank_range(&mut out, &src[i..j]);
            i = j;
        } else if !prev_ident
            && (rest.starts_with("r#") || rest.starts_with("r\"") || rest.starts_with("br"))
        {
            let start = if rest.starts_with('b') { i + 2 } else { i + 1 };
            let hashes = src[start..].chars().take_while(|c| *c == '#').count();
            if src[start + hashes..].starts_with('"') {
                let close = format!("\"{}", "#".repeat(hashes));
                let body = start + hashes + 1;
                let end = src[body..]
                    .find(&close)
                    .map_or(src.len(), |n| body + n + close.len());
                blank_range(&mut out, &src[i..end]);
                i = end;
            } else {
                out.push(b[i] as char);
                i += 1;
            }
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(b.len());
            blank_range(&mut out, &src[i..end]);
            i = end;
        } else if b[i] == b'\'' && i + 1 < b.len() && b[i + 1] == b'\\' {
            let end = src[i + 2..].find('\'').map_or(src.len(), |n| i + 2 + n + 1);
            blank_range(&mut out, &src[i..end]);
            i = end;
        } else if b[i] == b'\'' && rest.chars().nth(2) == Some('\'') {
            let len = rest.chars().take(3).map(char::len_utf8).sum::<usize>();
            blank_range(&mut out, &src[i..i + len]);
            i += len;
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The index of the brace that closes the one at `open`.
fn closing(code: &str, open: usize) -> usize {
    let mut depth = 0;
    for (i, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + i;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// Removes items under `#[cfg(test)]` (inline test modules, test helpers), and returns the
/// names of test-only module files they declare (`#[cfg(test)] mod tests;`).
fn without_tests(code: &str) -> (String, Vec<String>) {
    let mut out = code.to_string();
    let mut declared = Vec::new();
    let mut from = 0;
    while let Some(n) = out[from..].find("#[cfg(test)]") {
        let at = from + n;
        let after = at + "#[cfg(test)]".len();
        let item_end = match out[after..].find(['{', ';']) {
            Some(k) if out.as_bytes()[after + k] == b'{' => closing(&out, after + k) + 1,
            Some(k) => {
                let decl = out[after..after + k].trim();
                if let Some(name) = decl.strip_prefix("mod ").or(decl.strip_prefix("pub mod ")) {
                    declared.push(name.trim().to_string());
                }
                after + k + 1
            }
            None => out.len(),
        };
        let blanked: String = out[at..item_end]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        out.replace_range(at..item_end, &blanked);
        from = at + blanked.len();
    }
    (out, declared)
}

fn sources() -> Vec<Source> {
    let src = root().join("src");
    let mut files = Vec::new();
    collect(&src, &mut files);
    let mut parsed = Vec::new();
    let mut test_only: BTreeSet<PathBuf> = BTreeSet::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let (code, declared) = without_tests(&blank(&text));
        let dir = if path.file_name().unwrap() == "mod.rs" || path.parent() == Some(&src) {
            path.parent().unwrap().to_path_buf()
        } else {
            path.with_extension("")
        };
        for name in declared {
            test_only.insert(dir.join(format!("{name}.rs")));
            test_only.insert(dir.join(&name).join("mod.rs"));
        }
        let rel = path.strip_prefix(&src).unwrap().to_path_buf();
        parsed.push((path.clone(), Source { rel, code }));
    }
    parsed
        .into_iter()
        .filter(|(path, s)| !test_only.contains(path) && s.rel != Path::new("main.rs"))
        .map(|(_, s)| s)
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
}

/// Top-level module → the top-level modules it names through `crate::`.
fn module_graph(sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = sources.iter().map(Source::module).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in sources {
        let from = s.module();
        let edges = graph.entry(from.clone()).or_default();
        let code = &s.code;
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                // `use crate::{a, b::c}`: the first segment of each path in the group.
                let group = &group[..closing(rest, 0) - 1];
                split_top_level(group)
                    .into_iter()
                    .map(|p| p.trim().split("::").next().unwrap_or("").trim())
                    .collect()
            } else {
                vec![
                    rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .next()
                        .unwrap_or(""),
                ]
            };
            for name in names {
                if name != from && modules.contains(name) {
                    edges.insert(name.to_string());
                }
            }
        }
    }
    graph
}

/// Splits `a, b::{c, d}, e` at the commas outside braces.
fn split_top_level(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    self.low.insert(v, self.low[v].min(self.low[w]));
                } else if self.on_stack.contains(w) {
                    self.low.insert(v, self.low[v].min(self.index[w]));
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.found
}

/// Every `fn` with a body: (file, line, name, length in lines).
fn functions(s: &Source) -> Vec<(usize, String, usize)> {
    let code = &s.code;
    let mut out = Vec::new();
    for (at, _) in code.match_indices("fn ") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = code[at + 3..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue; // `fn(` pointer types
        }
        let Some(k) = code[at..].find(['{', ';']) else {
            continue;
        };
        if code.as_bytes()[at + k] == b';' {
            continue; // a declaration in a trait
        }
        let end = closing(code, at + k);
        let (first, last) = (s.line_of(at), s.line_of(end));
        out.push((first, name, last - first + 1));
    }
    out
}

#[test]
fn the_modules_import_one_another_without_cycles() {
    let sources = sources();
    let graph = module_graph(&sources);
    let found = cycles(&graph);
    let edges: Vec<String> = graph
        .iter()
        .map(|(m, to)| {
            format!(
                "{m} -> {}",
                to.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    assert!(
        found.is_empty(),
        "import cycles between modules: {found:?}\nthe graph:\n{}",
        edges.join("\n")
    );
    // The checker itself must see the imports (a checker that reads nothing passes).
    assert!(
        graph["app"].contains("http") && graph["http"].contains("store"),
        "{edges:?}"
    );
}

#[test]
fn no_function_outside_tests_is_longer_than_120_lines() {
    let mut long = Vec::new();
    let mut seen = 0;
    for s in sources() {
        for (line, name, len) in functions(&s) {
            seen += 1;
            if len > MAX_FN_LINES {
                long.push(format!(
                    "src/{}:{line}: fn {name} has {len} lines",
                    s.rel.display()
                ));
            }
        }
    }
    assert!(
        seen > 500,
        "only {seen} functions found: the scan is broken"
    );
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn only_the_store_runs_sql() {
    let mut outside = Vec::new();
    for s in sources() {
        if s.rel.starts_with("store") {
            continue;
        }
        for needle in ["sqlx::", ".pool()", "begin_write("] {
            for (at, _) in s.code.match_indices(needle) {
                outside.push(format!(
                    "src/{}:{}: {needle}",
                    s.rel.display(),
                    s.line_of(at)
                ));
            }
        }
    }
    assert!(
        outside.is_empty(),
        "SQL outside src/store/:\n{}",
        outside.join("\n")
    );
}

#[test]
fn the_checks_blank_strings_and_comments_and_skip_tests() {
    let code = "fn a() { let s = \"crate::x }\"; // crate::y {\n let c = '}'; }\n\
                #[cfg(test)]\nmod tests { fn long() {} }\n#[cfg(test)]\nmod more;\n";
    let (stripped, declared) = without_tests(&blank(code));
    assert!(!stripped.contains("crate::"), "{stripped}");
    assert!(!stripped.contains("long"), "{stripped}");
    assert_eq!(declared, vec!["more".to_string()]);
    let s = Source {
        rel: PathBuf::from("x.rs"),
        code: stripped,
    };
    assert_eq!(functions(&s), vec![(1, "a".to_string(), 2)]);
}
