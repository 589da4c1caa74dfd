//! Timing, medians and the report of `cargo xtask perf`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

/// Seconds taken by one run of `work`.
pub fn time(mut work: impl FnMut()) -> f64 {
    let started = Instant::now();
    work();
    black_box(());
    started.elapsed().as_secs_f64()
}

/// The median of `values` (which it sorts).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// Times `work` `reps` times after one warm-up run; returns the seconds of
/// each run.
pub fn repeat(reps: usize, mut work: impl FnMut()) -> Vec<f64> {
    work();
    (0..reps).map(|_| time(&mut work)).collect()
}

/// Times `work` and `baseline` alternately, `reps` times each after one
/// warm-up of each, flipping which goes first every repetition; returns the
/// seconds of each run of each.
pub fn interleave(
    reps: usize,
    mut work: impl FnMut(),
    mut baseline: impl FnMut(),
) -> (Vec<f64>, Vec<f64>) {
    work();
    baseline();
    let mut work_times = Vec::with_capacity(reps);
    let mut baseline_times = Vec::with_capacity(reps);
    for rep in 0..reps {
        if rep % 2 == 1 {
            baseline_times.push(time(&mut baseline));
            work_times.push(time(&mut work));
        } else {
            work_times.push(time(&mut work));
            baseline_times.push(time(&mut baseline));
        }
    }
    (work_times, baseline_times)
}

/// One line of the report.
pub struct Row {
    pub name: &'static str,
    pub unit: &'static str,
    pub value: f64,
    pub min: f64,
    pub max: f64,
    pub baseline: Option<(&'static str, f64)>,
    pub note: String,
}

impl Row {
    /// A row from per-run figures (already in the row's unit).
    pub fn new(
        name: &'static str,
        unit: &'static str,
        mut figures: Vec<f64>,
        note: impl Into<String>,
    ) -> Self {
        let min = figures.iter().copied().fold(f64::INFINITY, f64::min);
        let max = figures.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Row {
            name,
            unit,
            value: median(&mut figures),
            min,
            max,
            baseline: None,
            note: note.into(),
        }
    }

    /// The same row with a baseline measured alongside.
    pub fn with_baseline(mut self, name: &'static str, mut figures: Vec<f64>) -> Self {
        self.baseline = Some((name, median(&mut figures)));
        self
    }

    pub fn ratio(&self) -> Option<f64> {
        self.baseline.map(|(_, baseline)| self.value / baseline)
    }

    /// The row as one tab-separated line, for a process that measures rows
    /// (the peers example) to hand them to the one that reports them.
    #[allow(dead_code, reason = "used by examples/peers.rs")]
    pub fn to_line(&self) -> String {
        let (baseline_name, baseline) = self.baseline.unwrap_or(("-", f64::NAN));
        format!(
            "{}\t{}\t{}\t{}\t{}\t{baseline_name}\t{baseline}\t{}",
            self.name, self.unit, self.value, self.min, self.max, self.note
        )
    }

    /// The row of a line of [`Row::to_line`]; names are leaked, as rows of
    /// one run live until the process ends.
    pub fn from_line(line: &str) -> Option<Row> {
        let fields: Vec<&str> = line.splitn(8, '\t').collect();
        let [name, unit, value, min, max, baseline_name, baseline, note] = fields[..] else {
            return None;
        };
        let leak = |text: &str| -> &'static str { Box::leak(text.to_owned().into_boxed_str()) };
        Some(Row {
            name: leak(name),
            unit: leak(unit),
            value: value.parse().ok()?,
            min: min.parse().ok()?,
            max: max.parse().ok()?,
            baseline: (baseline_name != "-")
                .then(|| Some((leak(baseline_name), baseline.parse().ok()?)))
                .flatten(),
            note: note.to_owned(),
        })
    }
}

/// GB/s (10^9 bytes per second) of moving `bytes` in each of `seconds`.
pub fn gigabytes_per_second(bytes: usize, seconds: &[f64]) -> Vec<f64> {
    seconds.iter().map(|&s| bytes as f64 / s / 1e9).collect()
}

/// Nanoseconds per item of `items` done in each of `seconds`.
pub fn nanoseconds_per(items: usize, seconds: &[f64]) -> Vec<f64> {
    seconds.iter().map(|&s| s * 1e9 / items as f64).collect()
}

/// The human-readable table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<38} {:<9} {:>10} {:>10} {:>10} {:>10} {:>7}  note",
        "name", "unit", "median", "min", "max", "baseline", "ratio"
    );
    for row in rows {
        let _ = write!(
            out,
            "{:<38} {:<9} {:>10.4} {:>10.4} {:>10.4} ",
            row.name, row.unit, row.value, row.min, row.max
        );
        match (row.baseline, row.ratio()) {
            (Some((_, baseline)), Some(ratio)) => {
                let _ = write!(out, "{baseline:>10.4} {ratio:>7.3}");
            }
            _ => {
                let _ = write!(out, "{:>10} {:>7}", "-", "-");
            }
        }
        let baseline_note = row
            .baseline
            .map(|(name, _)| format!("; baseline {name}"))
            .unwrap_or_default();
        let _ = writeln!(out, "  {}{baseline_note}", row.note);
    }
    out
}

/// The JSON of PERF.md: one object per row with name, unit, value,
/// baseline (or null) and ratio (or null).
pub fn json(rows: &[Row]) -> String {
    let mut out = String::from("[\n");
    for (index, row) in rows.iter().enumerate() {
        let (baseline, ratio) = match (row.baseline, row.ratio()) {
            (Some((_, baseline)), Some(ratio)) => (format!("{baseline:.6}"), format!("{ratio:.6}")),
            _ => ("null".to_owned(), "null".to_owned()),
        };
        let _ = write!(
            out,
            "  {{\"name\": \"{}\", \"unit\": \"{}\", \"value\": {:.6}, \"baseline\": {baseline}, \"ratio\": {ratio}}}",
            row.name, row.unit, row.value
        );
        out.push_str(if index + 1 < rows.len() { ",\n" } else { "\n" });
    }
    out.push_str("]\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn json_has_nulls_without_a_baseline() {
        let rows = [
            Row::new("a", "GB/s", vec![2.0, 4.0, 3.0], "").with_baseline("b", vec![6.0]),
            Row::new("b", "bytes", vec![32.0], ""),
        ];
        let text = json(&rows);
        assert!(text.contains("\"name\": \"a\", \"unit\": \"GB/s\", \"value\": 3.000000, \"baseline\": 6.000000, \"ratio\": 0.500000"));
        assert!(text.contains("\"baseline\": null, \"ratio\": null"));
        assert!(table(&rows).contains("0.500"));
    }

    #[test]
    fn rows_survive_a_line() {
        let rows = [
            Row::new("a", "GB/s", vec![2.0, 4.0, 3.0], "a note").with_baseline("b", vec![6.0]),
            Row::new("b", "bytes", vec![32.0], ""),
        ];
        for row in rows {
            let back = Row::from_line(&row.to_line()).expect("parses");
            assert_eq!(
                (back.name, back.unit, back.note),
                (row.name, row.unit, row.note)
            );
            assert_eq!(
                (back.value, back.min, back.max),
                (row.value, row.min, row.max)
            );
            assert_eq!(back.baseline, row.baseline);
        }
    }
}
