#!/usr/bin/env bash
# A docker daemon and the `aira-eval-sandbox` image, so the docker sandbox tests run.
# Nothing is pulled: the image is a debootstrap of Debian bookworm with python3, numpy, pandas
# and scikit-learn, imported with `docker import` (machines with internet can use
# docker/Dockerfile instead). The root filesystem tarball is cached under build/ (ignored by
# git), so a second run only re-imports it. Exits non-zero with a message when docker cannot
# be set up: CI must not silently skip the docker tests.
set -euo pipefail
image=${AIRA_EVAL_SANDBOX_IMAGE:-aira-eval-sandbox}
cache=${AIRA_EVAL_SANDBOX_CACHE:-build/docker-sandbox}
log=${TMPDIR:-/tmp}/aira-eval-dockerd.log
die() { echo "docker sandbox setup FAILED: $*" >&2; exit 1; }
if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null \
    || die "cannot install docker.io and debootstrap"
fi
if ! docker info >/dev/null 2>&1; then
  nohup dockerd --iptables=false --bridge=none --storage-driver=overlay2 >"$log" 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
fi
docker info >/dev/null 2>&1 || die "dockerd did not start (see $log): $(tail -n 5 "$log" 2>/dev/null)"
if ! docker image inspect "$image" >/dev/null 2>&1; then
  mkdir -p "$cache"
  tarball="$cache/rootfs.tar"
  if [ ! -s "$tarball" ]; then
    rootfs=$(mktemp -d)
    debootstrap --variant=minbase --include=python3,python3-numpy,python3-pandas,python3-sklearn \
      bookworm "$rootfs" >"$cache/debootstrap.log" 2>&1 \
      || die "debootstrap failed (see $cache/debootstrap.log)"
    tar -C "$rootfs" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
    rm -rf "$rootfs"
  fi
  docker import "$tarball" "$image" >/dev/null || die "docker import of $tarball failed"
fi
docker run --rm --network none "$image" python3 -c "import numpy, pandas, sklearn" \
  || die "image $image cannot run python3 with numpy, pandas and scikit-learn"
echo "docker sandbox image $image ready"
