{{/* Names and labels ------------------------------------------------------------------------------ */}}

{{- define "devops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name; every object is named after it (suffixes stay within 63 characters). */}}
{{- define "devops.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "devops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "devops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "devops.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "devops.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: devops
{{- end -}}

{{/* Labels of one component: (list $ "web") */}}
{{- define "devops.componentLabels" -}}
{{- $ := index . 0 -}}
{{ include "devops.labels" $ }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "devops.componentSelector" -}}
{{- $ := index . 0 -}}
{{ include "devops.selectorLabels" $ }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "devops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "devops.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "devops.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Secrets ------------------------------------------------------------------------------------------ */}}

{{/* The Secret the chart generates (keys it was not given an existing Secret for). */}}
{{- define "devops.generatedSecret" -}}
{{- include "devops.fullname" . -}}
{{- end -}}

{{- define "devops.needsGeneratedSecret" -}}
{{- if or (not .Values.keys.existingSecret) .Values.postgresql.enabled .Values.minio.enabled -}}true{{- end -}}
{{- end -}}

{{/*
A generated value, base64-encoded, that survives upgrades: what the release's Secret already holds in
the cluster (lookup), else a fresh one. Offline rendering (helm template) always generates.
(list $ "KEY" "fresh value")
*/}}
{{- define "devops.keepOrGenerate" -}}
{{- $ := index . 0 -}}
{{- $key := index . 1 -}}
{{- $existing := lookup "v1" "Secret" $.Release.Namespace (include "devops.generatedSecret" $) | default dict -}}
{{- $data := get $existing "data" | default dict -}}
{{- if hasKey $data $key -}}
{{- get $data $key -}}
{{- else -}}
{{- index . 2 | b64enc -}}
{{- end -}}
{{- end -}}

{{- define "devops.keysSecret" -}}
{{- default (include "devops.generatedSecret" .) .Values.keys.existingSecret -}}
{{- end -}}

{{/* Settings ----------------------------------------------------------------------------------------- */}}

{{/*
ALLOWED_HOSTS: the configured hosts, the ingress hosts, localhost, and this pod's IP (kubelet HTTP probes
and Prometheus scrapes send the pod IP as Host; Django answers 400 to a host it does not allow). The
bracketed form is what an IPv6 Host header carries.
*/}}
{{- define "devops.allowedHosts" -}}
{{- $hosts := list "$(POD_IP)" "[$(POD_IP)]" "localhost" -}}
{{- range .Values.config.allowedHosts }}{{ $hosts = append $hosts . }}{{ end -}}
{{- if .Values.ingress.enabled }}{{ range .Values.ingress.hosts }}{{ $hosts = append $hosts . }}{{ end }}{{ end -}}
{{- $hosts | uniq | join "," -}}
{{- end -}}

{{- define "devops.s3Endpoint" -}}
{{- if .Values.minio.enabled -}}
{{- printf "http://%s-minio:9000" (include "devops.fullname" .) -}}
{{- else -}}
{{- required "externalS3.endpoint is required when minio.enabled is false" .Values.externalS3.endpoint -}}
{{- end -}}
{{- end -}}

{{/*
The environment of every process of the service: non-secret settings from the ConfigMap (envFrom),
and here what is secret or per pod. Secrets are referenced, never copied into a manifest.
*/}}
{{- define "devops.env" -}}
- name: POD_IP
  valueFrom:
    fieldRef: {fieldPath: status.podIP}
- name: ALLOWED_HOSTS
  value: {{ include "devops.allowedHosts" . | quote }}
- name: SECRET_KEY
  valueFrom:
    secretKeyRef: {name: {{ include "devops.keysSecret" . }}, key: {{ .Values.keys.secretKeyKey }}}
- name: FERNET_KEYS
  valueFrom:
    secretKeyRef: {name: {{ include "devops.keysSecret" . }}, key: {{ .Values.keys.fernetKeysKey }}}
- name: METRICS_TOKEN
  valueFrom:
    secretKeyRef: {name: {{ include "devops.keysSecret" . }}, key: {{ .Values.keys.metricsTokenKey }}, optional: true}
{{- if .Values.postgresql.enabled }}
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "devops.generatedSecret" . }}, key: POSTGRES_PASSWORD}
- name: DATABASE_URL
  value: {{ printf "postgres://%s:$(POSTGRES_PASSWORD)@%s-postgresql:5432/%s" .Values.postgresql.username (include "devops.fullname" .) .Values.postgresql.database | quote }}
{{- else }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "externalDatabase.existingSecret is required when postgresql.enabled is false" .Values.externalDatabase.existingSecret }}
      key: {{ .Values.externalDatabase.urlKey }}
{{- end }}
{{- if .Values.redis.enabled }}
- name: CELERY_BROKER_URL
  value: {{ printf "redis://%s-redis:6379/0" (include "devops.fullname" .) | quote }}
