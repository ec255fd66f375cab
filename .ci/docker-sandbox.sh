#!/usr/bin/env bash
# Best effort: a docker daemon and the offline-built `aira-eval-sandbox` image, so the docker
# sandbox tests run (they skip cleanly without them). Nothing is pulled: the image is a
# debootstrap of Debian bookworm with python3, numpy, pandas and scikit-learn.
set -euo pipefail
image=${AIRA_EVAL_SANDBOX_IMAGE:-aira-eval-sandbox}
if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  nohup dockerd --iptables=false --bridge=none --storage-driver=overlay2 \
    >/tmp/aira-eval-dockerd.log 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
fi
docker info >/dev/null 2>&1
if ! docker image inspect "$image" >/dev/null 2>&1; then
  rootfs=$(mktemp -d)
  debootstrap --variant=minbase --include=python3,python3-numpy,python3-pandas,python3-sklearn \
    bookworm "$rootfs" >/tmp/aira-eval-debootstrap.log 2>&1
  tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
  rm -rf "$rootfs"
fi
echo "docker sandbox image $image ready"
