//! Barriers between the CPU and a DMA-capable device (or another PD).
//!
//! On aarch64 these are the outer-shareable `dmb` variants Linux uses for
//! `dma_wmb`/`dma_rmb`/`mb`, because a device may sit outside the inner
//! shareable domain. On x86 (the hosted sim, where the "device" is a QEMU
//! process on the same machine) the hardware keeps loads in order and
//! stores in order (TSO) for ordinary memory, so `dma_rmb`/`dma_wmb` only
//! stop the compiler reordering, as Linux's do; `dma_mb` (store then
//! load) still needs a real fence. Elsewhere a sequentially consistent
//! fence is strong enough for all three.

/// Order earlier writes to shared memory before later writes.
#[inline(always)]
pub fn dma_wmb() {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: a barrier instruction; no memory or register effects.
    unsafe {
        core::arch::asm!("dmb oshst", options(nostack, preserves_flags))
    };
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    #[cfg(not(any(target_arch = "aarch64", target_arch = "x86", target_arch = "x86_64")))]
    core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
}

/// Order earlier reads of shared memory before later reads.
#[inline(always)]
pub fn dma_rmb() {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: a barrier instruction; no memory or register effects.
    unsafe {
        core::arch::asm!("dmb oshld", options(nostack, preserves_flags))
    };
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    #[cfg(not(any(target_arch = "aarch64", target_arch = "x86", target_arch = "x86_64")))]
    core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
}

/// Order every earlier access before every later one (needed where a
/// write must be visible before a following read, as in the EVENT_IDX
/// check).
#[inline(always)]
pub fn dma_mb() {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: a barrier instruction; no memory or register effects.
    unsafe {
        core::arch::asm!("dmb osh", options(nostack, preserves_flags))
    };
    #[cfg(not(target_arch = "aarch64"))]
    core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
}
