{{/*
Object name: fixed (independent of the release name) so the in-cluster URL
http://openova-flow-proxy.<namespace>.svc.cluster.local stays stable.
*/}}
{{- define "openova-flow-proxy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "openova-flow-proxy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "openova-flow-proxy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "openova-flow-proxy.labels" -}}
{{ include "openova-flow-proxy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: proxy
app.kubernetes.io/part-of: openova-flow
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "openova-flow-proxy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "openova-flow-proxy.name" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Replaces the registry host (first path segment) of an image reference with
global.imageRegistry when that is set. Argument: (dict "ref" <image> "root" $).
*/}}
{{- define "openova-flow-proxy.withRegistry" -}}
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
{{- define "openova-flow-proxy.image" -}}
{{- $repo := include "openova-flow-proxy.withRegistry" (dict "ref" .Values.image.repository "root" .) -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (required "openova-flow-proxy: image.tag or image.digest is required (pin the released image)" .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
Fail-fast: a bad value fails the render (visible in the HelmRelease status)
instead of a crash loop. `required` (not `fail`) so that `helm lint` of the
default values reports the message as a log line instead of an error.
*/}}
{{- define "openova-flow-proxy.fail" -}}
{{- $_ := required . nil -}}
{{- end -}}

{{- define "openova-flow-proxy.validate" -}}
{{- $_ := include "openova-flow-proxy.image" . -}}
{{- $_ := required "openova-flow-proxy: upstreamUrl is required" .Values.upstreamUrl -}}
{{- $sources := 0 -}}
{{- if .Values.auth.jwksUrl -}}{{- $sources = add1 $sources -}}{{- end -}}
{{- if .Values.auth.jwksConfigMap.name -}}{{- $sources = add1 $sources -}}{{- end -}}
{{- if .Values.auth.jwtSecret.existingSecret -}}{{- $sources = add1 $sources -}}{{- end -}}
{{- if ne (int $sources) 1 -}}
{{- include "openova-flow-proxy.fail" "openova-flow-proxy: set exactly one of auth.jwksUrl, auth.jwksConfigMap.name, auth.jwtSecret.existingSecret (there is no unauthenticated mode)" -}}
{{- end -}}
{{- if and .Values.httpRoute.enabled (not .Values.httpRoute.hostname) -}}
{{- include "openova-flow-proxy.fail" "openova-flow-proxy: httpRoute.hostname is required when httpRoute.enabled=true" -}}
{{- end -}}
{{- end -}}

{{- define "openova-flow-proxy.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
capabilities:
  drop:
    - ALL
{{- end -}}

{{- define "openova-flow-proxy.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}
