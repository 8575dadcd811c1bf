{{/*
Object name: fixed (independent of the release name) so the in-cluster URL
http://openova-flow-server.<namespace>.svc.cluster.local stays stable.
*/}}
{{- define "openova-flow-server.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "openova-flow-server.selectorLabels" -}}
app.kubernetes.io/name: {{ include "openova-flow-server.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "openova-flow-server.labels" -}}
{{ include "openova-flow-server.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: server
app.kubernetes.io/part-of: openova-flow
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "openova-flow-server.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "openova-flow-server.name" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Replaces the registry host (first path segment) of an image reference with
global.imageRegistry when that is set. Argument: (dict "ref" <image> "root" $).
*/}}
{{- define "openova-flow-server.withRegistry" -}}
{{- $registry := .root.Values.global.imageRegistry -}}
{{- if $registry -}}
{{- regexReplaceAll "^[^/]+/" .ref (printf "%s/" (trimSuffix "/" $registry)) -}}
{{- else -}}
{{- .ref -}}
{{- end -}}
{{- end -}}

{{/*
The container image: <repo>@<digest> when a digest is pinned, else <repo>:<tag>.
*/}}
{{- define "openova-flow-server.image" -}}
{{- $repo := include "openova-flow-server.withRegistry" (dict "ref" .Values.image.repository "root" .) -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (required "openova-flow-server: image.tag or image.digest is required (pin the released image)" .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
Fail-fast: a bad value fails the render (visible in the HelmRelease status)
instead of a crash loop. `required` (not `fail`) so that `helm lint` of the
default values reports the message as a log line instead of an error.
*/}}
{{- define "openova-flow-server.fail" -}}
{{- $_ := required . nil -}}
{{- end -}}

{{- define "openova-flow-server.validate" -}}
{{- $_ := include "openova-flow-server.image" . -}}
{{- if and (gt (int .Values.replicas) 1) (ne .Values.backend "postgres") -}}
{{- include "openova-flow-server.fail" "openova-flow-server: replicas > 1 requires backend=postgres (the memory backend keeps state in one pod)" -}}
{{- end -}}
{{- if and (eq .Values.backend "postgres") (not .Values.postgres.cluster.create) (not .Values.postgres.existingSecret.name) -}}
{{- include "openova-flow-server.fail" "openova-flow-server: backend=postgres requires postgres.cluster.create=true or postgres.existingSecret.name" -}}
{{- end -}}
{{- if and .Values.httpRoute.enabled (not .Values.httpRoute.hostname) -}}
{{- include "openova-flow-server.fail" "openova-flow-server: httpRoute.hostname is required when httpRoute.enabled=true" -}}
{{- end -}}
{{- end -}}

{{- define "openova-flow-server.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
capabilities:
  drop:
    - ALL
{{- end -}}

{{- define "openova-flow-server.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}
