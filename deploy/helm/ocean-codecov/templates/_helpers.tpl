{{/*
Names follow Port's port-ocean chart (ocean-<type>-<identifier>-<what>), so a
Secret or Service named for that chart keeps its name here.
*/}}
{{- define "ocean-codecov.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ocean-codecov.prefix" -}}
{{- if .Values.metadataNamePrefixOverride -}}
{{- .Values.metadataNamePrefixOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "ocean-%s-%s" .Values.integration.type .Values.integration.identifier | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* "<prefix>-<suffix>", cut to `max` characters by shortening the prefix. */}}
{{- define "ocean-codecov.named" -}}
{{- $suffix := index . 1 -}}
{{- $max := 63 -}}
{{- if gt (len .) 2 }}{{ $max = index . 2 }}{{ end -}}
{{- $prefix := include "ocean-codecov.prefix" (index . 0) | trunc (int (sub $max (add 1 (len $suffix)))) | trimSuffix "-" -}}
{{- printf "%s-%s" $prefix $suffix -}}
{{- end -}}

{{- define "ocean-codecov.configMapName" -}}{{ include "ocean-codecov.named" (list . "config") }}{{- end -}}
{{- define "ocean-codecov.deploymentName" -}}{{ include "ocean-codecov.named" (list . "deployment") }}{{- end -}}
{{- define "ocean-codecov.serviceName" -}}{{ include "ocean-codecov.named" (list . "service") }}{{- end -}}
{{- define "ocean-codecov.ingressName" -}}{{ include "ocean-codecov.named" (list . "ingress") }}{{- end -}}
{{- define "ocean-codecov.journalClaimName" -}}{{ .Values.journal.persistence.existingClaim | default (include "ocean-codecov.named" (list . "journal")) }}{{- end -}}
{{- define "ocean-codecov.certName" -}}{{ include "ocean-codecov.named" (list . "cert") }}{{- end -}}
{{- define "ocean-codecov.liveEvents.name" -}}{{ include "ocean-codecov.named" (list . "le") }}{{- end -}}
{{/* A CronJob's name is limited to 52 characters (its Jobs add 11). */}}
{{- define "ocean-codecov.cronJobName" -}}{{ include "ocean-codecov.named" (list . "cron-job" 52) }}{{- end -}}
{{- define "ocean-codecov.containerName" -}}{{ include "ocean-codecov.named" (list . "container") }}{{- end -}}

{{- define "ocean-codecov.secretName" -}}
{{- if and .Values.secret.name (kindIs "string" .Values.secret.name) -}}
{{- .Values.secret.name -}}
{{- else -}}
{{- include "ocean-codecov.named" (list . "secret") -}}
{{- end -}}
{{- end -}}

{{/* The Secrets whose keys become variables: the chart's own, the one named, or each one listed. */}}
{{- define "ocean-codecov.secretNames" -}}
{{- if kindIs "slice" .Values.secret.name -}}
{{- toJson .Values.secret.name -}}
{{- else if or .Values.secret.create .Values.secret.name -}}
{{- toJson (list (include "ocean-codecov.secretName" .)) -}}
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{- define "ocean-codecov.serviceAccountName" -}}
{{- if .Values.podServiceAccount.name -}}
{{- tpl .Values.podServiceAccount.name $ | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- include "ocean-codecov.named" (list . "sa") -}}
{{- end -}}
{{- end -}}

{{- define "ocean-codecov.image" -}}
{{- $image := .Values.image | default (printf "ocean-codecov:%s" (.Values.integration.version | default .Chart.AppVersion)) -}}
{{- if .Values.imageRegistry -}}
{{- printf "%s/%s" (trimSuffix "/" .Values.imageRegistry) $image -}}
{{- else -}}
{{- $image -}}
{{- end -}}
{{- end -}}

