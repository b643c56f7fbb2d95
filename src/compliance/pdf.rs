//! The Audit Pack PDF (`butterfly report`): a cover (org, snapshot commit and time, framework,
//! profile), a summary per control of the framework, every finding that is not a pass with its
//! evidence (file, field, value) and remediation, the waivers with their approvers, and a
//! verification stamp: the snapshot's commit id and a SHA-256 over the report's data.
//!
//! The report's data is defined as the bytes of the JSON report (`report::json`) of the same
//! run, with the revision named by its commit id; `data_sha256` hashes exactly that. The stamp
//! is also written machine-readably in the PDF's `/Identifier` (an ASCII line, see `Stamp`), so
//! `report verify` can re-run the same check and compare.
//!
//! Pure and deterministic: no clock (the document's dates are the report's time), no random ids (printpdf's trailer `/ID` is replaced by one
//! derived from the data), so the same tree and time give byte-identical files. Text is set in
//! the standard Helvetica and Courier fonts, which show only WinAnsi characters: anything else
//! is replaced (`winansi`). Lines wrap at the margins and pages break where they fill.

use std::collections::BTreeMap;

use printpdf::{
    BuiltinFont, Color, Op, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, Rgb,
    TextItem,
};
use sha2::{Digest, Sha256};

use super::eval::Finding;
use super::report::{self, Report};
use super::rule::{Framework, Profile, Status};
use super::waiver::Waiver;

/// What starts the stamp line, with its format's version.
pub const STAMP_MARK: &str = "butterfly-audit-pack/1";

/// The SHA-256 (lowercase hex) of the report's data: the JSON report's bytes.
pub fn data_sha256(report: &Report<'_>) -> String {
    Sha256::digest(report::json(report).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What `report verify` needs to re-run the check, and the hash to compare with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub commit: String,
    pub framework: Framework,
    pub profile: Profile,
    /// `now` of the run (RFC 3339).
    pub as_of: String,
    pub data_sha256: String,
}

impl Stamp {
    /// `butterfly-audit-pack/1 commit=… framework=… profile=… as-of=… data-sha256=…`: ASCII
    /// without parentheses or backslashes, so it sits unescaped in a PDF string.
    pub fn line(&self) -> String {
        format!(
            "{STAMP_MARK} commit={} framework={} profile={} as-of={} data-sha256={}",
            self.commit,
            self.framework.as_str(),
            self.profile.as_str(),
            self.as_of,
            self.data_sha256
        )
    }

    /// Parses a stamp line; `Err` says what is wrong with it.
    pub fn parse(line: &str) -> Result<Stamp, String> {
        let rest = line
            .strip_prefix(STAMP_MARK)
            .ok_or_else(|| format!("it does not start with `{STAMP_MARK}`"))?;
        let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
        for part in rest.split_whitespace() {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not key=value"))?;
            fields.insert(key, value);
        }
        let get = |key: &str| {
            fields
                .get(key)
                .map(|v| v.to_string())
                .ok_or_else(|| format!("it has no `{key}`"))
        };
        let hex = |text: &str, len: usize| {
            text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
        };
        let commit = get("commit")?;
        if !hex(&commit, 40) {
            return Err(format!("commit `{commit}` is not a commit id"));
        }
        let data_sha256 = get("data-sha256")?;
        if !hex(&data_sha256, 64) {
            return Err(format!("data-sha256 `{data_sha256}` is not a SHA-256"));
        }
        let as_of = get("as-of")?;
        if chrono::DateTime::parse_from_rfc3339(&as_of).is_err() {
            return Err(format!("as-of `{as_of}` is not an RFC 3339 time"));
        }
        Ok(Stamp {
            commit,
            framework: get("framework")?.parse()?,
            profile: get("profile")?.parse()?,
            as_of,
            data_sha256,
        })
    }

    /// The stamp written in a PDF made by `render`: the `/Identifier` string of its
    /// information dictionary. `None` when there is none.
    pub fn find(pdf: &[u8]) -> Option<Result<Stamp, String>> {
        let mark = STAMP_MARK.as_bytes();
        let start = pdf.windows(mark.len()).position(|w| w == mark)?;
        let end = pdf[start..]
            .iter()
            .position(|b| matches!(b, b')' | b'\n' | b'\r' | b'>'))
            .map_or(pdf.len(), |e| start + e);
        Some(match std::str::from_utf8(&pdf[start..end]) {
            Ok(line) => Stamp::parse(line),
            Err(_) => Err("the stamp is not ASCII".into()),
        })
    }
}

/// Everything on the pages besides the report.
pub struct Pack<'a> {
    /// The org (`okta.domain` of `butterfly.toml`).
    pub org: &'a str,
    pub framework: Framework,
    /// `butterfly.toml`'s waivers, listed with their approvers.
    pub waivers: &'a [Waiver],
}

