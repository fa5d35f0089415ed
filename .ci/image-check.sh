#!/usr/bin/env bash
# Builds deploy/Dockerfile with buildah (Debian's package; daemonless, vfs storage,
# chroot isolation) and runs `ocean-codecov --version` in the image. No registry of
# images is reachable here, so the two base images the Dockerfile names are made
# locally from Debian's packages and passed as build arguments:
#   RUNTIME_IMAGE: libc6, libgcc-s1 and the CA bundle, user nonroot (65532), no shell
#                  (what gcr.io/distroless/cc-debian12:nonroot holds);
#   RUST_IMAGE:    Debian bookworm with gcc and libc6-dev (mmdebstrap), with this
#                  machine's Rust toolchain mounted at /usr/local/rust while building.
# Crates come from crates.io (through the mounted cargo registry cache); target/ is
# a cache mount, so a second run rebuilds only what changed.
# Opt-in from .ci/run (OCEAN_CI_IMAGE=1): the first run costs a release build
# (about 10 minutes on 2 cores) and about 3 GB of disk.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${OCEAN_CI_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ocean-codecov-ci}/image"
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
mkdir -p "$CACHE"

need=()
command -v buildah >/dev/null 2>&1 || need+=(buildah)
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; then
    echo "SKIP image build: Debian packages ${need[*]} could not be installed"
    exit 0
  fi
fi
buildah --version

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

RUNTIME_IMAGE=localhost/ocean-codecov-ci/cc-debian12:nonroot
if ! have_image "$RUNTIME_IMAGE"; then
  work="$(mktemp -d)"
  (cd "$work" && apt-get download libc6 libgcc-s1 ca-certificates >/dev/null 2>&1)
  mkdir "$work/rootfs"
  for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/rootfs"; done
  mkdir -p "$work/rootfs/etc/ssl/certs" "$work/rootfs/tmp" "$work/rootfs/home/nonroot"
  chmod 1777 "$work/rootfs/tmp"
  cat "$work"/rootfs/usr/share/ca-certificates/mozilla/*.crt >"$work/rootfs/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$work/rootfs/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$work/rootfs/etc/group"
  container="$(buildah from scratch)"
  buildah copy -q "$container" "$work/rootfs" / >/dev/null
  buildah config --user 65532:65532 "$container"
  buildah commit -q "$container" "$RUNTIME_IMAGE" >/dev/null
  buildah rm "$container" >/dev/null
  rm -rf "$work"
fi

RUST_IMAGE=localhost/ocean-codecov-ci/rust:bookworm
if ! have_image "$RUST_IMAGE"; then
  work="$(mktemp -d)"
  mmdebstrap --quiet --variant=apt --include=gcc,libc6-dev,ca-certificates bookworm "$work/rootfs.tar"
  container="$(buildah from scratch)"
  buildah add -q "$container" "$work/rootfs.tar" / >/dev/null
  buildah config --env PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env CARGO_HOME=/usr/local/cargo "$container"
  buildah commit -q "$container" "$RUST_IMAGE" >/dev/null
  buildah rm "$container" >/dev/null
  rm -rf "$work"
fi

SYSROOT="$(rustc --print sysroot)"
mkdir -p "$CACHE/target" "${CARGO_HOME:-$HOME/.cargo}/registry"
buildah bud --quiet --layers=false \
  --build-arg RUST_IMAGE="$RUST_IMAGE" --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" \
  -v "$SYSROOT:/usr/local/rust:ro" \
  -v "${CARGO_HOME:-$HOME/.cargo}/registry:/usr/local/cargo/registry" \
  -v "$CACHE/target:/src/target" \
  -f deploy/Dockerfile -t localhost/ocean-codecov:ci . >/dev/null

container="$(buildah from localhost/ocean-codecov:ci)"
version="$(buildah run "$container" -- /usr/local/bin/ocean-codecov --version)"
user="$(buildah inspect --format '{{.OCIv1.Config.User}}' localhost/ocean-codecov:ci)"
cmd="$(buildah inspect --format '{{.OCIv1.Config.Cmd}}' localhost/ocean-codecov:ci)"
buildah rm "$container" >/dev/null
echo "ok   image localhost/ocean-codecov:ci: $version, user $user, command $cmd"
[ "$version" = "ocean-codecov $(grep -m1 '^version' Cargo.toml | cut -d'"' -f2) (production build: no simulators, benchmarks or fuzz entry points)" ]
[ "$user" = "nonroot:nonroot" ]
# No code of the test rig is linked in: its source paths (in panic locations) are absent.
binary="$CACHE/target/release/ocean-codecov"
for rig in crates/ocean-sim/ crates/ocean-testkit/; do
  if grep -qaF "$rig" "$binary"; then
    echo "FAIL the image's binary carries code of $rig"
    exit 1
  fi
done
echo "ok   the image's binary carries no test rig (no code of crates/ocean-sim or crates/ocean-testkit)"
