#!/usr/bin/env bash
# Builds the image with a Docker engine and runs it: samcell --version, and samcell segment on a
# synthetic image in a mounted folder, as the image's non-root user. A release build of the
# workspace takes many minutes, so this runs only when asked: SAMCELL_TEST_DOCKER=1 (then a
# missing or unusable engine fails); otherwise it prints why it skipped.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh"
if [ "${SAMCELL_TEST_DOCKER:-0}" != 1 ]; then
  if docker info >/dev/null 2>&1; then
    echo "SKIPPED: docker build (a Docker engine is here; SAMCELL_TEST_DOCKER=1 builds and runs the image, a release build of many minutes)"
  else
    echo "SKIPPED: Docker engine not installed or not running (docker info fails; install Docker and set SAMCELL_TEST_DOCKER=1 to build and run the image)"
  fi
  exit 77
fi
docker info >/dev/null 2>&1 || fail "SAMCELL_TEST_DOCKER=1 but docker info fails: no usable Docker engine"
WORK="$(work_dir docker)"
trap 'remove_work "$WORK"' EXIT
tag="samcell:test-$$"
step "docker build -t $tag"
docker build -t "$tag" "$ROOT"
step "docker run $tag --version"
docker run --rm "$tag" --version
python3 "$HERE/make_images.py" "$WORK/images" 2
chmod -R a+rwX "$WORK"
docker run --rm -v "$WORK:/data" "$tag" segment images --output results
[ -f "$WORK/results/cells_00_masks.tif" ] || fail "the container wrote no masks"
docker image rm "$tag" >/dev/null
step "Docker image: passed"
