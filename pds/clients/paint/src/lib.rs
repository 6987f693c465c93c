//! paint: a demo client of the gpu and input drivers that a person can
//! watch. It asks the gpu driver for the display, shows a framebuffer
//! with a test pattern and text and a hardware cursor, and takes events
//! from up to three input drivers: the mouse or tablet moves the cursor,
//! the left button paints, any key steps the colour, Q reports a hash of
//! the frame (what the end-to-end test compares with QEMU's screendump).
//!
//! - [`font`]: its 5x7 bitmap font;
//! - [`scene`]: the picture as a pure function of the screen size and the
//!   events seen ([`scene::Paint`]), so a test draws the same;
//! - [`app`]: the GPU conversation and the input pages;
//! - [`pd`]: channels, setvars and the runtime handler.
//!
//! Panic contract: nothing a driver writes makes it panic; a queue with
//! impossible indices or a refused request is a FAIL.
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod app;
pub mod font;
pub mod pd;
pub mod scene;
