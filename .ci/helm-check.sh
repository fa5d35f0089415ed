#!/usr/bin/env bash
# The Helm chart checked by the real tools: `helm lint` and `helm template` over
# every values file in deploy/helm/ocean-codecov/ci/ (one shaped like Port's
# install command), every rendered manifest validated against the Kubernetes
# OpenAPI schemas (strict: unknown fields are errors) of the oldest and newest
# Kubernetes this chart supports, the refused values failing with their message,
# and NOTES listing Port's values that do not apply.
# Usage: HELM=... KUBERNETES_VALIDATE=... bash .ci/helm-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CHART=deploy/helm/ocean-codecov
# podFailurePolicy (the CronJob's retry rule) is on by default from Kubernetes 1.26.
KUBERNETES_VERSIONS="${KUBERNETES_VERSIONS:-1.26 1.37}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

if [ -z "${HELM:-}" ]; then
  echo "SKIP helm checks: no helm binary (see the lines above); tests/helm_chart.rs keeps its text checks"
  exit 0
fi

cases=("default:")
for file in "$CHART"/ci/*.yaml; do
  cases+=("$(basename "$file" .yaml):$file")
done

checked=0
failed=0
for case in "${cases[@]}"; do
  name="${case%%:*}"
  file="${case#*:}"
  args=()
  [ -n "$file" ] && args=(-f "$file")
  "$HELM" lint --strict "$CHART" "${args[@]}" >"$out/$name.lint" 2>&1 \
    || { cat "$out/$name.lint"; echo "FAIL helm lint $name"; failed=$((failed + 1)); continue; }
  "$HELM" template ocean-codecov "$CHART" --namespace port-ocean "${args[@]}" >"$out/$name.yaml" \
    || { echo "FAIL helm template $name"; failed=$((failed + 1)); continue; }
  valid=true
  if [ -n "${KUBERNETES_VALIDATE:-}" ]; then
    for version in $KUBERNETES_VERSIONS; do
      if ! "$KUBERNETES_VALIDATE" --strict --quiet -k "$version" "$out/$name.yaml"; then
        echo "FAIL kubernetes-validate $name (Kubernetes $version)"
        valid=false
      fi
    done
  fi
  if [ "$valid" = false ]; then
    failed=$((failed + 1))
    continue
  fi
  kinds="$(grep -c '^kind: ' "$out/$name.yaml" || true)"
  echo "ok   $name: helm lint, helm template ($kinds objects)${KUBERNETES_VALIDATE:+, schemas of Kubernetes $KUBERNETES_VERSIONS}"
  checked=$((checked + 1))
done
if [ -z "${KUBERNETES_VALIDATE:-}" ]; then
  echo "SKIP schema validation: no kubernetes-validate (see the lines above)"
fi

# Values that must be refused, with the fix in the message.
expect_refused() {
  local file="$1" message="$2"
  if "$HELM" template ocean-codecov "$CHART" -f "$file" >/dev/null 2>"$out/refused.err"; then
    echo "FAIL $file rendered; it must be refused"
    failed=$((failed + 1))
  elif ! grep -qF "$message" "$out/refused.err"; then
    cat "$out/refused.err"
    echo "FAIL $file: the error does not say: $message"
    failed=$((failed + 1))
  else
    echo "ok   refused $(basename "$file"): $(grep -oF "$message" "$out/refused.err")"
    checked=$((checked + 1))
  fi
}
expect_refused "$CHART/ci/refused/kafka.yaml" \
  "integration.eventListener.type=KAFKA is not supported by ocean-codecov: set integration.eventListener.type=POLLING"
expect_refused "$CHART/ci/refused/cron-string-in-deployment.yaml" \
  "with workload.kind=Deployment it is minutes"
expect_refused "$CHART/ci/refused/journal-claim-replicas.yaml" \
  "journal.persistence.enabled: one pod writes a journal; set liveEvents.worker.replicaCount=1"
expect_refused "$CHART/ci/refused/journal-claim-two-servers.yaml" \
  "enable liveEvents.worker with workload.kind=CronJob only"

# NOTES: Port's values that do not apply are listed, not refused.
"$HELM" install ocean-codecov "$CHART" --dry-run=client -f "$CHART/ci/port-only-values.yaml" >"$out/notes.txt"
for value in fullnameOverride port.ingestUrl createPortResourcesOrigin integration.processExecution integration.oauth \
  integration.eventListener.brokers workload.cron.initContainer workload.cron.kubectlImage liveEvents.baseUrl \
  liveEvents.isRedisStreamConsumerEnabled postgresql incrementalSync actionsProcessor streamingEnabled \
  processingMode lakehouseEnabled; do
  if ! grep -q "^  - $value " "$out/notes.txt" && ! grep -q "^  - $value\$" "$out/notes.txt"; then
    echo "FAIL NOTES does not list $value as not used"
    failed=$((failed + 1))
  fi
done
echo "ok   NOTES lists the values of Port's chart that do not apply"

echo "helm chart: $checked passed, $failed failed"
[ "$failed" -eq 0 ]
