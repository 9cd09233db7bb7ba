//! The card layout as data (`card-templates/*.toml`), so the office can change texts and
//! positions without touching code.
//!
//! Positions are in millimetres from the card's **top-left** corner (y grows downwards, text
//! `y` is the baseline); text sizes are in points. Loading refuses an unknown or missing field,
//! a position off the card, a missing font file and a template text the font cannot draw, with a
//! message naming the field.

use crate::card::error::CardError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// ISO/IEC 7810 ID-1 width in mm.
pub const CARD_WIDTH_MM: f32 = 85.6;
/// ISO/IEC 7810 ID-1 height in mm.
pub const CARD_HEIGHT_MM: f32 = 54.0;
/// A4 width in mm.
pub const A4_WIDTH_MM: f32 = 210.0;
/// A4 height in mm.
pub const A4_HEIGHT_MM: f32 = 297.0;
/// Cards per sheet: 2 columns × 5 rows.
pub const SHEET_COLUMNS: usize = 2;
/// Rows per sheet.
pub const SHEET_ROWS: usize = 5;
/// The smallest QR (with quiet zone) we print: below it a version-10 module drops under
/// 0.25 mm, which desk scanners read poorly.
pub const MIN_QR_MM: f32 = 18.0;

/// A whole card template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Office details printed on the card.
    pub office: Office,
    /// The font.
    pub font: FontSpec,
    /// The front side.
    pub front: Front,
    /// The back side.
    pub back: Back,
    /// The A4 batch sheet.
    pub sheet: Sheet,
}

/// The issuing office.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Office {
    /// Its name, e.g. 某某区卫生健康局.
    pub name: String,
    /// The hotline printed on the back.
    pub hotline: String,
}

/// The font: a TrueType/OpenType file or collection with CJK and Latin glyphs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FontSpec {
    /// Candidate paths; the first that exists is used (relative paths are relative to the
    /// template file), so one template works with either Debian font package installed.
    pub paths: Vec<PathBuf>,
    /// The face index inside a collection (`.ttc`), 0 for a plain font.
    #[serde(default)]
    pub index: usize,
}

/// A fixed text.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// The text.
    pub text: String,
    /// Left edge, mm.
    pub x: f32,
    /// Baseline, mm from the top.
    pub y: f32,
    /// Size in points.
    pub size: f32,
}

/// A label followed by a value filled in per card.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// The label, e.g. `姓名：`.
    pub label: String,
    /// Left edge, mm.
    pub x: f32,
    /// Baseline, mm from the top.
    pub y: f32,
    /// Size in points.
    pub size: f32,
}

/// Where the QR goes: a square including its 4-module quiet zone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QrSpec {
    /// Left edge of the quiet zone, mm.
    pub x: f32,
    /// Top edge of the quiet zone, mm.
    pub y: f32,
    /// Side of the square, mm.
    pub size: f32,
}

/// The front side.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Front {
    /// The title, 计划生育特殊家庭方便就医卡.
    pub title: Text,
    /// The holder's full name.
    pub name: Field,
    /// The card number (serial).
    pub serial: Field,
    /// The validity period.
    pub validity: Field,
    /// The issuing office.
    pub office: Field,
    /// The QR.
    pub qr: QrSpec,
}

/// A list of lines (the priorities).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lines {
    /// The lines, laid out in `columns` columns.
    pub items: Vec<String>,
    /// Left edge of the first column, mm.
    pub x: f32,
    /// Baseline of the first line, mm from the top.
    pub y: f32,
    /// Size in points.
    pub size: f32,
    /// Distance between baselines, mm.
    pub line_height: f32,
    /// Number of columns.
    pub columns: usize,
    /// Distance between column left edges, mm.
    pub column_width: f32,
}

/// The back side.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Back {
    /// A heading above the priorities.
    pub heading: Text,
    /// The six priorities.
    pub priorities: Lines,
    /// The hotline.
    pub hotline: Field,
    /// A closing note (e.g. 本卡仅限本人使用).
    pub note: Text,
}

