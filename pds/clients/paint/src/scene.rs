//! What paint draws, as a pure function of the screen size and the input
//! events it saw, so a host test can draw the same picture and compare
//! it with what the device shows.
//!
//! The screen: a test pattern of eight colour bars across the top, the
//! title and a help line, a status line (colour, keys, clicks, moves,
//! drops), and below it a canvas. Keys (any key press) step the colour;
//! the left button paints a square at the pointer on press and strokes
//! to the pointer at every update while held. Relative axes move the pointer by their value;
//! absolute ones place it, scaled from the device's range to the screen.

use crate::font;
use sevio_queue::gpu::GpuRect;
use sevio_queue::input::{InputEvent, SYN_DROPPED};

/// Where pixels go: the framebuffer in shared memory, or a test's image.
/// Pixels are 0x00RRGGBB (B8G8R8X8 in memory, little-endian).
pub trait Canvas {
    /// Fill the rectangle (already inside the canvas) with `colour`.
    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, colour: u32);
}

/// The colours keys step through.
pub const PALETTE: [u32; 8] = [0xffffff, 0xff4040, 0x40ff40, 0x4080ff, 0xffff40, 0xff40ff, 0x40ffff, 0xff9020];
/// The background.
pub const BACKGROUND: u32 = 0x202428;
/// The test pattern's bars.
pub const BARS: [u32; 8] = [0xffffff, 0xffff00, 0x00ffff, 0x00ff00, 0xff00ff, 0xff0000, 0x0000ff, 0x000000];
/// Height of the colour bars.
pub const BAR_HEIGHT: u32 = 96;
/// Top of the status line.
pub const STATUS_Y: u32 = 200;
/// Text scale (font pixels to screen pixels).
pub const SCALE: u32 = 2;
/// Top of the canvas (paint goes only below it).
pub const CANVAS_TOP: u32 = 232;
/// Side of a painted square.
pub const BRUSH: u32 = 6;
/// evdev codes below this are keys (above: buttons).
const BTN_MISC: u16 = 0x100;
const BTN_LEFT: u16 = 0x110;
const EV_SYN: u16 = 0;
const EV_KEY: u16 = 1;
const EV_REL: u16 = 2;
const EV_ABS: u16 = 3;

/// The smallest rectangle holding both (`None` is empty).
pub fn union(a: Option<GpuRect>, b: GpuRect) -> GpuRect {
    let Some(a) = a else { return b };
    let (x, y) = (a.x.min(b.x), a.y.min(b.y));
    let right = (a.x + a.width).max(b.x + b.width);
    let bottom = (a.y + a.height).max(b.y + b.height);
    GpuRect::new(x, y, right - x, bottom - y)
}

/// Write `text` at (`x`, `y`) in `colour`, each font pixel a
/// SCALE x SCALE square, clipped to `w` x `h`. Returns its rectangle.
pub fn text(c: &mut impl Canvas, w: u32, h: u32, x: u32, y: u32, s: &[u8], colour: u32) -> GpuRect {
    let advance = (font::WIDTH + 1) * SCALE;
    for (i, ch) in s.iter().enumerate() {
        let gx = x + i as u32 * advance;
        for (row, bits) in font::glyph(*ch).iter().enumerate() {
            for col in 0..font::WIDTH {
                if bits & (1 << (font::WIDTH - 1 - col)) != 0 {
                    let (px, py) = (gx + col * SCALE, y + row as u32 * SCALE);
                    if px + SCALE <= w && py + SCALE <= h {
                        c.fill(px, py, SCALE, SCALE, colour);
                    }
                }
            }
        }
    }
    GpuRect::new(
        x,
        y,
        (s.len() as u32 * advance).min(w.saturating_sub(x)),
        (font::HEIGHT * SCALE).min(h.saturating_sub(y)),
    )
}

/// A small decimal writer into a fixed buffer.
struct Line {
    buf: [u8; 96],
    len: usize,
}

