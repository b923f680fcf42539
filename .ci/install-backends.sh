#!/usr/bin/env bash
# Install what the gpu.js backends need on a fresh Debian 12 (bookworm) machine, as root.
#
#   headlessgl : gl@8.1.6 is built from source by node-gyp (no prebuilt binary can be
#                downloaded), so its build deps must be installed BEFORE `npm ci`; it
#                runs only with an X display: `xvfb-run -a <cmd>`.
#   webgpu     : the `webgpu` (Dawn) package needs a Vulkan driver that Dawn accepts:
#                Mesa >= 25 lavapipe from bookworm-backports (bookworm's own is rejected).
#   browser    : Debian's chromium, for later browser tests.
#
# Usage (from the repository root):
#   .ci/install-backends.sh            apt packages; then, if node_modules exists, make sure
#                                      gl is built (rebuild or re-run `npm ci`) and verify
#   .ci/install-backends.sh --npm-ci   same, and run `npm ci` itself when node_modules is absent
#   .ci/install-backends.sh --no-apt   only the npm part and the checks
# Idempotent: re-running skips what is already in place. Prints each step and its duration.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")/.."

RUN_NPM_CI=0
DO_APT=1
for arg in "$@"; do
  case "$arg" in
    --npm-ci) RUN_NPM_CI=1 ;;
    --no-apt) DO_APT=0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

T_ALL=$SECONDS
step_start() { STEP_NAME="$1"; STEP_T=$SECONDS; echo "== $1"; }
step_end() { echo "   done in $((SECONDS - STEP_T)) s: $STEP_NAME"; }

if [ "$DO_APT" = 1 ]; then
  if [ "$(id -u)" != 0 ]; then echo "apt steps need root (or pass --no-apt)" >&2; exit 1; fi
  . /etc/os-release
  if [ "${VERSION_CODENAME:-}" != bookworm ]; then
    echo "warning: written for Debian 12 (bookworm), this is ${PRETTY_NAME:-unknown}" >&2
  fi

  step_start "enable bookworm-backports apt source"
  if grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "   already enabled"
  else
    cat > /etc/apt/sources.list.d/bookworm-backports.sources <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    echo "   wrote /etc/apt/sources.list.d/bookworm-backports.sources"
  fi
  step_end

  step_start "apt-get update"
  apt-get update -q
  step_end

  # gl@8.1.6 from source: compiler + python for node-gyp, X/GL headers; xvfb + xauth for xvfb-run
  step_start "apt: headless-gl build deps + xvfb"
  apt-get install -y -q --no-install-recommends \
    build-essential python3 pkg-config ca-certificates \
    libxi-dev libglu1-mesa-dev libglew-dev mesa-common-dev libx11-dev libxext-dev \
    xvfb xauth
  step_end

  # Mesa 25 lavapipe (software Vulkan) for Dawn; also upgrades the Mesa GL libraries to 25
  step_start "apt: mesa-vulkan-drivers + libvulkan1 from bookworm-backports"
  apt-get install -y -q -t bookworm-backports mesa-vulkan-drivers libvulkan1
  step_end

  step_start "apt: chromium"
  apt-get install -y -q chromium
  step_end
fi

# ---- npm part ----------------------------------------------------------------
# node-gyp needs Node's headers; without network access to nodejs.org it must use the
# installed ones (Debian / NodeSource node ships them in <prefix>/include/node).
NODE_PREFIX="$(dirname "$(dirname "$(command -v node)")")"
CUR_NODEDIR="$(npm config get nodedir 2>/dev/null || true)"
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$NODE_PREFIX/include/node/common.gypi" ] \
   && { [ -z "$CUR_NODEDIR" ] || [ "$CUR_NODEDIR" = undefined ] || [ "$CUR_NODEDIR" = null ]; }; then
  export npm_config_nodedir="$NODE_PREFIX"
  echo "== using Node headers from $NODE_PREFIX/include/node for node-gyp"
fi

GL_NODE=node_modules/gl/build/Release/webgl.node
if [ ! -d node_modules ] && [ "$RUN_NPM_CI" = 1 ]; then
  step_start "npm ci (builds gl from source, ~2-3 min)"
  npm ci --no-audit --no-fund
  step_end
fi

if [ -d node_modules ]; then
  if [ -f "$GL_NODE" ]; then
    echo "== gl already built: $GL_NODE"
  elif [ -f node_modules/gl/package.json ]; then
    # installed but not built (e.g. `npm ci --ignore-scripts`, or scripts skipped by policy)
    step_start "npm rebuild gl --foreground-scripts (node-gyp, ~2 min)"
    npm rebuild gl --foreground-scripts
    step_end
  else
    # npm removes an optional dependency whose build failed (e.g. `npm ci` ran before the
    # apt packages above existed); `npm rebuild gl` is then a silent no-op. Reinstall from
    # the lockfile now that the build deps are present.
    step_start "gl missing from node_modules (failed optional build?): npm ci again"
    npm ci --no-audit --no-fund
    step_end
  fi

  step_start "verify backends"
  if [ ! -f "$GL_NODE" ]; then
    echo "ERROR: $GL_NODE was not built" >&2; exit 1
  fi
  xvfb-run -a node -e '
    const { GPU } = require("gpu.js");
    if (!GPU.isHeadlessGLSupported) { console.error("ERROR: GPU.isHeadlessGLSupported is false under xvfb-run"); process.exit(1); }
    const k = new GPU({ mode: "headlessgl" }).createKernel(function (a) { return a[this.thread.x] * 2; }, { output: [4] });
    const r = Array.from(k([1, 2, 3, 4]));
    if (k.kernel.constructor.name !== "HeadlessGLKernel" || r.join() !== "2,4,6,8") { console.error("ERROR: headlessgl kernel", k.kernel.constructor.name, r); process.exit(1); }
    console.log("   headlessgl OK:", r.join());
  '
  if [ -f node_modules/webgpu/package.json ]; then
    node --input-type=module -e '
      import { create } from "webgpu";
      let gpu = create([]);
      const adapter = await gpu.requestAdapter();
      if (!adapter) { console.error("ERROR: webgpu: no adapter (Vulkan driver missing/rejected?)"); process.exit(1); }
      const info = adapter.info || {};
      console.log("   webgpu OK: adapter", JSON.stringify({ vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description }));
      gpu = null;
    '
  else
    echo "   webgpu package not installed: skipping the WebGPU check"
  fi
  step_end
else
  echo "== node_modules absent: run 'npm ci' next (gl builds during it), or pass --npm-ci"
fi

if command -v chromium >/dev/null; then echo "== $(chromium --version 2>/dev/null)"; fi
echo "== install-backends.sh finished in $((SECONDS - T_ALL)) s"