// ---------------------------------------------------------------------------------------------
// Text

/// `text` with every character the standard fonts cannot show (WinAnsi, i.e. Windows-1252)
/// replaced: a few by ASCII look-alikes, the rest by `?`; control characters by spaces.
pub fn winansi(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => " ".to_string(),
            c if c.is_control() => " ".to_string(),
            '→' => "->".to_string(),
            '←' => "<-".to_string(),
            '≤' => "<=".to_string(),
            '≥' => ">=".to_string(),
            '≠' => "!=".to_string(),
            '×' => "x".to_string(),
            '\u{2011}' | '\u{2212}' => "-".to_string(),
            '\u{00a0}' | '\u{2009}' | '\u{202f}' => " ".to_string(),
            c if c.is_ascii() || is_winansi(c) => c.to_string(),
            _ => "?".to_string(),
        })
        .collect()
}

/// Whether Windows-1252 (PDF's WinAnsiEncoding) has the character.
fn is_winansi(c: char) -> bool {
    matches!(c as u32, 0xa0..=0xff)
        || matches!(
            c,
            '€' | '‚'
                | 'ƒ'
                | '„'
                | '…'
                | '†'
                | '‡'
                | 'ˆ'
                | '‰'
                | 'Š'
                | '‹'
                | 'Œ'
                | 'Ž'
                | '\u{2018}'
                | '\u{2019}'
                | '\u{201c}'
                | '\u{201d}'
                | '•'
                | '–'
                | '—'
                | '˜'
                | '™'
                | 'š'
                | '›'
                | 'œ'
                | 'ž'
                | 'Ÿ'
        )
}

