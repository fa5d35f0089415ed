//! `ocean-codecov`: the command line. Each command parses its flags and calls
//! the crates that do the work; the test rig (simulators, `sandbox`, `bench`)
//! is in the build only with the `rig` feature (on by default, off in the
//! production image).

mod cli;

// Mapping allocates many small values; mimalloc is markedly faster than glibc's
// allocator for that pattern (see `ocean-codecov bench mapping`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::run()
}
