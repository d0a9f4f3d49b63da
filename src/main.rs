//! The `dxctl` binary: everything lives in the library; this only hands over the exit code.

// mimalloc: plans and applies at thousands of VIFs allocate heavily (parsed HCL, described peers); the system
// allocator spent about a quarter of a 10,000-VIF plan in malloc and free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    dxctl::main()
}
