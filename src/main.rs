// Mapping allocates many small values; mimalloc is markedly faster than glibc's
// allocator for that pattern (see `ocean-codecov bench mapping`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ocean_codecov::cli::run()
}