{{- define "ocean-codecov.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ocean-codecov.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ocean-codecov.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "ocean-codecov.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.extraLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
The event listener the binary gets as one JSON variable, OCEAN__EVENT_LISTENER,
as Port's chart passes it. KAFKA (Port's chart default) needs Port's Kafka
brokers, which this integration does not use: refused here, at install.
*/}}
{{- define "ocean-codecov.eventListener" -}}
{{- $listener := .Values.integration.eventListener | default dict -}}
{{- $type := upper (toString ($listener.type | default "POLLING")) -}}
{{- if eq $type "KAFKA" -}}
{{- fail "integration.eventListener.type=KAFKA is not supported by ocean-codecov: set integration.eventListener.type=POLLING" -}}
{{- end -}}
{{- toJson (set (omit $listener "brokers") "type" $type) -}}
{{- end -}}

{{/*
Pod spec fields shared by the Deployment, the CronJob's Jobs and the install
hook Job. Argument: (dict "root" $ "component" "<name>").
*/}}
{{- define "ocean-codecov.podCommon" -}}
{{- $ := .root -}}
{{- if or $.Values.podServiceAccount.name $.Values.podServiceAccount.create }}
serviceAccountName: {{ include "ocean-codecov.serviceAccountName" $ }}
{{- end }}
terminationGracePeriodSeconds: {{ $.Values.terminationGracePeriodSeconds | default 30 }}
{{- with $.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
dnsPolicy: {{ $.Values.dnsPolicy | default "ClusterFirst" }}
{{- with $.Values.dnsConfig }}
dnsConfig:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.extraInitContainers }}
initContainers:
  {{- tpl (toYaml .) $ | nindent 2 }}
{{- end }}
{{- with $.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Volumes for the pod: scratch space, the live-event journal, the extra CA, the user's own. */}}
{{- define "ocean-codecov.volumes" -}}
- name: ocean-tmp
  emptyDir: {}
- name: ocean-journal
{{- if .Values.journal.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "ocean-codecov.journalClaimName" . }}
{{- else }}
  emptyDir: {}
{{- end }}
{{- if .Values.selfSignedCertificate.enabled }}
- name: certificates
  secret:
    {{- if .Values.selfSignedCertificate.secret.useExistingSecret }}
    secretName: {{ required "selfSignedCertificate.secret.name is required with useExistingSecret" .Values.selfSignedCertificate.secret.name }}
    items:
      - key: {{ .Values.selfSignedCertificate.secret.key | default "crt" }}
        path: cert.crt
    {{- else }}
    secretName: {{ include "ocean-codecov.certName" . }}
    items:
      - key: crt
        path: cert.crt
    {{- end }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ tpl (toYaml .) $ }}
{{- end }}
{{- end -}}

{{/*
The integration's container. Argument: (dict "root" $ "listener" "<JSON>"
"resources" <map> "serve" <bool>: ports and probes, optional "env" <list>: variables over the ConfigMap's, "port" and "portName" when not the main Service's).
*/}}
{{- define "ocean-codecov.container" -}}
{{- $ := .root -}}
{{- $port := .port | default $.Values.service.port -}}
{{- $portName := .portName | default $.Values.service.portName | default "ocean-port" -}}
- name: {{ include "ocean-codecov.containerName" $ }}
  image: {{ include "ocean-codecov.image" $ }}
  imagePullPolicy: {{ $.Values.imagePullPolicy }}
  args: ["sail"]
  {{- with $.Values.containerSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .serve }}
  ports:
    - name: {{ $portName }}
      containerPort: {{ $port }}
      protocol: TCP
  {{- end }}
  env:
    - name: OCEAN__EVENT_LISTENER
      value: {{ .listener | quote }}
    {{- with .env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- if $.Values.selfSignedCertificate.enabled }}
    # Trusted besides the platform's public roots; the path is where Port's chart mounts it too.
    - name: SSL_CERT_FILE
      value: /usr/local/share/ca-certificates/cert.crt
    {{- end }}
    {{- with $.Values.extraEnv }}
    {{- tpl (toYaml .) $ | nindent 4 }}
    {{- end }}
  envFrom:
    - configMapRef:
        name: {{ include "ocean-codecov.configMapName" $ }}
    {{- range (include "ocean-codecov.secretNames" $ | fromJsonArray) }}
    - secretRef:
        name: {{ . }}
    {{- end }}
  volumeMounts:
    - name: ocean-tmp
      mountPath: /tmp/ocean
    {{- if .serve }}
    - name: ocean-journal
      mountPath: /tmp/ocean/journal
    {{- end }}
    {{- if $.Values.selfSignedCertificate.enabled }}
    - name: certificates
      mountPath: /usr/local/share/ca-certificates/cert.crt
      subPath: cert.crt
      readOnly: true
    {{- end }}
    {{- with $.Values.extraVolumeMounts }}
    {{- tpl (toYaml .) $ | nindent 4 }}
    {{- end }}
  {{- if and .serve $.Values.livenessProbe.enabled }}
  livenessProbe:
    httpGet:
      path: /health/live
      port: {{ $port }}
    initialDelaySeconds: {{ $.Values.livenessProbe.initialDelaySeconds | default 30 }}
    periodSeconds: {{ $.Values.livenessProbe.periodSeconds | default 10 }}
    timeoutSeconds: {{ $.Values.livenessProbe.timeoutSeconds | default 5 }}
    successThreshold: 1
    failureThreshold: {{ $.Values.livenessProbe.failureThreshold | default 3 }}
  {{- end }}
  {{- if and .serve $.Values.readinessProbe.enabled }}
  readinessProbe:
    httpGet:
      path: /health/ready
      port: {{ $port }}
    initialDelaySeconds: {{ $.Values.readinessProbe.initialDelaySeconds | default 5 }}
    periodSeconds: {{ $.Values.readinessProbe.periodSeconds | default 5 }}
    timeoutSeconds: {{ $.Values.readinessProbe.timeoutSeconds | default 5 }}
    successThreshold: {{ $.Values.readinessProbe.successThreshold | default 1 }}
    failureThreshold: {{ $.Values.readinessProbe.failureThreshold | default 5 }}
  {{- end }}
{{- end -}}

{{/*
One run of the CronJob: a Job spec whose pod resyncs once. Kubernetes retries
it only when the binary exits 75 (a fault a retry can fix: Port or Codecov
unreachable before anything was written); any other failure fails the Job at
once, so a full resync is never repeated back to back. An evicted pod is
not counted.
*/}}
{{- define "ocean-codecov.resyncJobSpec" -}}
{{- $ := . -}}
backoffLimit: {{ $.Values.workload.cron.backoffLimit | default 0 }}
{{- with $.Values.workload.cron.resyncTimeoutMinutes }}
activeDeadlineSeconds: {{ mul (int .) 60 }}
{{- end }}
podFailurePolicy:
  rules:
    - action: Ignore
      onPodConditions:
        - type: DisruptionTarget
          status: "True"
    # Kubernetes before 1.31 requires the field in every rule; empty is allowed.
    - action: FailJob
      onPodConditions: []
      onExitCodes:
        containerName: {{ include "ocean-codecov.containerName" $ }}
        operator: NotIn
        values: [75]
template:
  metadata:
    {{- $annotations := merge (dict) ($.Values.workload.cron.annotations | default dict) ($.Values.podAnnotations | default dict) }}
    {{- with $annotations }}
    annotations:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    labels:
      {{- include "ocean-codecov.labels" $ | nindent 6 }}
      app.kubernetes.io/component: resync
  spec:
    restartPolicy: Never
    {{- include "ocean-codecov.podCommon" (dict "root" $) | trim | nindent 4 }}
    containers:
      {{- include "ocean-codecov.container" (dict "root" $ "listener" "{\"type\":\"ONCE\"}" "resources" $.Values.resources "serve" false) | nindent 6 }}
      {{- with $.Values.workload.cron.extraContainers }}
      {{- tpl (toYaml .) $ | nindent 6 }}
      {{- end }}
    volumes:
      {{- include "ocean-codecov.volumes" $ | nindent 6 }}
{{- end -}}
