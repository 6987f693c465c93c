//! `udp-bench rr|stream`: the Linux guest's net workload (see the
//! library), a static aarch64 Linux program without a libc: the few
//! system calls it needs are made directly (`svc #0`, the number in x8,
//! arguments in x0..x5, the result in x0, negative for an errno).
//!
//! The guest's init (`scripts/linux-guest.sh`) has given eth0 10.0.2.16;
//! the program sends to the echo peer, 10.0.2.15 port 1234, from port
//! 40001 (net-bench's addresses), prints the BENCH lines and `PASS` or
//! `FAIL: ...`, and exits 0 on a pass.
//!
//! Built for the host (the workspace's tests), it only says where it runs.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("udp-bench runs in the Linux guest of make bench-qemu: build it for aarch64-unknown-none");
    std::process::exit(2);
}

#[cfg(all(target_os = "none", target_arch = "aarch64"))]
mod linux {
    use core::arch::{asm, global_asm};
    use core::fmt::{self, Write};
    use sevio_guest_udp_bench::bench::Platform;
    use sevio_guest_udp_bench::{Net, Workload, run};

    // Linux's aarch64 system call numbers (include/uapi/asm-generic/unistd.h).
    const SYS_WRITE: usize = 64;
    const SYS_EXIT_GROUP: usize = 94;
    const SYS_CLOCK_GETTIME: usize = 113;
    const SYS_SOCKET: usize = 198;
    const SYS_BIND: usize = 200;
    const SYS_CONNECT: usize = 203;
    const SYS_SENDTO: usize = 206;
    const SYS_RECVFROM: usize = 207;
    const SYS_SETSOCKOPT: usize = 208;
    const AF_INET: usize = 2;
    const SOCK_DGRAM: usize = 2;
    const SOL_SOCKET: usize = 1;
    const SO_RCVTIMEO: usize = 20;
    const CLOCK_MONOTONIC: usize = 1;
    const EINTR: isize = 4;

    const PEER: [u8; 4] = [10, 0, 2, 15];
    const PEER_PORT: u16 = 1234;
    const OWN: [u8; 4] = [10, 0, 2, 16];
    const OWN_PORT: u16 = 40001;

    fn syscall(nr: usize, args: [usize; 5]) -> isize {
        let ret: isize;
        // SAFETY: a Linux system call; every pointer among `args` is made
        // by the callers below from a live reference to memory of the
        // length passed with it, and the kernel writes nowhere else.
        unsafe {
            asm!("svc #0", in("x8") nr, inlateout("x0") args[0] => ret, in("x1") args[1], in("x2") args[2],
                in("x3") args[3], in("x4") args[4], options(nostack));
        }
        ret
    }

    /// struct sockaddr_in.
    #[repr(C)]
    struct SockaddrIn {
        family: u16,
        port_be: u16,
        addr: [u8; 4],
        zero: [u8; 8],
    }

    fn sockaddr(addr: [u8; 4], port: u16) -> SockaddrIn {
        SockaddrIn { family: AF_INET as u16, port_be: port.to_be(), addr, zero: [0; 8] }
    }

    /// struct timespec / struct timeval: two 64-bit words.
    #[repr(C)]
    #[derive(Default)]
    struct TwoWords(i64, i64);

    fn write_out(bytes: &[u8]) {
        syscall(SYS_WRITE, [1, bytes.as_ptr() as usize, bytes.len(), 0, 0]);
    }

    fn exit(code: usize) -> ! {
        syscall(SYS_EXIT_GROUP, [code, 0, 0, 0, 0]);
        // exit_group does not return; the type system does not know.
        loop {
            core::hint::spin_loop();
        }
    }

    /// A line, cut at its buffer's end.
    struct Line {
        buf: [u8; 256],
        len: usize,
    }

    impl Write for Line {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let n = s.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }

    fn print_line(args: fmt::Arguments<'_>) {
        let mut line = Line { buf: [0; 256], len: 0 };
        let _ = line.write_fmt(args);
        let _ = line.write_str("\n");
        write_out(&line.buf[..line.len]);
    }

    struct Socket {
        fd: usize,
        /// The receive timeout last set, in ns (set again only on change).
        timeout_ns: u64,
    }