impl Line {
    fn new() -> Self {
        Line { buf: [0; 96], len: 0 }
    }
    fn push(&mut self, s: &[u8]) {
        for b in s {
            if self.len < self.buf.len() {
                self.buf[self.len] = *b;
                self.len += 1;
            }
        }
    }
    fn num(&mut self, mut n: u32) {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}

/// An absolute axis' range (`min`, `max`) as the device reported it.
pub type AbsRange = (i32, i32);

/// The state of the picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paint {
    /// Screen width.
    pub width: u32,
    /// Screen height.
    pub height: u32,
    /// Pointer position.
    pub x: u32,
    /// Pointer position.
    pub y: u32,
    /// Index into [`PALETTE`].
    pub colour: usize,
    /// Key presses.
    pub keys: u32,
    /// Left-button presses.
    pub clicks: u32,
    /// Pointer updates.
    pub moves: u32,
    /// SYN_DROPPED markers seen.
    pub drops: u32,
    button: bool,
    moved: bool,
    /// Where the brush last painted (strokes join up from there).
    last: (u32, u32),
}

/// What one event changed.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Update {
    /// Pixels that changed.
    pub dirty: Option<GpuRect>,
    /// The pointer moved (at the end of an update).
    pub pointer_moved: bool,
}

impl Paint {
    /// A fresh picture of `width` x `height`, pointer in the middle.
    pub fn new(width: u32, height: u32) -> Self {
        Paint {
            width,
            height,
            x: width / 2,
            y: height / 2,
            colour: 0,
            keys: 0,
            clicks: 0,
            moves: 0,
            drops: 0,
            button: false,
            moved: false,
            last: (width / 2, height / 2),
        }
    }

    /// Draw everything; returns the whole screen.
    pub fn draw_all(&self, c: &mut impl Canvas) -> GpuRect {
        let (w, h) = (self.width, self.height);
        c.fill(0, 0, w, h, BACKGROUND);
        let bar = w / BARS.len() as u32;
        for (i, colour) in BARS.iter().enumerate() {
            let x = i as u32 * bar;
            let bw = if i == BARS.len() - 1 { w - x } else { bar };
            c.fill(x, 0, bw, BAR_HEIGHT.min(h), *colour);
        }
        let scale_title = |c: &mut _, y| text(c, w, h, 16, y, b"SEVIO PAINT - VIRTIO GPU AND INPUT", 0xffffff);
        scale_title(c, 112);
        text(c, w, h, 16, 140, b"KEYS CHANGE COLOUR. LEFT BUTTON PAINTS. Q REPORTS.", 0xc0c0c0);
        self.draw_status(c);
        if CANVAS_TOP < h {
            c.fill(0, CANVAS_TOP - 2, w, 2, 0x606060);
        }
        GpuRect::new(0, 0, w, h)
    }

    fn draw_status(&self, c: &mut impl Canvas) -> GpuRect {
        let (w, h) = (self.width, self.height);
        let mut line = Line::new();
        line.push(b"COLOUR ");
        line.num(self.colour as u32);
        line.push(b"  KEYS ");
        line.num(self.keys);
        line.push(b"  CLICKS ");
        line.num(self.clicks);
        line.push(b"  MOVES ");
        line.num(self.moves);
        line.push(b"  DROPS ");
        line.num(self.drops);
        let area = GpuRect::new(0, STATUS_Y, w, (font::HEIGHT * SCALE + 4).min(h.saturating_sub(STATUS_Y)));
        if area.height == 0 {
            return GpuRect::new(0, 0, 1, 1);
        }
        c.fill(area.x, area.y, area.width, area.height, BACKGROUND);
        c.fill(0, STATUS_Y, 12, 12.min(area.height), PALETTE[self.colour]);
        text(c, w, h, 16, STATUS_Y, &line.buf[..line.len], PALETTE[self.colour]);
        area
    }

