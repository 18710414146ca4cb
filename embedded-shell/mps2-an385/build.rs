//! Puts memory.x and device.x where the linker finds them (cortex-m-rt's
//! link.x includes both; device.x names the default handler of the board's
//! interrupts, see src/vectors.rs).

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    std::fs::write(
        out.join("device.x"),
        "PROVIDE(Mps2Interrupt = DefaultHandler);\n",
    )
    .expect("write device.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
}