/// Helvetica's advance widths (thousandths of an em) of the printable ASCII characters, from
/// Adobe's AFM; other characters count as 611 (wider than most), so lines never overflow.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0..?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P.._
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `..o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p..~
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Face {
    Regular,
    Bold,
    Mono,
}

impl Face {
    fn font(self) -> BuiltinFont {
        match self {
            Face::Regular => BuiltinFont::Helvetica,
            Face::Bold => BuiltinFont::HelveticaBold,
            Face::Mono => BuiltinFont::Courier,
        }
    }

    /// The width of `text` at `size` points. Bold is counted 10% wider than regular (an upper
    /// bound of Helvetica-Bold's widths over Helvetica's for text).
    fn width(self, text: &str, size: f32) -> f32 {
        let units: f32 = text
            .chars()
            .map(|c| match self {
                Face::Mono => 600.0,
                _ => {
                    let base = match c as u32 {
                        32..=126 => f32::from(HELVETICA[c as usize - 32]),
                        _ => 611.0,
                    };
                    if self == Face::Bold { base * 1.1 } else { base }
                }
            })
            .sum();
        units * size / 1000.0
    }
}

/// `text` broken into lines no wider than `width` points: at spaces, and inside words longer
/// than a line (paths, hashes).
fn wrap(text: &str, face: Face, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if face.width(&candidate, size) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // The word alone: cut where it overflows.
        let mut piece = String::new();
        for c in word.chars() {
            piece.push(c);
            if face.width(&piece, size) > width {
                piece.pop();
                lines.push(std::mem::take(&mut piece));
                piece.push(c);
            }
        }
        line = piece;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

// ---------------------------------------------------------------------------------------------
// Layout

/// A4 in points.
const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const MARGIN: f32 = 56.0;
const FOOTER: f32 = 36.0;

fn grey(level: f32) -> Color {
    Color::Rgb(Rgb {
        r: level,
        g: level,
        b: level,
        icc_profile: None,
    })
}

fn red() -> Color {
    Color::Rgb(Rgb {
        r: 0.7,
        g: 0.1,
        b: 0.1,
        icc_profile: None,
    })
}

/// Pages being filled top to bottom.
struct Writer {
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Writer {
    fn new() -> Writer {
        Writer {
            pages: vec![Vec::new()],
            y: PAGE_HEIGHT - MARGIN,
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = PAGE_HEIGHT - MARGIN;
    }

    /// Makes room for `height` points, breaking the page if needed.
    fn room(&mut self, height: f32) {
        if self.y - height < MARGIN + FOOTER {
            self.new_page();
        }
    }

    fn show(&mut self, x: f32, y: f32, text: &str, face: Face, size: f32, color: Color) {
        let ops = self.ops();
        ops.push(Op::StartTextSection);
        ops.push(Op::SetFillColor { col: color });
        ops.push(Op::SetFont {
            font: PdfFontHandle::Builtin(face.font()),
            size: Pt(size),
        });
        ops.push(Op::SetTextCursor {
            pos: Point { x: Pt(x), y: Pt(y) },
        });
        ops.push(Op::ShowText {
            items: vec![TextItem::Text(text.to_string())],
        });
        ops.push(Op::EndTextSection);
    }

    /// A wrapped paragraph at `indent` points from the left margin.
    fn text(&mut self, text: &str, face: Face, size: f32, indent: f32, color: Color) {
        let safe = winansi(text);
        let leading = size * 1.3;
        let width = PAGE_WIDTH - 2.0 * MARGIN - indent;
        for line in wrap(&safe, face, size, width) {
            self.room(leading);
            self.y -= leading;
            self.show(MARGIN + indent, self.y, &line, face, size, color.clone());
        }
    }

    fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    fn heading(&mut self, text: &str, size: f32) {
        // Keep a heading with at least a few lines after it.
        self.room(size * 1.3 + 60.0);
        self.gap(size * 0.6);
        self.text(text, Face::Bold, size, 0.0, grey(0.0));
        self.gap(size * 0.3);
    }

    /// `label: value` with the value in `face`.
    fn field(&mut self, label: &str, value: &str, face: Face) {
        self.text(&format!("{label}:"), Face::Bold, 10.0, 0.0, grey(0.25));
        self.text(value, face, 10.0, 12.0, grey(0.0));
    }

    /// The footer of every page: what this is and where it is.
    fn finish(mut self, footer: &str) -> Vec<Vec<Op>> {
        let total = self.pages.len();
        let footer = winansi(footer);
        for (i, page) in self.pages.iter_mut().enumerate() {
            let text = format!("{footer}  -  page {} of {total}", i + 1);
            page.push(Op::StartTextSection);
            page.push(Op::SetFillColor { col: grey(0.4) });
            page.push(Op::SetFont {
                font: PdfFontHandle::Builtin(BuiltinFont::Helvetica),
                size: Pt(8.0),
            });
            page.push(Op::SetTextCursor {
                pos: Point {
                    x: Pt(MARGIN),
                    y: Pt(MARGIN - 20.0),
                },
            });
            page.push(Op::ShowText {
                items: vec![TextItem::Text(text)],
            });
            page.push(Op::EndTextSection);
        }
        self.pages
    }
}

// ---------------------------------------------------------------------------------------------
// Content

fn status_label(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "FAIL",
        Status::Error => "ERROR",
        Status::NotEvaluated => "not evaluated",
        Status::NotApplicable => "not applicable",
        Status::Waived => "waived",
    }
}

/// A status in a sentence.
fn summary_label(status: Status) -> &'static str {
    match status {
        Status::NotEvaluated => "not evaluated",
        Status::NotApplicable => "not applicable",
        other => other.as_str(),
    }
}

/// A control's rules by their summary status, in the order the summary lists them.
const SUMMARY: [Status; 6] = [
    Status::Pass,
    Status::Fail,
    Status::Waived,
    Status::NotEvaluated,
    Status::Error,
    Status::NotApplicable,
];

fn value_text(value: Option<&serde_json::Value>) -> String {
    match value {
        None => "(absent)".to_string(),
        Some(value) => value.to_string(),
    }
}

fn finding_lines(w: &mut Writer, finding: &Finding) {
    let place = match (&finding.file, &finding.pointer) {
        (Some(file), Some(pointer)) if !pointer.is_empty() => format!("{file} {pointer}"),
        (Some(file), _) => file.clone(),
        (None, _) => "(the org as a whole)".to_string(),
    };
    w.room(30.0);
    let color = if finding.status == Status::Fail {
        red()
    } else {
        grey(0.2)
    };
    w.text(
        &format!("[{}] {place}", status_label(finding.status)),
        Face::Bold,
        9.5,
        12.0,
        color,
    );
    if !finding.message.is_empty() {
        w.text(&finding.message, Face::Regular, 9.5, 24.0, grey(0.0));
    }
    for evidence in &finding.evidence {
        let at = if Some(&evidence.file) == finding.file.as_ref() {
            String::new()
        } else {
            format!("{}: ", evidence.file)
        };
        w.text(
            &format!(
                "{at}{} = {}",
                evidence.field,
                value_text(evidence.value.as_ref())
            ),
            Face::Mono,
            8.5,
            24.0,
            grey(0.15),
        );
    }
    if let Some(waiver) = &finding.waiver {
        let state = if waiver.expired {
            format!("expired on {}", waiver.expires)
        } else {
            format!("until {}", waiver.expires)
        };
        w.text(
            &format!(
                "Waiver approved by {} ({state}): {}",
                waiver.approver, waiver.reason
            ),
            Face::Regular,
            9.0,
            24.0,
            grey(0.25),
        );
    }
}

/// The Audit Pack of a report (checked against `pack.framework`, its revision a commit).
pub fn render(pack: &Pack<'_>, report: &Report<'_>) -> Vec<u8> {
    let framework = pack.framework;
    let sha = data_sha256(report);
    let commit = report.revision.commit.clone().unwrap_or_default();
    let stamp = Stamp {
        commit: commit.clone(),
        framework,
        profile: report.profile,
        as_of: report.now.clone(),
        data_sha256: sha.clone(),
    };
    let mut w = Writer::new();

    // Cover.
    w.gap(40.0);
    w.text("Butterfly Audit Pack", Face::Bold, 26.0, 0.0, grey(0.0));
    w.gap(6.0);
    w.text(framework.title(), Face::Regular, 16.0, 0.0, grey(0.2));
    w.gap(24.0);
    w.field("Org", pack.org, Face::Regular);
    w.field("Snapshot commit", &commit, Face::Mono);
    w.field(
        "Snapshot time",
        report.revision.time.as_deref().unwrap_or("unknown"),
        Face::Regular,
    );
    w.field("Evaluated as of", &report.now, Face::Regular);
    w.field(
        "Framework",
        &format!("{} ({})", framework.title(), framework.as_str()),
        Face::Regular,
    );
    w.field("Profile", report.profile.as_str(), Face::Regular);
    let counts = report.counts();
    let summary: Vec<String> = SUMMARY
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                counts.get(s).copied().unwrap_or(0),
                summary_label(*s)
            )
        })
        .collect();
    w.field(
        "Rules",
        &format!(
            "{} rules mapped to {}: {}",
            report.outcomes.len(),
            framework.as_str(),
            summary.join(", ")
        ),
        Face::Regular,
    );
    w.gap(18.0);
    w.field("Report data SHA-256", &sha, Face::Mono);
    w.text(
        "The SHA-256 is over the bytes of `butterfly check --format json` for this commit, \
         framework, profile and time (with the revision named by its commit id). \
         `butterfly report verify` recomputes it from the repository and compares this file.",
        Face::Regular,
        9.0,
        0.0,
        grey(0.3),
    );
    w.gap(6.0);
    w.text(&stamp.line(), Face::Mono, 7.0, 0.0, grey(0.3));

    // Summary per control.
    w.new_page();
    w.heading(
        &format!("Summary per control ({})", framework.as_str()),
        16.0,
    );
    let mut controls: BTreeMap<&str, Vec<(&str, Status)>> = BTreeMap::new();
    for outcome in &report.outcomes {
        for control in outcome.rule.controls(framework) {
            controls
                .entry(control.as_str())
                .or_default()
                .push((outcome.rule.id.as_str(), outcome.status));
        }
    }
    let mut controls: Vec<(&str, Vec<(&str, Status)>)> = controls.into_iter().collect();
    controls.sort_by_key(|a| natural(a.0));
    for (control, rules) in &controls {
        let tally: Vec<String> = SUMMARY
            .iter()
            .filter_map(|s| {
                let n = rules.iter().filter(|(_, status)| status == s).count();
                (n > 0
                    || matches!(
                        s,
                        Status::Pass | Status::Fail | Status::Waived | Status::NotEvaluated
                    ))
                .then(|| format!("{} {n}", summary_label(*s)))
            })
            .collect();
        w.room(30.0);
        w.text(
            &format!("{control}: {}", tally.join(", ")),
            Face::Bold,
            10.0,
            0.0,
            grey(0.0),
        );
        let listed: Vec<String> = rules
            .iter()
            .map(|(id, status)| format!("{id} {}", summary_label(*status)))
            .collect();
        w.text(&listed.join(", "), Face::Regular, 9.0, 12.0, grey(0.25));
    }
    if controls.is_empty() {
        w.text(
            "No rule is mapped to this framework.",
            Face::Regular,
            10.0,
            0.0,
            grey(0.0),
        );
    }

    // Findings.
    w.new_page();
    w.heading("Findings", 16.0);
    let mut outcomes: Vec<_> = report
        .outcomes
        .iter()
        .filter(|o| o.findings.iter().any(|f| f.status != Status::Pass))
        .filter(|o| o.status != Status::NotApplicable)
        .collect();
    outcomes.sort_by(|a, b| {
        b.rule
            .severity
            .cmp(&a.rule.severity)
            .then(a.rule.id.cmp(&b.rule.id))
    });
    if outcomes.is_empty() {
        w.text("Every rule passes.", Face::Regular, 10.0, 0.0, grey(0.0));
    }
    for outcome in outcomes {
        let rule = outcome.rule;
        w.heading(
            &format!(
                "{} ({}, {}): {}",
                rule.id,
                rule.severity.as_str(),
                outcome.status.as_str(),
                rule.title
            ),
            11.5,
        );
        w.text(
            &format!("Controls: {}", rule.controls(framework).join(", ")),
            Face::Regular,
            9.0,
            0.0,
            grey(0.3),
        );
        for finding in outcome.findings.iter().filter(|f| f.status != Status::Pass) {
            finding_lines(&mut w, finding);
        }
        w.gap(2.0);
        w.text(
            &format!("Remediation: {}", rule.remediation),
            Face::Regular,
            9.5,
            0.0,
            grey(0.1),
        );
    }

    // Waivers.
    w.new_page();
    w.heading("Waivers (butterfly.toml)", 16.0);
    if pack.waivers.is_empty() {
        w.text("No waivers.", Face::Regular, 10.0, 0.0, grey(0.0));
    }
    let today = report.now.get(..10).unwrap_or_default().to_string();
    for waiver in pack.waivers {
        let expires = waiver.expires.format("%Y-%m-%d").to_string();
        let state = if expires < today {
            "expired"
        } else {
            "in force"
        };
        w.room(40.0);
        w.text(
            &format!("{} at {}", waiver.rule, waiver.path),
            Face::Bold,
            10.0,
            0.0,
            grey(0.0),
        );
        w.text(
            &format!(
                "Approved by {}, expires {expires} ({state})",
                waiver.approver
            ),
            Face::Regular,
            9.5,
            12.0,
            grey(0.1),
        );
        w.text(
            &format!("Reason: {}", waiver.reason),
            Face::Regular,
            9.5,
            12.0,
            grey(0.1),
        );
    }

    let short = commit.get(..12).unwrap_or(&commit);
    let pages = w.finish(&format!(
        "Butterfly Audit Pack - {} - {} - commit {short}",
        pack.org,
        framework.as_str()
    ));
    let mut doc = PdfDocument::new(&winansi(&format!(
        "Audit Pack: {} ({})",
        pack.org,
        framework.title()
    )));
    doc.metadata.info.identifier = stamp.line();
    doc.metadata.info.keywords = vec![stamp.line()];
    // The document's dates are the report's time (`--as-of` or the commit's), never the clock.
    let at = chrono::DateTime::parse_from_rfc3339(&report.now).map_or(0, |t| t.timestamp());
    if let Ok(date) = printpdf::OffsetDateTime::from_unix_timestamp(at) {
        doc.metadata.info.creation_date = date;
        doc.metadata.info.modification_date = date;
        doc.metadata.info.metadata_date = date;
    }
    doc.metadata.info.subject = format!(
        "Compliance of {} at commit {commit} against {}",
        pack.org,
        framework.title()
    );
    doc.metadata.info.creator = "butterfly".into();
    doc.metadata.info.producer = "butterfly".into();
    doc.pages = pages
        .into_iter()
        .map(|ops| PdfPage::new(printpdf::Mm(210.0), printpdf::Mm(297.0), ops))
        .collect();
    let mut warnings = Vec::new();
    let bytes = doc.save(&PdfSaveOptions::default(), &mut warnings);
    fixed_id(bytes, &sha)
}

/// A control id's sort key: numbers compared as numbers (`CC6.2` before `CC6.10`).
fn natural(text: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
        } else {
            if !number.is_empty() || !word.is_empty() {
                out.push((std::mem::take(&mut word), number.parse().unwrap_or(0)));
                number.clear();
            }
            word.push(c);
        }
    }
    out.push((word, number.parse().unwrap_or(0)));
    out
}

/// printpdf writes a trailer `/ID` of two strings from a process-wide counter, so two PDFs made
/// by one process differ. Both strings are replaced, byte for byte in place (the file's offsets
/// stay right), by characters of the data's SHA-256.
fn fixed_id(mut bytes: Vec<u8>, sha: &str) -> Vec<u8> {
    let Some(trailer) = bytes.windows(7).rposition(|w| w == b"trailer") else {
        return bytes;
    };
    let Some(id) = bytes[trailer..]
        .windows(3)
        .position(|w| w == b"/ID")
        .map(|p| trailer + p)
    else {
        return bytes;
    };
    let fill = sha.as_bytes();
    let mut at = id;
    for _ in 0..2 {
        let Some(open) = bytes[at..].iter().position(|b| *b == b'(').map(|p| at + p) else {
            break;
        };
        let Some(close) = bytes[open..]
            .iter()
            .position(|b| *b == b')')
            .map(|p| open + p)
        else {
            break;
        };
        for (i, b) in bytes[open + 1..close].iter_mut().enumerate() {
            *b = fill[i % fill.len()];
        }
        at = close + 1;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winansi_keeps_latin_and_replaces_the_rest() {
        assert_eq!(winansi("Zürich – Ünïcödé"), "Zürich – Ünïcödé");
        assert_eq!(winansi("a → b ≤ 3"), "a -> b <= 3");
        assert_eq!(winansi("研究 ☕"), "?? ?");
        assert_eq!(winansi("x\ny\u{7}"), "x y ");
    }

    #[test]
    fn wrapping_respects_the_width_and_cuts_long_words() {
        let lines = wrap(
            "one two three four five six seven",
            Face::Regular,
            10.0,
            60.0,
        );
        assert!(lines.len() > 2, "{lines:?}");
        for line in &lines {
            assert!(Face::Regular.width(line, 10.0) <= 60.0, "{line}");
        }
        assert_eq!(lines.join(" "), "one two three four five six seven");
        let long = "a".repeat(100);
        let lines = wrap(&long, Face::Mono, 10.0, 60.0);
        assert_eq!(lines.concat(), long);
        assert!(lines.iter().all(|l| l.len() <= 10), "{lines:?}");
    }

    #[test]
    fn stamps_round_trip_and_name_what_is_wrong() {
        let stamp = Stamp {
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            framework: Framework::Soc2,
            profile: Profile::Stig,
            as_of: "2026-06-01T00:00:00Z".into(),
            data_sha256: "ab".repeat(32),
        };
        assert_eq!(Stamp::parse(&stamp.line()), Ok(stamp.clone()));
        let found = Stamp::find(format!("x /Identifier ({}) >>", stamp.line()).as_bytes());
        assert_eq!(found, Some(Ok(stamp.clone())));
        let bad = stamp.line().replace("commit=0123", "commit=zz23");
        assert!(Stamp::parse(&bad).unwrap_err().contains("not a commit id"));
        assert_eq!(Stamp::find(b"no stamp here"), None);
    }

    #[test]
    fn control_ids_sort_naturally() {
        let mut ids = vec!["CC6.10", "CC6.2", "A.8.5", "A.5.16", "CC10.1"];
        ids.sort_by_key(|a| natural(a));
        assert_eq!(ids, ["A.5.16", "A.8.5", "CC6.2", "CC6.10", "CC10.1"]);
    }

    /// `small` under the stig profile against SOC 2.
    fn small_report() -> Report<'static> {
        use crate::catalogue::Catalogue;
        use crate::compliance::eval::{self, Context, Coverage};
        use crate::compliance::rule::{Rule, Severity};
        use crate::compliance::tree::{Index, Tree};
        let catalogue = Catalogue::okta().unwrap();
        let fixture = crate::sim::FixtureTree::embedded("small").unwrap();
        let files = fixture
            .files
            .iter()
            .map(|(path, text)| (path.clone(), serde_json::from_str(text).unwrap()))
            .collect();
        let tree = Tree::from_files(catalogue, files);
        let index = Index::new(catalogue, &tree);
        let now = "2026-06-01T00:00:00Z";
        let context = Context {
            now: now.parse().unwrap(),
            taken: Some(now.parse().unwrap()),
            profile: Profile::Stig,
            coverage: Coverage::default(),
        };
        let all: Vec<&Rule> = crate::compliance::okta_rules()
            .unwrap()
            .all()
            .iter()
            .filter(|r| !r.controls(Framework::Soc2).is_empty())
            .collect();
        Report {
            revision: crate::diff::render::Revision {
                rev: "0123456789abcdef0123456789abcdef01234567".into(),
                commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
                time: Some(now.into()),
            },
            now: now.into(),
            profile: Profile::Stig,
            framework: Some(Framework::Soc2),
            min_severity: Severity::Low,
            fail_on: Severity::High,
            outcomes: eval::evaluate(&all, &index, &context),
            unknown_files: Vec::new(),
            baseline: None,
            sources: Default::default(),
        }
    }

    /// Two renders in one process are byte-identical (printpdf's trailer ids come from a
    /// process-wide counter, which `fixed_id` overwrites), and carry their stamp.
    #[test]
    fn renders_are_identical_within_a_process_and_carry_their_stamp() {
        let report = small_report();
        let pack = Pack {
            org: "small.okta.example",
            framework: Framework::Soc2,
            waivers: &[],
        };
        let first = render(&pack, &report);
        let second = render(&pack, &report);
        assert!(first == second, "two renders differ");
        let stamp = Stamp::find(&first)
            .expect("a stamp")
            .expect("a readable stamp");
        assert_eq!(stamp.data_sha256, data_sha256(&report));
        assert_eq!(stamp.commit, "0123456789abcdef0123456789abcdef01234567");
        assert_eq!(stamp.profile, Profile::Stig);
        let text = String::from_utf8_lossy(&first);
        let id = text.rfind("/ID").expect("a trailer /ID");
        assert!(
            text[id..].contains(&data_sha256(&report)[..32]),
            "{}",
            &text[id..id + 100]
        );
    }
}
