//! The printable card: a two-page ID-1 PDF (front, back) per card, and A4 sheets of 10 cards
//! with cut marks for batch printing. The QR is drawn as vector squares; the CJK font is
//! embedded as a subset (printpdf's `text_layout` feature), which keeps a card near 20 KB.

mod draw;
mod sheet;

use crate::card::error::CardError;
use crate::card::payload::CardSerial;
use crate::card::qr::IssuedCard;
use crate::card::template::{Template, CARD_HEIGHT_MM, CARD_WIDTH_MM};
use chrono::NaiveDate;
use draw::black;
use printpdf::{
    FontId, Mm, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt,
    TextItem,
};
use std::path::Path;

/// What is printed on one card.
#[derive(Debug, Clone)]
pub struct CardFace<'a> {
    /// The holder's full name (it is the holder's own card).
    pub full_name: &'a str,
    /// The signed QR text.
    pub qr_text: &'a str,
    /// The card serial, printed as the card number.
    pub serial: CardSerial,
    /// The issue date.
    pub issued: NaiveDate,
    /// The last valid day.
    pub expires: NaiveDate,
}

impl<'a> CardFace<'a> {
    /// The face of a just-issued card; the full name is the one the card was issued for.
    pub fn from_issued(card: &'a IssuedCard, full_name: &'a str) -> Self {
        Self {
            full_name,
            qr_text: &card.text,
            serial: card.payload.serial,
            issued: card.payload.issued,
            expires: card.payload.expires,
        }
    }
}

/// A loaded template with its parsed font, reused for every card (parsing a CJK font takes
/// far longer than rendering a card).
#[derive(Debug, Clone)]
pub struct CardRenderer {
    template: Template,
    font: ParsedFont,
}

/// A placed piece of text (mm from the card's top-left, size in pt).
struct Placed<'t> {
    text: String,
    x: f32,
    y: f32,
    size: f32,
    field: &'t str,
}

impl CardRenderer {
    /// Loads and validates a template file and its font.
    pub fn load(path: &Path) -> Result<Self, CardError> {
        Self::new(Template::load(path)?)
    }

    /// Loads the template's font and checks every fixed text can be drawn with it.
    pub fn new(template: Template) -> Result<Self, CardError> {
        let path = template.font_path()?;
        let bytes = std::fs::read(path).map_err(|e| CardError::io(path, e))?;
        let font = ParsedFont::from_bytes(&bytes, template.font.index, &mut Vec::new())
            .ok_or_else(|| {
                CardError::Template(format!(
                    "font.paths: {} (face {}) is not a usable TrueType/OpenType font",
                    path.display(),
                    template.font.index
                ))
            })?;
        let renderer = Self { template, font };
        for (field, text) in renderer.template.fixed_texts() {
            renderer.check_glyphs(text, &field)?;
        }
        // Lay the fixed texts out once, so a text that runs off the card is refused at load
        // time rather than at the first card.
        let t = &renderer.template.front.title;
        let width = renderer.text_width_mm(&t.text, t.size);
        if t.x + width > CARD_WIDTH_MM {
            return Err(CardError::Template(format!(
                "front.title: {width:.1} mm wide from x = {} mm runs off the card",
                t.x
            )));
        }
        renderer.back_ops(&FontId::new(), 0.0, CARD_HEIGHT_MM, &mut Vec::new())?;
        Ok(renderer)
    }

