{{/* The chart's name, or nameOverride. */}}
{{- define "llm-simulator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's resource name: fullnameOverride, or release-chart (once when they match). */}}
{{- define "llm-simulator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The release's labels, without a component (never change them on an upgrade). */}}
{{- define "llm-simulator.releaseLabels" -}}
app.kubernetes.io/name: {{ include "llm-simulator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels that select the simulator pods: the component keeps the optional Redis out. */}}
{{- define "llm-simulator.selectorLabels" -}}
{{ include "llm-simulator.releaseLabels" . }}
app.kubernetes.io/component: simulator
{{- end -}}

{{/* Labels of every resource of the release, but the component. */}}
{{- define "llm-simulator.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "llm-simulator.releaseLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Labels of the simulator's resources. */}}
{{- define "llm-simulator.labels" -}}
{{ include "llm-simulator.commonLabels" . }}
app.kubernetes.io/component: simulator
{{- end -}}

{{/* The Secret holding the API keys. */}}
{{- define "llm-simulator.secretName" -}}
{{- default (include "llm-simulator.fullname" .) .Values.auth.existingSecret -}}
{{- end -}}

{{/* LLM_SIMULATOR_STATE: state.url, else the in-chart Redis when enabled, else empty. */}}
{{- define "llm-simulator.stateUrl" -}}
{{- if .Values.state.url -}}
{{- .Values.state.url -}}
{{- else if .Values.redis.enabled -}}
{{- printf "redis://%s-redis:6379/0" (include "llm-simulator.fullname" .) -}}
{{- end -}}
{{- end -}}