    impl Socket {
        fn open() -> Result<Socket, &'static str> {
            let fd = syscall(SYS_SOCKET, [AF_INET, SOCK_DGRAM, 0, 0, 0]);
            if fd < 0 {
                return Err("socket");
            }
            let fd = fd as usize;
            let own = sockaddr(OWN, OWN_PORT);
            let len = core::mem::size_of::<SockaddrIn>();
            if syscall(SYS_BIND, [fd, &own as *const SockaddrIn as usize, len, 0, 0]) < 0 {
                return Err("bind to 10.0.2.16:40001 (is eth0 up with that address?)");
            }
            let peer = sockaddr(PEER, PEER_PORT);
            if syscall(SYS_CONNECT, [fd, &peer as *const SockaddrIn as usize, len, 0, 0]) < 0 {
                return Err("connect to 10.0.2.15:1234");
            }
            Ok(Socket { fd, timeout_ns: 0 })
        }
    }

    impl Platform for Socket {
        fn now_ns(&mut self) -> u64 {
            let mut ts = TwoWords::default();
            syscall(SYS_CLOCK_GETTIME, [CLOCK_MONOTONIC, &mut ts as *mut TwoWords as usize, 0, 0, 0]);
            ts.0 as u64 * 1_000_000_000 + ts.1 as u64
        }
        fn counters(&mut self) -> Option<(u64, u64)> {
            None
        }
        fn print(&mut self, line: fmt::Arguments<'_>) {
            print_line(line);
        }
    }

    impl Net for Socket {
        fn send(&mut self, datagram: &[u8]) -> bool {
            loop {
                let n = syscall(SYS_SENDTO, [self.fd, datagram.as_ptr() as usize, datagram.len(), 0, 0]);
                if n != -EINTR {
                    return n == datagram.len() as isize;
                }
            }
        }

        fn recv(&mut self, buf: &mut [u8], deadline_ns: u64) -> Option<usize> {
            let wait = deadline_ns.saturating_sub(self.now_ns()).max(1000);
            // The timeout is the same in every call but the rare one that
            // follows a partial wait: set it only when it changes by more
            // than a millisecond.
            if wait.abs_diff(self.timeout_ns) > 1_000_000 {
                let tv = TwoWords((wait / 1_000_000_000) as i64, ((wait % 1_000_000_000) / 1000) as i64);
                let size = core::mem::size_of::<TwoWords>();
                syscall(SYS_SETSOCKOPT, [self.fd, SOL_SOCKET, SO_RCVTIMEO, &tv as *const TwoWords as usize, size]);
                self.timeout_ns = wait;
            }
            let n = syscall(SYS_RECVFROM, [self.fd, buf.as_mut_ptr() as usize, buf.len(), 0, 0]);
            (n >= 0).then_some(n as usize)
        }
    }

    // The entry point: Linux starts a static program with sp at argc,
    // then argv[], 16-byte aligned.
    global_asm!(".section .text.start", ".global _start", "_start:", "mov x0, sp", "bl guest_main", "b .");

    #[unsafe(no_mangle)]
    extern "C" fn guest_main(sp: *const usize) -> ! {
        // SAFETY: sp is the initial stack pointer Linux passed: argc, then
        // argc argv pointers to NUL-terminated strings, all mapped.
        let (argc, argv1) = unsafe { (*sp, if *sp >= 2 { *sp.add(2) as *const u8 } else { core::ptr::null() }) };
        let name = if argc >= 2 {
            let mut len = 0;
            // SAFETY: argv[1] is NUL-terminated (as above); reading stops at the NUL.
            while unsafe { *argv1.add(len) } != 0 {
                len += 1;
            }
            // SAFETY: the `len` bytes before the NUL, mapped as above.
            core::str::from_utf8(unsafe { core::slice::from_raw_parts(argv1, len) }).unwrap_or("")
        } else {
            ""
        };
        let Some(workload) = Workload::named(name) else {
            print_line(format_args!("FAIL: usage: udp-bench rr|stream (not {name:?})"));
            exit(2);
        };
        let mut socket = match Socket::open() {
            Ok(s) => s,
            Err(what) => {
                print_line(format_args!("FAIL: udp-bench: cannot {what}"));
                exit(1);
            }
        };
        exit(if run(&mut socket, workload) { 0 } else { 1 })
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        print_line(format_args!("FAIL: udp-bench panicked: {info}"));
        exit(3)
    }
}
