//! `bench/results/latest.md` names, for each measure, the newest recorded report of it: a new report added
//! without updating the index, or an index row whose date or commit is not its report's, fails here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn results_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/results")
}

/// What a report's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Report {
    file: String,
    /// `YYYY-MM-DD HH:MM`, UTC: sorts in time order.
    run: String,
    commit: String,
    /// The measures it holds, as their headings say them (`1. Notification intake (closed loop)`).
    measures: Vec<String>,
}

fn read_report(path: &Path) -> Report {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let file = path.file_name().expect("a file name").to_string_lossy().into_owned();
    let run = text
        .lines()
        .find_map(|l| l.strip_prefix("Run ").and_then(|r| r.strip_suffix(" UTC.")))
        .unwrap_or_else(|| panic!("{file}: no `Run ... UTC.` line"))
        .to_owned();
    let commit = text
        .lines()
        .find_map(|l| l.strip_prefix("- Git commit: "))
        .unwrap_or_else(|| panic!("{file}: no `- Git commit:` line"))
        .trim()
        .to_owned();
    let measures = text
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .filter(|h| h.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect();
    Report {
        file,
        run,
        commit,
        measures,
    }
}

/// The file a Markdown link `[text](file)` points at.
fn link_target(cell: &str) -> Option<&str> {
    cell.split_once("](")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(target, _)| target)
}

#[test]
fn the_index_names_the_newest_report_of_each_measure() {
    let index = std::fs::read_to_string(results_dir().join("latest.md")).expect("bench/results/latest.md");
    // Rows: | measure | [file](file) | run | commit |
    let rows: BTreeMap<String, (String, String, String)> = index
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("]("))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 4, "a row of four cells: {l}");
            let file = link_target(cells[1])
                .unwrap_or_else(|| panic!("a link in {l}"))
                .to_owned();
            (cells[0].to_owned(), (file, cells[2].to_owned(), cells[3].to_owned()))
        })
        .collect();
    let not_kept: Vec<&str> = index
        .lines()
        .filter(|l| l.starts_with("Not a result"))
        .flat_map(|l| l.split("](").skip(1).filter_map(|rest| rest.split(')').next()))
        .collect();

    let mut newest: BTreeMap<String, Report> = BTreeMap::new();
    for entry in std::fs::read_dir(results_dir()).expect("bench/results") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().expect("a name").to_string_lossy().into_owned();
        if !name.ends_with(".md") || name == "latest.md" || not_kept.contains(&name.as_str()) {
            continue;
        }
        let report = read_report(&path);
        for measure in &report.measures {
            let newer = newest.get(measure).is_none_or(|seen| report.run > seen.run);
            if newer {
                newest.insert(measure.clone(), report.clone());
            }
        }
    }
    assert!(!newest.is_empty(), "no report found");
    for (measure, report) in &newest {
        let (file, run, commit) = rows
            .get(measure)
            .unwrap_or_else(|| panic!("latest.md has no row for {measure:?} (newest: {})", report.file));
        assert_eq!(file, &report.file, "{measure}: the newest report is {}", report.file);
        assert_eq!(
            (run, commit),
            (&report.run, &report.commit),
            "{measure}: as {} says",
            report.file
        );
    }
    for measure in rows.keys() {
        assert!(
            newest.contains_key(measure),
            "latest.md names {measure:?}, which no report holds"
        );
    }
}
