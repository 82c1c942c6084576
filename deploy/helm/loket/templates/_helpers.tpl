{{/* Names and labels. */}}
{{- define "loket.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "loket.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "loket.selectorLabels" -}}
app.kubernetes.io/name: {{ include "loket.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "loket.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "loket.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "loket.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "loket.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "loket.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "loket.claimName" -}}
{{- default (printf "%s-data" (include "loket.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{/* SQLite on the data volume unless a PostgreSQL URL comes from a Secret. */}}
{{- define "loket.sqlite" -}}
{{- if not .Values.database.existingSecret }}true{{ end }}
{{- end }}

{{/* LOKET__SECTION__KEY from "section.key". */}}
{{- define "loket.envName" -}}
{{- printf "LOKET__%s" (. | upper | replace "." "__") }}
{{- end }}

{{/*
The environment shared by the Deployment and the purge CronJob. The image already sets the
paths (Dockerfile ENV); they are repeated here because the volumes below depend on them.
*/}}
{{- define "loket.env" -}}
- name: LOKET__SERVER__BIND
  value: {{ printf "0.0.0.0:%d" (int .Values.containerPort) | quote }}
- name: LOKET__SERVER__LOG_FORMAT
  value: json
- name: LOKET__PATHS__DATA_DIR
  value: /var/lib/loket
- name: LOKET__PATHS__CACHE_DIR
  value: /var/lib/loket/cache
- name: LOKET__ARCHIVE__DIR
  value: /var/lib/loket/archive
- name: TMPDIR
  value: /var/lib/loket
{{- if .Values.database.existingSecret }}
- name: LOKET__DATABASE__URL_FILE
  value: /run/secrets/loket/database.url/value
{{- end }}
{{- range .Values.secretFiles }}
- name: {{ printf "%s_FILE" (include "loket.envName" .setting) }}
  value: {{ printf "/run/secrets/loket/%s/value" .setting | quote }}
{{- end }}
{{- range $setting, $value := .Values.settings }}
- name: {{ include "loket.envName" $setting }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Volumes shared by the Deployment and the CronJob: data, secrets, extra. */}}
{{- define "loket.volumes" -}}
- name: data
{{- if .Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "loket.claimName" . }}
{{- else }}
  emptyDir:
    sizeLimit: 1Gi
{{- end }}
{{- if .Values.database.existingSecret }}
- name: database-url
  secret:
    secretName: {{ .Values.database.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.database.secretKey }}
        path: value
{{- end }}
{{- range $i, $s := .Values.secretFiles }}
- name: {{ printf "secret-%d" $i }}
  secret:
    secretName: {{ $s.secretName }}
    defaultMode: 0440
    items:
      - key: {{ $s.key }}
        path: value
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "loket.volumeMounts" -}}
- name: data
  mountPath: /var/lib/loket
{{- if .Values.database.existingSecret }}
- name: database-url
  mountPath: /run/secrets/loket/database.url
  readOnly: true
{{- end }}
{{- range $i, $s := .Values.secretFiles }}
- name: {{ printf "secret-%d" $i }}
  mountPath: {{ printf "/run/secrets/loket/%s" $s.setting }}
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Refuse combinations that cannot work. */}}
{{- define "loket.validate" -}}
{{- if and (include "loket.sqlite" .) (gt (int .Values.replicaCount) 1) }}
{{- fail "replicaCount > 1 needs PostgreSQL (database.existingSecret): SQLite serves one instance" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) .Values.persistence.enabled (has "ReadWriteOnce" .Values.persistence.accessModes) (not (has "ReadWriteMany" .Values.persistence.accessModes)) }}
{{- fail "replicaCount > 1 with a ReadWriteOnce data volume: set persistence.enabled=false (the cache then lives in an emptyDir) or accessModes [ReadWriteMany]" }}
{{- end }}
{{- if and (include "loket.sqlite" .) (not .Values.persistence.enabled) .Values.purge.enabled }}
{{- fail "SQLite without persistence keeps nothing across restarts and the purge job cannot reach it: enable persistence, use PostgreSQL (database.existingSecret), or set purge.enabled=false for a demo" }}
{{- end }}
{{- range .Values.secretFiles }}
{{- if eq .setting "database.url" }}
{{- fail "the database URL comes from database.existingSecret, not secretFiles" }}
{{- end }}
{{- end }}
{{- range $setting, $value := .Values.settings }}
{{- if has $setting (list "server.bind" "paths.data_dir" "paths.cache_dir" "archive.dir" "database.url") }}
{{- fail (printf "settings.%s is set by the chart (containerPort, the data volume, database.existingSecret)" $setting) }}
{{- end }}
{{- end }}
{{- end }}