- name: LIVE_LOG
  value: {{ printf "redis://%s-redis:6379/1" (include "devops.fullname" .) | quote }}
{{- else }}
{{- $redis := required "externalRedis.existingSecret is required when redis.enabled is false" .Values.externalRedis.existingSecret }}
- name: CELERY_BROKER_URL
  valueFrom:
    secretKeyRef: {name: {{ $redis }}, key: {{ .Values.externalRedis.brokerUrlKey }}}
- name: LIVE_LOG
  valueFrom:
    secretKeyRef: {name: {{ $redis }}, key: {{ .Values.externalRedis.liveLogUrlKey }}}
{{- end }}
{{- if .Values.minio.enabled }}
- name: S3_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ include "devops.generatedSecret" . }}, key: S3_ACCESS_KEY}
- name: S3_SECRET_KEY
  valueFrom:
    secretKeyRef: {name: {{ include "devops.generatedSecret" . }}, key: S3_SECRET_KEY}
{{- else }}
{{- $s3 := required "externalS3.existingSecret is required when minio.enabled is false" .Values.externalS3.existingSecret }}
- name: S3_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ $s3 }}, key: {{ .Values.externalS3.accessKeyKey }}}
- name: S3_SECRET_KEY
  valueFrom:
    secretKeyRef: {name: {{ $s3 }}, key: {{ .Values.externalS3.secretKeyKey }}}
{{- end }}
{{- end -}}

{{/* Pods ----------------------------------------------------------------------------------------------- */}}

{{- define "devops.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end -}}

{{/* /tmp and DEVOPS_VAR_DIR are the only writable places of a read-only root filesystem. */}}
{{- define "devops.volumes" -}}
- name: tmp
  emptyDir: {}
- name: var
  emptyDir: {}
{{- end -}}

{{- define "devops.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: var
  mountPath: /var/lib/devops
{{- end -}}

{{/*
Web, workers and beat start only once the schema of this release's image is migrated (the migrations
Job does it): `migrate --check` exits 1 while migrations are pending or the database is unreachable.
*/}}
{{- define "devops.waitForMigrations" -}}
- name: wait-for-migrations
  image: {{ include "devops.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - sh
    - -c
    - until python manage.py migrate --check >/dev/null; do echo "waiting for the migrations Job"; sleep 5; done
  envFrom:
    - configMapRef: {name: {{ include "devops.fullname" . }}}
  env:
    {{- include "devops.env" . | nindent 4 }}
    - {name: HOME, value: /tmp}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  resources:
    requests: {cpu: 10m, memory: 128Mi}
    limits: {memory: 256Mi}
  volumeMounts:
    {{- include "devops.volumeMounts" . | nindent 4 }}
{{- end -}}

{{/* `manage.py workerprobe`: the worker's heartbeat file is fresh (devops/ops/heartbeat.py). */}}
{{- define "devops.workerProbe" -}}
exec:
  command: [python, manage.py, workerprobe, --max-age, "60"]
timeoutSeconds: 10
{{- end -}}

{{/*
`manage.py beatprobe`: beat's heartbeat file, touched after every pass of its scheduler loop, is younger
than BEAT_PROBE_MAX_AGE (default 60 s; set it with extraEnv). devops/ops/beat.py.
*/}}
{{- define "devops.beatProbe" -}}
exec:
  command: [python, manage.py, beatprobe]
timeoutSeconds: 10
{{- end -}}