    fn stamp_at(&self, x: u32, y: u32, c: &mut impl Canvas) -> Option<GpuRect> {
        let x = x.saturating_sub(BRUSH / 2).min(self.width.saturating_sub(BRUSH));
        let y = y.saturating_sub(BRUSH / 2).max(CANVAS_TOP).min(self.height.saturating_sub(BRUSH));
        if y < CANVAS_TOP || self.width < BRUSH {
            return None;
        }
        c.fill(x, y, BRUSH, BRUSH, PALETTE[self.colour]);
        Some(GpuRect::new(x, y, BRUSH, BRUSH))
    }

    /// Paint at the pointer.
    fn stamp(&mut self, c: &mut impl Canvas) -> Option<GpuRect> {
        self.last = (self.x, self.y);
        self.stamp_at(self.x, self.y, c)
    }

    /// Paint a stroke from where the brush last was to the pointer: a
    /// square every BRUSH / 2 pixels along the way.
    fn stroke(&mut self, c: &mut impl Canvas) -> Option<GpuRect> {
        let (x0, y0) = (i64::from(self.last.0), i64::from(self.last.1));
        let (x1, y1) = (i64::from(self.x), i64::from(self.y));
        let steps = ((x1 - x0).abs().max((y1 - y0).abs()) / i64::from(BRUSH / 2)).max(1);
        let mut dirty = None;
        for i in 1..=steps {
            let x = (x0 + (x1 - x0) * i / steps) as u32;
            let y = (y0 + (y1 - y0) * i / steps) as u32;
            if let Some(r) = self.stamp_at(x, y, c) {
                dirty = Some(union(dirty, r));
            }
        }
        self.last = (self.x, self.y);
        dirty
    }

    fn scale(v: u32, range: AbsRange, size: u32) -> u32 {
        let (min, max) = (i64::from(range.0), i64::from(range.1));
        if max <= min || size == 0 {
            return 0;
        }
        let v = i64::from(v as i32).clamp(min, max);
        ((v - min) * i64::from(size - 1) / (max - min)) as u32
    }

    fn nudge(pos: u32, delta: u32, size: u32) -> u32 {
        let p = i64::from(pos) + i64::from(delta as i32);
        p.clamp(0, i64::from(size.saturating_sub(1))) as u32
    }

    /// Apply one event from a device whose absolute axes span `abs`.
    pub fn apply(&mut self, ev: InputEvent, abs: (AbsRange, AbsRange), c: &mut impl Canvas) -> Update {
        let mut u = Update::default();
        match (ev.ty, ev.code) {
            (EV_REL, 0) => {
                self.x = Self::nudge(self.x, ev.value, self.width);
                self.moved = true;
            }
            (EV_REL, 1) => {
                self.y = Self::nudge(self.y, ev.value, self.height);
                self.moved = true;
            }
            (EV_ABS, 0) => {
                self.x = Self::scale(ev.value, abs.0, self.width);
                self.moved = true;
            }
            (EV_ABS, 1) => {
                self.y = Self::scale(ev.value, abs.1, self.height);
                self.moved = true;
            }
            (EV_KEY, BTN_LEFT) => {
                self.button = ev.value != 0;
                if self.button {
                    self.clicks += 1;
                    u.dirty = self.stamp(c);
                    u.dirty = Some(union(u.dirty, self.draw_status(c)));
                }
            }
            (EV_KEY, code) if code < BTN_MISC && ev.value == 1 => {
                self.keys += 1;
                self.colour = (self.colour + 1) % PALETTE.len();
                u.dirty = Some(self.draw_status(c));
            }
            (EV_SYN, SYN_DROPPED) => {
                self.drops += 1;
                u.dirty = Some(self.draw_status(c));
            }
            (EV_SYN, 0) if self.moved => {
                self.moved = false;
                self.moves += 1;
                u.pointer_moved = true;
                let status = self.draw_status(c);
                u.dirty = Some(match self.button.then(|| self.stroke(c)).flatten() {
                    Some(s) => union(Some(s), status),
                    None => status,
                });
            }
            _ => {}
        }
        u
    }
}

