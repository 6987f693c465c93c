//! A device that records what the transport asked of it.

use crate::device::{DeviceError, VirtioDevice};
use sevio_virtio::RingPlacement;
use std::vec::Vec;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Reset,
    DriverOk,
    SetupQueue(u16, RingPlacement),
    Notify(u16),
    TakeInterrupt,
}

pub struct FakeDevice {
    pub id: u32,
    pub interrupt: u32,
    pub calls: Vec<Call>,
}

impl FakeDevice {
    pub fn new(id: u32) -> Self {
        FakeDevice { id, interrupt: 0, calls: Vec::new() }
    }
}

impl VirtioDevice for FakeDevice {
    fn device_id(&self) -> u32 {
        self.id
    }
    fn vendor_id(&self) -> u32 {
        0x554d4551
    }
    fn version(&self) -> u32 {
        2
    }
    fn reset(&mut self) {
        self.calls.push(Call::Reset)
    }
    fn reset_and_acknowledge(&mut self) {
        self.calls.push(Call::Reset)
    }
    fn device_features(&mut self) -> u64 {
        1 << 32
    }
    fn set_driver_features(&mut self, _wanted: u64) -> bool {
        true
    }
    fn queue_max(&mut self, _index: u16) -> u16 {
        256
    }
    fn setup_queue(&mut self, index: u16, ring: RingPlacement) -> Result<(), DeviceError> {
        self.calls.push(Call::SetupQueue(index, ring));
        Ok(())
    }
    fn config_read(&mut self, _offset: usize, _width: usize) -> Result<(u64, u32), DeviceError> {
        Ok((0, 0))
    }
    fn config_write(&mut self, _offset: usize, _width: usize, _value: u64) -> Result<(), DeviceError> {
        Ok(())
    }
    fn config_generation(&mut self) -> u32 {
        0
    }
    fn driver_ok(&mut self) -> bool {
        self.calls.push(Call::DriverOk);
        true
    }
    fn status(&mut self) -> u8 {
        0
    }
    fn notify(&mut self, index: u16) {
        self.calls.push(Call::Notify(index))
    }
    fn take_interrupt(&mut self) -> u32 {
        self.calls.push(Call::TakeInterrupt);
        core::mem::take(&mut self.interrupt)
    }
}
