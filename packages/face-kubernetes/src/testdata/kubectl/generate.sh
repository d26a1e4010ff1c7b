#!/bin/sh
# Regenerates (into $1, default this folder) the kubectl reference objects the face's output is compared against.
# kubectl v1.32.4 (client only, no cluster: KUBECONFIG=/dev/null, --dry-run=client).
set -eu
out="${1:-$(dirname "$0")}"
export KUBECONFIG=/dev/null
kubectl create deployment web --image=nginx:1.27 --replicas=2 --port=80 --dry-run=client -o yaml > "$out/deployment.yaml"
kubectl create service clusterip web --tcp=80:http --dry-run=client -o yaml > "$out/service.yaml"
kubectl create configmap web-config-blobs -n default --from-literal=site.blake3=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 --from-literal=site.mount-path=/etc/site/index.html --dry-run=client -o yaml > "$out/configmap.yaml"
