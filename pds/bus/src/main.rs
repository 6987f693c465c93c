//! The bus PD's entry point; everything else is in the library.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

sevio_runtime::protection_domain!(sevio_bus::init);
