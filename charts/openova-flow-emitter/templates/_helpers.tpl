{{/*
Object name: fixed (independent of the release name) so the in-cluster URL
http://openova-flow-emitter.<namespace>.svc.cluster.local stays stable.
*/}}
{{- define "openova-flow-emitter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "openova-flow-emitter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "openova-flow-emitter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "openova-flow-emitter.labels" -}}
{{ include "openova-flow-emitter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: emitter
app.kubernetes.io/part-of: openova-flow
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "openova-flow-emitter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "openova-flow-emitter.name" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Replaces the registry host (first path segment) of an image reference with
global.imageRegistry when that is set. Argument: (dict "ref" <image> "root" $).
*/}}
{{- define "openova-flow-emitter.withRegistry" -}}
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
{{- define "openova-flow-emitter.image" -}}
{{- $repo := include "openova-flow-emitter.withRegistry" (dict "ref" .Values.image.repository "root" .) -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (required "openova-flow-emitter: image.tag or image.digest is required (pin the released image)" .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
Fail-fast: a bad value fails the render (visible in the HelmRelease status)
instead of a crash loop. `required` (not `fail`) so that `helm lint` of the
default values reports the message as a log line instead of an error.
*/}}
{{- define "openova-flow-emitter.fail" -}}
{{- $_ := required . nil -}}
{{- end -}}

{{- define "openova-flow-emitter.validate" -}}
{{- $_ := include "openova-flow-emitter.image" . -}}
{{- $_ := required "openova-flow-emitter: flowServerUrl is required (e.g. http://openova-flow-server.catalyst-system.svc.cluster.local)" .Values.flowServerUrl -}}
{{- $_ := required "openova-flow-emitter: flowId is required (the 16-hex deployment id)" .Values.flowId -}}
{{- $_ := required "openova-flow-emitter: regionKey is required (e.g. fsn1 or hel1-1)" .Values.regionKey -}}
{{- if and (not .Values.leaderElection.enabled) (or (eq .Values.workload.kind "DaemonSet") (gt (int .Values.replicas) 1)) -}}
{{- include "openova-flow-emitter.fail" "openova-flow-emitter: leaderElection.enabled=true is required for a DaemonSet or replicas > 1" -}}
{{- end -}}
{{- end -}}

{{- define "openova-flow-emitter.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
capabilities:
  drop:
    - ALL
{{- end -}}

{{- define "openova-flow-emitter.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}
