{{/*
Object names are SuperEdge's own (tunnel-cloud, edge-info, ...): its components and the edge-node
installer look them up by name, so they are not prefixed with the release name. One release per cluster.
*/}}

{{/* The chart name. */}}
{{- define "superedge-addon.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name (for labels; objects keep SuperEdge's names). */}}
{{- define "superedge-addon.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "superedge-addon.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels of one component: the stable name + instance pair and the component.
Call with (dict "context" $ "component" "tunnel-cloud").
*/}}
{{- define "superedge-addon.selectorLabels" -}}
app.kubernetes.io/name: {{ include "superedge-addon.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Standard labels of one component. Call with (dict "context" $ "component" "tunnel-cloud"). */}}
{{- define "superedge-addon.labels" -}}
helm.sh/chart: {{ include "superedge-addon.chart" .context }}
{{ include "superedge-addon.selectorLabels" . }}
app.kubernetes.io/version: {{ .context.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: superedge
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
{{- end }}

{{/* An image reference from {repository, tag}. */}}
{{- define "superedge-addon.image" -}}
{{- printf "%s:%s" .repository .tag }}
{{- end }}

{{/* imagePullSecrets of a pod, when there are any. */}}
{{- define "superedge-addon.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/* Pod placement on control-plane nodes (1.24+ and older labels alike). */}}
{{- define "superedge-addon.cloudPlacement" -}}
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        {{- toYaml .Values.cloudPlacement.nodeSelectorTerms | nindent 8 }}
{{- with .Values.cloudPlacement.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Pod placement on edge nodes; call with (dict "context" $ "tolerations" (list ...)). */}}
{{- define "superedge-addon.edgePlacement" -}}
nodeSelector:
  {{- toYaml .context.Values.edgePlacement.nodeSelector | nindent 2 }}
{{- $tolerations := concat (.tolerations | default list) .context.Values.edgePlacement.tolerations }}
{{- with $tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Where application-grid-wrapper listens on edge nodes (the edge kube-proxy's API server). */}}
{{- define "superedge-addon.wrapperAddress" -}}
127.0.0.1:51006
{{- end }}

{{/* lite-apiserver's port on edgeVirtualAddr. */}}
{{- define "superedge-addon.liteApiserverPort" -}}
51003
{{- end }}

{{/* The cluster CA (PEM): the value, else the CA bundle every namespace gets, else an error. */}}
{{- define "superedge-addon.caCert" -}}
{{- if .Values.cluster.caCert }}
{{- .Values.cluster.caCert }}
{{- else }}
{{- $bundle := lookup "v1" "ConfigMap" "kube-system" "kube-root-ca.crt" }}
{{- $pem := dig "data" "ca.crt" "" $bundle }}
{{- required "cluster.caCert is required: the cluster CA certificate (PEM); kube-system/kube-root-ca.crt could not be read (helm template and --dry-run have no cluster)" $pem }}
{{- end }}
{{- end }}

{{/* The tunnel host edge nodes dial. */}}
{{- define "superedge-addon.publicHost" -}}
{{- required "tunnelCloud.publicHost is required: the IP or DNS name edge nodes use to reach this cluster's nodes (e.g. --set tunnelCloud.publicHost=203.0.113.10)" .Values.tunnelCloud.publicHost }}
{{- end }}

{{/*
The keys and certificates: from values when given, else from the objects of an earlier release (lookup),
else generated here. Computed once per render and shared by every template through .Values._material,
so the CA in one object and the certificate it signed in another always match. `helm template` and
--dry-run have no cluster: there they are generated afresh each time.
*/}}
{{- define "superedge-addon.ensureMaterial" -}}
{{- if not (hasKey .Values "_material") }}
{{- $ns := .Release.Namespace }}
{{- $m := dict }}
{{- /* tunnel */}}
{{- $t := .Values.tunnelCloud }}
{{- $given := list $t.caCert $t.serverCert $t.serverKey $t.egressCert $t.egressKey | compact | len }}
{{- if eq $given 5 }}
{{- $_ := set $m "tunnelCA" $t.caCert }}
{{- $_ := set $m "tunnelServerCert" $t.serverCert }}
{{- $_ := set $m "tunnelServerKey" $t.serverKey }}
{{- $_ := set $m "tunnelEgressCert" $t.egressCert }}
{{- $_ := set $m "tunnelEgressKey" $t.egressKey }}
{{- else if gt $given 0 }}
{{- fail "tunnelCloud.caCert, serverCert, serverKey, egressCert and egressKey go together: set all five or none" }}
{{- else }}
{{- $cloud := dig "data" dict (lookup "v1" "Secret" $ns "tunnel-cloud-cert") }}
{{- $edge := dig "data" dict (lookup "v1" "Secret" $ns "tunnel-edge-cert") }}
{{- if and (index $edge "ca.crt") (index $cloud "cloud.crt") (index $cloud "cloud.key") (index $cloud "egress.crt") (index $cloud "egress.key") }}
{{- $_ := set $m "tunnelCA" (index $edge "ca.crt" | b64dec) }}
{{- $_ := set $m "tunnelServerCert" (index $cloud "cloud.crt" | b64dec) }}
{{- $_ := set $m "tunnelServerKey" (index $cloud "cloud.key" | b64dec) }}
{{- $_ := set $m "tunnelEgressCert" (index $cloud "egress.crt" | b64dec) }}
{{- $_ := set $m "tunnelEgressKey" (index $cloud "egress.key" | b64dec) }}
{{- else }}
{{- $ca := genCA "superedge-tunnel-ca" 3650 }}
{{- $dns := list "tunnel.cloud.io" "tunnelcloud.superedge.io" }}
{{- $ips := list "127.0.0.1" }}
{{- $host := .Values.tunnelCloud.publicHost | default "" }}
{{- if regexMatch "^[0-9.]+$|:" $host }}
{{- $ips = append $ips $host }}
{{- else if $host }}
{{- $dns = append $dns $host }}
{{- end }}
{{- $server := genSignedCert "TunnelCloudService" $ips $dns 3650 $ca }}
{{- $service := printf "tunnel-cloud.%s.svc" $ns }}
{{- $egress := genSignedCert "TunnelAnpServer" (list "127.0.0.1") (list $service (printf "%s.%s" $service .Values.cluster.domain)) 3650 $ca }}
{{- $_ := set $m "tunnelCA" $ca.Cert }}
{{- $_ := set $m "tunnelServerCert" $server.Cert }}
{{- $_ := set $m "tunnelServerKey" $server.Key }}
{{- $_ := set $m "tunnelEgressCert" $egress.Cert }}
{{- $_ := set $m "tunnelEgressKey" $egress.Key }}
{{- end }}
{{- end }}
{{- /* tunnel token */}}
{{- if .Values.tunnelCloud.token }}
{{- $_ := set $m "tunnelToken" .Values.tunnelCloud.token }}
{{- else }}
{{- $live := dig "data" "token" "" (lookup "v1" "ConfigMap" $ns "tunnel-cloud-token") | trim | trimPrefix "default:" }}
{{- $_ := set $m "tunnelToken" ($live | default (randAlphaNum 32)) }}
{{- end }}
{{- /* webhook */}}
{{- $w := .Values.edgeHealthAdmission }}
{{- $given = list $w.caCert $w.serverCert $w.serverKey | compact | len }}
{{- if eq $given 3 }}
{{- $_ := set $m "webhookCA" $w.caCert }}
{{- $_ := set $m "webhookCert" $w.serverCert }}
{{- $_ := set $m "webhookKey" $w.serverKey }}
{{- else if gt $given 0 }}
{{- fail "edgeHealthAdmission.caCert, serverCert and serverKey go together: set all three or none" }}
{{- else }}
{{- $live := dig "data" dict (lookup "v1" "Secret" $ns "validate-admission-control-server-certs") }}
{{- if and (index $live "ca.crt") (index $live "server.crt") (index $live "server.key") }}
{{- $_ := set $m "webhookCA" (index $live "ca.crt" | b64dec) }}
{{- $_ := set $m "webhookCert" (index $live "server.crt" | b64dec) }}
{{- $_ := set $m "webhookKey" (index $live "server.key" | b64dec) }}
{{- else }}
{{- $ca := genCA "edge-health-admission-ca" 3650 }}
{{- $service := printf "edge-health-admission.%s.svc" $ns }}
{{- $cert := genSignedCert "edge-health-admission" nil (list (printf "edge-health-admission.%s" $ns) $service (printf "%s.%s" $service .Values.cluster.domain)) 3650 $ca }}
{{- $_ := set $m "webhookCA" $ca.Cert }}
{{- $_ := set $m "webhookCert" $cert.Cert }}
{{- $_ := set $m "webhookKey" $cert.Key }}
{{- end }}
{{- end }}
{{- /* edge-health HMAC key */}}
{{- if .Values.edgeHealth.hmacKey }}
{{- $_ := set $m "hmacKey" .Values.edgeHealth.hmacKey }}
{{- else }}
{{- $live := dig "data" "hmackey" "" (lookup "v1" "ConfigMap" $ns "hmac-config") }}
{{- $_ := set $m "hmacKey" ($live | default (randAlphaNum 16)) }}
{{- end }}
{{- $_ := set .Values "_material" $m }}
{{- end }}
{{- end }}

{{/* One item of the material, e.g. (dict "context" $ "item" "tunnelCA"). */}}
{{- define "superedge-addon.material" -}}
{{- include "superedge-addon.ensureMaterial" .context }}
{{- index .context.Values._material .item }}
{{- end }}

{{/* The value of an edge-info key the owner manages: the value when set, else the live one, else none. */}}
{{- define "superedge-addon.ownerKey" -}}
{{- $value := index .context.Values.edgeInfo .value }}
{{- if kindIs "invalid" $value }}
{{- $live := lookup "v1" "ConfigMap" .context.Release.Namespace "edge-info" }}
{{- dig "data" .key "" $live }}
{{- else }}
{{- $value }}
{{- end }}
{{- end }}

{{/*
The cluster must run Kubernetes 1.22 or later ("-0" lets managed clusters' versions such as
v1.30.4-eks-... match). Without a cluster (helm template, helm install --dry-run) helm renders with its own
default version, v1.20.0 in builds without release flags: only that exact default, and only when no cluster
answers (lookup is empty), is let through; a version given with --kube-version or a cluster's own is checked.
*/}}
{{- define "superedge-addon.kubeVersion" -}}
{{- $version := .Capabilities.KubeVersion.Version }}
{{- $helmDefault := and (eq $version "v1.20.0") (not (lookup "v1" "Service" "default" "kubernetes")) }}
{{- if and (semverCompare "<1.22.0-0" $version) (not $helmDefault) }}
{{- fail (printf "superedge-addon needs Kubernetes 1.22 or later; this cluster runs %s" $version) }}
{{- end }}
{{- end }}
