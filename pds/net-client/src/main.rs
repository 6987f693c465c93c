#![no_std]
#![cfg_attr(target_os = "none", no_main)]
use sevio_runtime::Handler;
sevio_runtime::protection_domain!(init);
struct Placeholder;
impl Handler for Placeholder {}
fn init() -> Placeholder { Placeholder }
