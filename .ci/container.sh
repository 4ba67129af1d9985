#!/usr/bin/env bash
# Build labelloop's components image on a machine without a Docker engine or a reachable container registry,
# with podman. Idempotent: every step is skipped when its result exists; the build reuses podman's layer cache
# (the dependency layer survives code changes). Called by `.ci/setup.sh test`; run it alone to rebuild.
#
#   bash .ci/container.sh            # tools, podman settings, offline base image, the image
#   LABELLOOP_CONTAINER=skip ...     # setup.sh skips this script (machines where podman cannot run)
#
# Environment: IMAGE (default: the package-version tag tests/test_container.py runs),
# BASE_IMAGE (default: an offline Debian 12 + Python 3.11 image built here with mmdebstrap),
# BUILD_CA_BUNDLE (default: this machine's CA bundle; mounted read-only for the build's pip only, never baked in).
# Timings go to stdout, the build log to $WORK/build.log.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-${TMPDIR:-/tmp}/labelloop-container}
VERSION=$(python3 -c "import tomllib;print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")
IMAGE=${IMAGE:-localhost/labelloop/components:$VERSION}
BASE_IMAGE=${BASE_IMAGE:-localhost/labelloop/base:py311-bookworm}
BUILD_CA_BUNDLE=${BUILD_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
mkdir -p "$WORK"
say() { echo "container: [$(date +%T)] $*"; }
timed() {  # timed LABEL COMMAND...: run it and print how long it took
  local label=$1 start=$SECONDS
  shift
  "$@"
  say "$label took $((SECONDS - start))s"
}

install_tools() {
  local tools=(podman runc uidmap slirp4netns fuse-overlayfs mmdebstrap) missing=()
  for pkg in "${tools[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

configure_podman() {
  # runc: crun 1.8 refuses this machine's hybrid cgroups. ulimits: without CAP_SYS_RESOURCE podman cannot raise
  # them to its defaults, so ask for what the host allows.
  local nofile nproc conf=/etc/containers/containers.conf
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  { [ "$nofile" = unlimited ] || [ "$nofile" -gt 20000 ]; } && nofile=20000
  { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
  local wanted="[containers]
default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]
[engine]
runtime = \"runc\""
  [ -f "$conf" ] && [ "$(cat "$conf")" = "$wanted" ] && return 0
  if [ -f "$conf" ] && ! grep -q "labelloop" "$conf" && [ -s "$conf" ]; then
    cp "$conf" "$conf.before-labelloop"
  fi
  mkdir -p "$(dirname "$conf")"
  printf '%s\n' "$wanted" >"$conf"
  say "wrote $conf (runc, ulimits nofile=$nofile nproc=$nproc)"
}

debian_mirrors() {  # the Debian mirrors this machine's apt already uses, as mmdebstrap source lines
  python3 - <<'PY'
import pathlib, re
for path in sorted(pathlib.Path("/etc/apt/sources.list.d").glob("*.sources")):
    for block in path.read_text().split("\n\n"):
        uris = re.findall(r"^URIs:\s*(\S+)", block, re.M)
        suites = re.findall(r"^Suites:\s*(.+)$", block, re.M)
        for uri in uris:
            for suite in suites[0].split() if suites else []:
                print(f"deb {uri} {suite} main")
PY
}

build_base() {
  # Debian 12 + Python 3.11 in a venv at /usr/local, so /usr/local/bin/python is where python:3.11-slim has it.
  podman image exists "$BASE_IMAGE" && return 0
  [[ $BASE_IMAGE == localhost/labelloop/base:* ]] || { podman pull "$BASE_IMAGE" && return 0; }
  local mirrors
  mapfile -t mirrors < <(debian_mirrors)
  [ ${#mirrors[@]} -gt 0 ] || { echo "container: no Debian mirror in /etc/apt/sources.list.d" >&2; exit 1; }
  say "building the base image $BASE_IMAGE with mmdebstrap"
  mmdebstrap --quiet --variant=apt --include=python3,python3-venv,ca-certificates \
    --customize-hook='chroot "$1" python3 -m venv /usr/local' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    bookworm "$WORK/base.tar" "${mirrors[@]}" 2>"$WORK/mmdebstrap.log" \
    || { tail -20 "$WORK/mmdebstrap.log" >&2; exit 1; }
  podman import --quiet --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' "$WORK/base.tar" "$BASE_IMAGE" >/dev/null
  rm -f "$WORK/base.tar"
}

build_image() {
  local mounts=()
  if [ -n "$BUILD_CA_BUNDLE" ] && [ -f "$BUILD_CA_BUNDLE" ]; then
    # Only for the build's pip (e.g. behind a TLS-inspecting proxy): volumes are not committed to layers.
    printf '[global]\ncert = /run/labelloop-build/ca.crt\n' >"$WORK/pip.conf"
    mounts=(-v "$BUILD_CA_BUNDLE:/run/labelloop-build/ca.crt:ro" -v "$WORK/pip.conf:/etc/pip.conf:ro")
  fi
  local before
  before=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
  say "building $IMAGE from $BASE_IMAGE"
  # The label lets tests/test_container.py tell an image built from other sources (it rebuilds then).
  podman build --network=host --layers "${mounts[@]}" --build-arg "BASE=$BASE_IMAGE" \
    --label "org.labelloop.source=$(python3 containers/source_digest.py)" \
    -f containers/Dockerfile -t "$IMAGE" . >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; exit 1; }
  if [ -n "$before" ] && [ "$before" != "$(podman image inspect --format '{{.Id}}' "$IMAGE")" ]; then
    podman rmi "$before" >/dev/null 2>&1 || true  # the previous build of this tag (its shared layers stay)
  fi
  say "$(podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$IMAGE")"
}

timed tools install_tools
configure_podman
timed "base image" build_base
timed "image build" build_image
