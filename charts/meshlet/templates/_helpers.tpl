{{/* Names and labels shared by the templates. */}}
{{- define "meshlet.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "meshlet.injector" -}}{{ include "meshlet.fullname" . }}-injector{{- end -}}

{{- define "meshlet.image" -}}{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}{{- end -}}

{{- define "meshlet.labels" -}}
app.kubernetes.io/name: meshlet
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "meshlet.selectorLabels" -}}
app.kubernetes.io/name: meshlet
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: injector
{{- end -}}

{{/* The injection settings (sidecar/src/inject/inject-settings.ts), as JSON. */}}
{{- define "meshlet.settings" -}}
{{- $s := .Values.sidecar -}}
{{- $tls := dict -}}
{{- if $s.xds.tls.enabled -}}
{{- $tls = dict "caConfigMap" $s.xds.tls.caConfigMap "caKey" $s.xds.tls.caKey -}}
{{- if $s.xds.tls.serverName }}{{ $_ := set $tls "serverName" $s.xds.tls.serverName }}{{ end -}}
{{- end -}}
{{- $token := dict "audience" $s.xds.token.audience "expirationSeconds" $s.xds.token.expirationSeconds -}}
{{- $resources := dict -}}
{{- range $k, $v := $s.resources }}{{ if $v }}{{ $_ := set $resources $k (toString $v) }}{{ end }}{{ end -}}
{{- $settings := dict
  "image" (include "meshlet.image" .)
  "imagePullPolicy" .Values.image.pullPolicy
  "sidecarMode" $s.mode
  "proxyUid" $s.proxyUid
  "xds" (dict "address" $s.xds.address "tls" (ternary $tls nil $s.xds.tls.enabled) "token" (ternary $token nil $s.xds.token.enabled))
  "clusterId" $s.clusterId
  "istioVersion" $s.istioVersion
  "tracing" (dict "otlpEndpoint" $s.tracing.otlpEndpoint "samplingPercent" $s.tracing.samplingPercent)
  "resources" $resources
  "logLevel" $s.logLevel
  "drainSeconds" $s.drainSeconds
  "iptablesMode" $s.iptablesMode
  "excludeInboundPorts" $s.excludeInboundPorts
  "excludeOutboundPorts" $s.excludeOutboundPorts
  "excludeOutboundIpRanges" $s.excludeOutboundIpRanges
  "excludedNamespaces" (concat (list .Release.Namespace) $s.excludedNamespaces)
-}}
{{- toPrettyJson $settings -}}
{{- end -}}