/// The A4 batch sheet: 2 × 5 cards, edge to edge or with gaps, with cut marks in the margins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sheet {
    /// Left margin to the first column, mm.
    pub margin_left: f32,
    /// Top margin to the first row, mm.
    pub margin_top: f32,
    /// Horizontal gap between cards, mm.
    pub gap_x: f32,
    /// Vertical gap between cards, mm.
    pub gap_y: f32,
    /// Length of each cut mark, mm.
    pub cut_mark: f32,
}

/// The default layout, built into the binary: a service started from any directory prints
/// cards (its font path is absolute). `--card-template` overrides it.
pub const DEFAULT: &str = include_str!("../../card-templates/default.toml");

impl Template {
    /// The built-in default layout ([`DEFAULT`]).
    pub fn builtin() -> Result<Self, CardError> {
        Self::parse(DEFAULT, Path::new("/"))
    }

    /// The template in `path`, or the built-in default without one.
    pub fn load_or_builtin(path: Option<&Path>) -> Result<Self, CardError> {
        path.map_or_else(Self::builtin, Self::load)
    }

    /// Reads and validates a template file.
    pub fn load(path: &Path) -> Result<Self, CardError> {
        let text = std::fs::read_to_string(path).map_err(|e| CardError::io(path, e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base)
    }

    /// Parses and validates template text; relative font paths resolve against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, CardError> {
        let mut t: Template =
            toml::from_str(text).map_err(|e| CardError::Template(e.to_string()))?;
        for p in t.font.paths.iter_mut() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        t.validate()?;
        Ok(t)
    }

    /// The font file to use: the first configured path that exists.
    pub fn font_path(&self) -> Result<&Path, CardError> {
        self.font
            .paths
            .iter()
            .find(|p| p.is_file())
            .map(PathBuf::as_path)
            .ok_or_else(|| {
                let tried: Vec<String> = self
                    .font
                    .paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                CardError::Template(format!(
                    "font.paths: no font file found (tried {}); install fonts-wqy-microhei",
                    tried.join(", ")
                ))
            })
    }

    /// Every fixed text with the name of its field, for the glyph check.
    pub fn fixed_texts(&self) -> Vec<(String, &str)> {
        let mut out = vec![
            ("office.name".to_owned(), self.office.name.as_str()),
            ("office.hotline".to_owned(), self.office.hotline.as_str()),
            (
                "front.title.text".to_owned(),
                self.front.title.text.as_str(),
            ),
            (
                "front.name.label".to_owned(),
                self.front.name.label.as_str(),
            ),
            (
                "front.serial.label".to_owned(),
                self.front.serial.label.as_str(),
            ),
            (
                "front.validity.label".to_owned(),
                self.front.validity.label.as_str(),
            ),
            (
                "front.office.label".to_owned(),
                self.front.office.label.as_str(),
            ),
            (
                "back.heading.text".to_owned(),
                self.back.heading.text.as_str(),
            ),
            (
                "back.hotline.label".to_owned(),
                self.back.hotline.label.as_str(),
            ),
            ("back.note.text".to_owned(), self.back.note.text.as_str()),
        ];
        for (i, item) in self.back.priorities.items.iter().enumerate() {
            out.push((format!("back.priorities.items[{i}]"), item.as_str()));
        }
        out
    }