    /// The template in use.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// Refuses a text with a character the font cannot draw, naming the character; never an
    /// empty box on a card.
    pub fn check_glyphs(&self, text: &str, field: &str) -> Result<(), CardError> {
        for ch in text.chars().filter(|c| !c.is_whitespace()) {
            if self.font.lookup_glyph_index(u32::from(ch)).unwrap_or(0) == 0 {
                return Err(CardError::MissingGlyph {
                    ch,
                    code: u32::from(ch),
                    field: field.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// The advance width of a text in mm at a size in pt.
    fn text_width_mm(&self, text: &str, size: f32) -> f32 {
        let upem = f32::from(self.font.font_metrics.units_per_em.max(1));
        let units: f32 = text
            .chars()
            .map(|c| {
                let gid = self.font.lookup_glyph_index(u32::from(c)).unwrap_or(0);
                f32::from(self.font.get_horizontal_advance(gid))
            })
            .sum();
        units / upem * size * 25.4 / 72.0
    }

    /// A one-card PDF: page 1 the front, page 2 the back, each 85.6 × 54 mm.
    pub fn render_card(&self, card: &CardFace<'_>) -> Result<Vec<u8>, CardError> {
        let mut doc = PdfDocument::new("计划生育特殊家庭方便就医卡");
        let font = doc.add_font(&self.font);
        let mut front = Vec::new();
        self.front_ops(card, &font, 0.0, CARD_HEIGHT_MM, &mut front)?;
        let mut back = Vec::new();
        self.back_ops(&font, 0.0, CARD_HEIGHT_MM, &mut back)?;
        let pages = vec![
            PdfPage::new(Mm(CARD_WIDTH_MM), Mm(CARD_HEIGHT_MM), front),
            PdfPage::new(Mm(CARD_WIDTH_MM), Mm(CARD_HEIGHT_MM), back),
        ];
        Ok(save(&mut doc, pages))
    }

    fn front_ops(
        &self,
        card: &CardFace<'_>,
        font: &FontId,
        x0: f32,
        top: f32,
        ops: &mut Vec<Op>,
    ) -> Result<(), CardError> {
        self.check_glyphs(card.full_name, "holder name")?;
        let f = &self.template.front;
        let texts = [
            Placed {
                text: f.title.text.clone(),
                x: f.title.x,
                y: f.title.y,
                size: f.title.size,
                field: "front.title",
            },
            Placed {
                text: format!("{}{}", f.name.label, card.full_name.trim()),
                x: f.name.x,
                y: f.name.y,
                size: f.name.size,
                field: "holder name",
            },
            Placed {
                text: format!("{}{}", f.serial.label, card.serial.grouped()),
                x: f.serial.x,
                y: f.serial.y,
                size: f.serial.size,
                field: "front.serial",
            },
            Placed {
                text: format!(
                    "{}{} 至 {}",
                    f.validity.label,
                    card.issued.format("%Y-%m-%d"),
                    card.expires.format("%Y-%m-%d")
                ),
                x: f.validity.x,
                y: f.validity.y,
                size: f.validity.size,
                field: "front.validity",
            },
            Placed {
                text: format!("{}{}", f.office.label, self.template.office.name),
                x: f.office.x,
                y: f.office.y,
                size: f.office.size,
                field: "front.office",
            },
        ];
        self.check_glyphs(&texts[3].text, "front.validity")?;
        self.text_ops(&texts, font, x0, top, ops)?;
        draw::qr_ops(&self.template.front.qr, card.qr_text, x0, top, ops)
    }

    fn back_ops(
        &self,
        font: &FontId,
        x0: f32,
        top: f32,
        ops: &mut Vec<Op>,
    ) -> Result<(), CardError> {
        let b = &self.template.back;
        let mut texts = vec![
            Placed {
                text: b.heading.text.clone(),
                x: b.heading.x,
                y: b.heading.y,
                size: b.heading.size,
                field: "back.heading",
            },
            Placed {
                text: format!("{}{}", b.hotline.label, self.template.office.hotline),
                x: b.hotline.x,
                y: b.hotline.y,
                size: b.hotline.size,
                field: "back.hotline",
            },
            Placed {
                text: b.note.text.clone(),
                x: b.note.x,
                y: b.note.y,
                size: b.note.size,
                field: "back.note",
            },
        ];
        let p = &b.priorities;
        for (i, item) in p.items.iter().enumerate() {
            let (col, row) = (i % p.columns, i / p.columns);
            texts.push(Placed {
                text: item.clone(),
                x: p.x + col as f32 * p.column_width,
                y: p.y + row as f32 * p.line_height,
                size: p.size,
                field: "back.priorities",
            });
        }
        self.text_ops(&texts, font, x0, top, ops)
    }

    fn text_ops(
        &self,
        texts: &[Placed<'_>],
        font: &FontId,
        x0: f32,
        top: f32,
        ops: &mut Vec<Op>,
    ) -> Result<(), CardError> {
        ops.push(Op::SetFillColor { col: black() });
        for t in texts {
            // A long name or office must never run off the card edge and be cut away.
            let width = self.text_width_mm(&t.text, t.size);
            if t.x + width > CARD_WIDTH_MM {
                return Err(CardError::Template(format!(
                    "{}: \"{}\" is {width:.1} mm wide and runs off the card at x = {} mm; make it shorter or smaller",
                    t.field, t.text, t.x
                )));
            }
            ops.extend([
                Op::StartTextSection,
                Op::SetTextCursor {
                    pos: Point::new(Mm(x0 + t.x), Mm(top - t.y)),
                },
                Op::SetFont {
                    font: PdfFontHandle::External(font.clone()),
                    size: Pt(t.size),
                },
                Op::ShowText {
                    items: vec![TextItem::Text(t.text.clone())],
                },
                Op::EndTextSection,
            ]);
        }
        Ok(())
    }
}

fn save(doc: &mut PdfDocument, pages: Vec<PdfPage>) -> Vec<u8> {
    // Subsetting is what keeps the card small: the whole CJK font would be megabytes.
    let options = PdfSaveOptions {
        subset_fonts: true,
        ..PdfSaveOptions::default()
    };
    doc.with_pages(pages).save(&options, &mut Vec::new())
}
