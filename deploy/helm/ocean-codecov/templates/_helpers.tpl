{{- define "ocean-codecov.name" -}}
{{- printf "%s-%s" .Release.Name .Values.integration.identifier | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ocean-codecov.labels" -}}
app.kubernetes.io/name: ocean-codecov
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* The environment the binary reads: the same OCEAN__* names as Port's Python integration. */}}
{{- define "ocean-codecov.env" -}}
- name: OCEAN__PORT__CLIENT_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "ocean-codecov.name" . }}
      key: portClientId
- name: OCEAN__PORT__CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "ocean-codecov.name" . }}
      key: portClientSecret
- name: OCEAN__PORT__BASE_URL
  value: {{ .Values.port.baseUrl | quote }}
- name: OCEAN__INTEGRATION__IDENTIFIER
  value: {{ .Values.integration.identifier | quote }}
- name: OCEAN__INTEGRATION__TYPE
  value: {{ .Values.integration.type | quote }}
- name: OCEAN__INITIALIZE_PORT_RESOURCES
  value: {{ .Values.initializePortResources | quote }}
{{- if .Values.scheduledResyncInterval }}
- name: OCEAN__SCHEDULED_RESYNC_INTERVAL
  value: {{ .Values.scheduledResyncInterval | quote }}
{{- end }}
- name: OCEAN__HTTP__PORT
  value: {{ .Values.service.port | quote }}
{{- range $key, $value := .Values.integration.config }}
- name: OCEAN__INTEGRATION__CONFIG__{{ $key | snakecase | upper }}
  value: {{ $value | quote }}
{{- end }}
{{- range $key, $value := .Values.integration.secrets }}
- name: OCEAN__INTEGRATION__CONFIG__{{ $key | snakecase | upper }}
  valueFrom:
    secretKeyRef:
      name: {{ include "ocean-codecov.name" $ }}
      key: {{ $key }}
{{- end }}
{{- end -}}
