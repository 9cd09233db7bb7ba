//! The A4 batch sheet: 2 × 5 cards with cut marks.

use super::draw::{black, line};
use super::{save, CardFace, CardRenderer};
use crate::card::error::CardError;
use crate::card::template::{
    A4_HEIGHT_MM, A4_WIDTH_MM, CARD_HEIGHT_MM, CARD_WIDTH_MM, SHEET_COLUMNS, SHEET_ROWS,
};
use printpdf::{Mm, Op, PdfDocument, PdfPage, Pt};

impl CardRenderer {
    /// A4 sheets of up to 10 cards each (2 columns × 5 rows) with cut marks: for every sheet a
    /// page of fronts, then a page of backs mirrored left-right for long-edge duplex printing.
    pub fn render_sheet(&self, cards: &[CardFace<'_>]) -> Result<Vec<u8>, CardError> {
        let mut doc = PdfDocument::new("计划生育特殊家庭方便就医卡");
        let font = doc.add_font(&self.font);
        let per_sheet = SHEET_COLUMNS * SHEET_ROWS;
        let mut pages = Vec::new();
        for sheet in cards.chunks(per_sheet) {
            let mut front = self.cut_marks();
            let mut back = self.cut_marks();
            for (i, card) in sheet.iter().enumerate() {
                let (col, row) = (i % SHEET_COLUMNS, i / SHEET_COLUMNS);
                let (x, top) = self.slot(col, row);
                self.front_ops(card, &font, x, top, &mut front)?;
                let (bx, btop) = self.slot(SHEET_COLUMNS - 1 - col, row);
                self.back_ops(&font, bx, btop, &mut back)?;
            }
            pages.push(PdfPage::new(Mm(A4_WIDTH_MM), Mm(A4_HEIGHT_MM), front));
            pages.push(PdfPage::new(Mm(A4_WIDTH_MM), Mm(A4_HEIGHT_MM), back));
        }
        Ok(save(&mut doc, pages))
    }

    /// Left edge and top edge (as PDF y, from the page bottom) of a sheet slot, in mm.
    fn slot(&self, col: usize, row: usize) -> (f32, f32) {
        let s = &self.template.sheet;
        let x = s.margin_left + col as f32 * (CARD_WIDTH_MM + s.gap_x);
        let top = A4_HEIGHT_MM - s.margin_top - row as f32 * (CARD_HEIGHT_MM + s.gap_y);
        (x, top)
    }

    /// Cut marks in the margins, in line with every card edge.
    fn cut_marks(&self) -> Vec<Op> {
        let s = &self.template.sheet;
        let mut xs = Vec::new();
        for col in 0..SHEET_COLUMNS {
            let (x, _) = self.slot(col, 0);
            xs.extend([x, x + CARD_WIDTH_MM]);
        }
        let mut ys = Vec::new();
        for row in 0..SHEET_ROWS {
            let (_, top) = self.slot(0, row);
            ys.extend([top, top - CARD_HEIGHT_MM]);
        }
        let (left, _) = self.slot(0, 0);
        let right = xs.last().copied().unwrap_or(left);
        let top = ys.first().copied().unwrap_or(A4_HEIGHT_MM);
        let bottom = ys.last().copied().unwrap_or(0.0);
        let gap = 1.0; // keep marks clear of the card edge so a slightly off cut never shows them
        let mut ops = vec![
            Op::SetOutlineColor { col: black() },
            Op::SetOutlineThickness { pt: Pt(0.25) },
        ];
        for x in xs {
            ops.push(line(x, top + gap, x, top + gap + s.cut_mark));
            ops.push(line(x, bottom - gap, x, bottom - gap - s.cut_mark));
        }
        for y in ys {
            ops.push(line(left - gap, y, left - gap - s.cut_mark, y));
            ops.push(line(right + gap, y, right + gap + s.cut_mark, y));
        }
        ops
    }
}