    fn validate(&self) -> Result<(), CardError> {
        let bad = |field: &str, why: String| Err(CardError::Template(format!("{field}: {why}")));
        let mut points: Vec<(&str, f32, f32, f32)> = vec![
            (
                "front.title",
                self.front.title.x,
                self.front.title.y,
                self.front.title.size,
            ),
            (
                "front.name",
                self.front.name.x,
                self.front.name.y,
                self.front.name.size,
            ),
            (
                "front.serial",
                self.front.serial.x,
                self.front.serial.y,
                self.front.serial.size,
            ),
            (
                "front.validity",
                self.front.validity.x,
                self.front.validity.y,
                self.front.validity.size,
            ),
            (
                "front.office",
                self.front.office.x,
                self.front.office.y,
                self.front.office.size,
            ),
            (
                "back.heading",
                self.back.heading.x,
                self.back.heading.y,
                self.back.heading.size,
            ),
            (
                "back.hotline",
                self.back.hotline.x,
                self.back.hotline.y,
                self.back.hotline.size,
            ),
            (
                "back.note",
                self.back.note.x,
                self.back.note.y,
                self.back.note.size,
            ),
        ];
        let p = &self.back.priorities;
        let rows = p.items.len().div_ceil(p.columns.max(1));
        let last_x = p.x + p.column_width * (p.columns.max(1) - 1) as f32;
        let last_y = p.y + p.line_height * rows.saturating_sub(1) as f32;
        points.push(("back.priorities", p.x, p.y, p.size));
        points.push(("back.priorities (last column/row)", last_x, last_y, p.size));
        for (field, x, y, size) in points {
            if !(0.0..CARD_WIDTH_MM).contains(&x) {
                return bad(
                    field,
                    format!("x = {x} mm is off the card (0 to {CARD_WIDTH_MM})"),
                );
            }
            if !(0.0..=CARD_HEIGHT_MM).contains(&y) {
                return bad(
                    field,
                    format!("y = {y} mm is off the card (0 to {CARD_HEIGHT_MM})"),
                );
            }
            if !(3.0..=36.0).contains(&size) {
                return bad(field, format!("size = {size} pt is outside 3 to 36"));
            }
        }
        if p.items.is_empty() || p.items.len() > 12 {
            return bad("back.priorities.items", "must list 1 to 12 lines".into());
        }
        if p.columns == 0 || p.line_height <= 0.0 || p.column_width < 0.0 {
            return bad(
                "back.priorities",
                "columns, line_height must be positive".into(),
            );
        }
        let q = &self.front.qr;
        if q.size < MIN_QR_MM {
            return bad(
                "front.qr.size",
                format!(
                    "{} mm is below the scannable minimum {MIN_QR_MM} mm",
                    q.size
                ),
            );
        }
        if q.x < 0.0 || q.x + q.size > CARD_WIDTH_MM {
            return bad(
                "front.qr.x",
                format!("the QR ({} + {} mm) runs off the card width", q.x, q.size),
            );
        }
        if q.y < 0.0 || q.y + q.size > CARD_HEIGHT_MM {
            return bad(
                "front.qr.y",
                format!("the QR ({} + {} mm) runs off the card height", q.y, q.size),
            );
        }
        let s = &self.sheet;
        let width = s.margin_left
            + SHEET_COLUMNS as f32 * CARD_WIDTH_MM
            + (SHEET_COLUMNS - 1) as f32 * s.gap_x;
        let height =
            s.margin_top + SHEET_ROWS as f32 * CARD_HEIGHT_MM + (SHEET_ROWS - 1) as f32 * s.gap_y;
        if s.margin_left < 0.0 || s.gap_x < 0.0 || width > A4_WIDTH_MM {
            return bad(
                "sheet.margin_left",
                format!("two columns need {width} mm, A4 is {A4_WIDTH_MM} mm"),
            );
        }
        if s.margin_top < 0.0 || s.gap_y < 0.0 || height > A4_HEIGHT_MM {
            return bad(
                "sheet.margin_top",
                format!("five rows need {height} mm, A4 is {A4_HEIGHT_MM} mm"),
            );
        }
        if !(0.0..=s.margin_left.min(s.margin_top)).contains(&s.cut_mark) {
            return bad("sheet.cut_mark", "must fit in the margins".into());
        }
        if self.font.paths.is_empty() {
            return bad("font.paths", "list at least one font file".into());
        }
        self.font_path()?;
        Ok(())
    }
}
