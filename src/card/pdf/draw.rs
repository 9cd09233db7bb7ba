//! Drawing primitives: the QR as vector squares, lines, colours.

use crate::card::error::CardError;
use crate::card::qr::qr_code;
use crate::card::template::QrSpec;
use printpdf::{
    Color, Line, LinePoint, Mm, Op, PaintMode, Point, Polygon, PolygonRing, Rgb, WindingOrder,
};

/// The QR as one filled path: one rectangle per horizontal run of dark modules.
pub(super) fn qr_ops(
    q: &QrSpec,
    text: &str,
    x0: f32,
    top: f32,
    ops: &mut Vec<Op>,
) -> Result<(), CardError> {
    let code = qr_code(text)?;
    let width = code.width();
    let colors = code.to_colors();
    let module = q.size / (width + 8) as f32; // 4-module quiet zone on each side
    let left = x0 + q.x + 4.0 * module;
    let upper = top - q.y - 4.0 * module;
    let mut rings = Vec::new();
    for (row, line) in colors.chunks(width).enumerate() {
        let mut col = 0;
        while col < width {
            if line[col] != qrcode::Color::Dark {
                col += 1;
                continue;
            }
            let start = col;
            while col < width && line[col] == qrcode::Color::Dark {
                col += 1;
            }
            let (x1, x2) = (left + start as f32 * module, left + col as f32 * module);
            let (y1, y2) = (
                upper - row as f32 * module,
                upper - (row + 1) as f32 * module,
            );
            rings.push(PolygonRing {
                points: vec![pt(x1, y1), pt(x2, y1), pt(x2, y2), pt(x1, y2)],
            });
        }
    }
    ops.push(Op::SetFillColor { col: black() });
    ops.push(Op::DrawPolygon {
        polygon: Polygon {
            rings,
            mode: PaintMode::Fill,
            winding_order: WindingOrder::NonZero,
        },
    });
    Ok(())
}

pub(super) fn black() -> Color {
    Color::Rgb(Rgb {
        r: 0.0,
        g: 0.0,
        b: 0.0,
        icc_profile: None,
    })
}

pub(super) fn pt(x_mm: f32, y_mm: f32) -> LinePoint {
    LinePoint {
        p: Point::new(Mm(x_mm), Mm(y_mm)),
        bezier: false,
    }
}

pub(super) fn line(x1: f32, y1: f32, x2: f32, y2: f32) -> Op {
    Op::DrawLine {
        line: Line {
            points: vec![pt(x1, y1), pt(x2, y2)],
            is_closed: false,
        },
    }
}