/// FNV-1a over pixels as they lie in memory (B, G, R, X per pixel, rows
/// top to bottom): what paint reports and the test recomputes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// Add one pixel.
    pub fn pixel(&mut self, p: u32) {
        for b in (p & 0x00ff_ffff).to_le_bytes() {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    struct Image {
        w: u32,
        px: Vec<u32>,
    }
    impl Canvas for Image {
        fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, colour: u32) {
            for yy in y..y + h {
                for xx in x..x + w {
                    self.px[(yy * self.w + xx) as usize] = colour;
                }
            }
        }
    }

    const ABS: (AbsRange, AbsRange) = ((0, 0x7fff), (0, 0x7fff));

    fn ev(ty: u16, code: u16, value: i32) -> InputEvent {
        InputEvent { ty, code, value: value as u32 }
    }

    #[test]
    fn the_pattern_and_the_text_are_where_they_should_be() {
        let mut img = Image { w: 320, px: vec![0; 320 * 240] };
        let p = Paint::new(320, 240);
        assert_eq!(p.draw_all(&mut img), GpuRect::new(0, 0, 320, 240));
        assert_eq!(img.px[0], BARS[0]);
        assert_eq!(img.px[(50 * 320 + 319) as usize], BARS[7], "the last bar reaches the edge");
        assert_eq!(img.px[(BAR_HEIGHT * 320) as usize], BACKGROUND);
        // 'S' of the title: its top row is 0x0f, so column 0 is off, 1 on.
        assert_eq!(img.px[(112 * 320 + 16) as usize], BACKGROUND);
        assert_eq!(img.px[(112 * 320 + 16 + 2) as usize], 0xffffff);
    }

    #[test]
    fn keys_buttons_and_axes_change_the_picture() {
        let mut img = Image { w: 320, px: vec![0; 320 * 240] };
        let mut p = Paint::new(320, 240);
        p.draw_all(&mut img);
        let u = p.apply(ev(1, 30, 1), ABS, &mut img);
        assert_eq!((p.colour, p.keys), (1, 1));
        assert_eq!(u.dirty.map(|r| r.y), Some(STATUS_Y));
        assert_eq!(p.apply(ev(1, 30, 0), ABS, &mut img), Update::default(), "a release changes nothing");
        p.apply(ev(3, 0, 0x7fff), ABS, &mut img);
        p.apply(ev(3, 1, 0), ABS, &mut img);
        let u = p.apply(ev(0, 0, 0), ABS, &mut img);
        assert!(u.pointer_moved);
        assert_eq!((p.x, p.y), (319, 0), "scaled from the device's range");
        p.apply(ev(2, 0, -19), ABS, &mut img);
        p.apply(ev(2, 1, 235), ABS, &mut img);
        p.apply(ev(0, 0, 0), ABS, &mut img);
        assert_eq!((p.x, p.y), (300, 235));
        let u = p.apply(ev(1, BTN_LEFT, 1), ABS, &mut img);
        assert_eq!(img.px[(234 * 320 + 300) as usize], PALETTE[1], "painted in colour 1, kept inside the screen");
        assert!(u.dirty.is_some_and(|r| r.y <= STATUS_Y && r.y + r.height == 238), "status line and the square");
        p.apply(ev(0, 3, 5), ABS, &mut img);
        assert_eq!(p.drops, 1);
    }

    #[test]
    fn fnv_is_the_standard_one() {
        let mut f = Fnv::default();
        for b in b"a" {
            f.0 ^= u64::from(*b);
            f.0 = f.0.wrapping_mul(0x0100_0000_01b3);
        }
        assert_eq!(f.0, 0xaf63dc4c8601ec8c, "FNV-1a 64 of \"a\"");
    }
}
