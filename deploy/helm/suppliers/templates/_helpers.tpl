{{- define "suppliers.name" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "suppliers.labels" -}}
app.kubernetes.io/name: suppliers
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "suppliers.selector" -}}
app.kubernetes.io/name: suppliers
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The Secret the API reads its JWT key and URLs from: the one given, or the chart's. */}}
{{- define "suppliers.secretName" -}}
{{- if .Values.api.existingSecret -}}
{{- .Values.api.existingSecret -}}
{{- else -}}
{{- include "suppliers.name" . }}-api
{{- end -}}
{{- end -}}

{{- define "suppliers.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "suppliers.collectorImage" -}}
{{- printf "%s:%s" .Values.collector.image.repository .Values.collector.image.tag -}}
{{- end -}}

{{/* host:port of a URL: postgresql+asyncpg://u:p@db:5432/x -> db:5432 */}}
{{- define "suppliers.hostPort" -}}
{{- $url := urlParse . -}}
{{- $url.host -}}
{{- end -}}

{{/* The environment every pod of the API (and its jobs) gets. */}}
{{- define "suppliers.appEnv" -}}
- name: SUPPLIERS_JWT_SECRET
  valueFrom: {secretKeyRef: {name: {{ include "suppliers.secretName" . }}, key: SUPPLIERS_JWT_SECRET}}
- name: DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ include "suppliers.secretName" . }}, key: DATABASE_URL}}
- name: REDIS_URL
  valueFrom: {secretKeyRef: {name: {{ include "suppliers.secretName" . }}, key: REDIS_URL}}
- name: SUPPLIERS_ENVIRONMENT
  value: kubernetes
{{- end -}}

{{/* A restricted container: non-root, nothing to escalate, no capability, read-only root. */}}
{{- define "suppliers.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities: {drop: [ALL]}
seccompProfile: {type: RuntimeDefault}
{{- end -}}
