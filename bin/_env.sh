# Shared by bin/demo and bin/test: install what the project needs on a fresh machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ensure_system_packages() {
  # Debian packages: Chromium for browser tests, CJK fonts and Pango for WeasyPrint PDFs.
  local want=("$@") missing=()
  for pkg in "${want[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "Please install these Debian packages first: sudo apt-get install ${missing[*]}" >&2
      return 1
    fi
    echo "Installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_uv() {
  if ! command -v uv >/dev/null 2>&1; then
    echo "Installing uv (Python package manager) with pip"
    python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
    export PATH="$HOME/.local/bin:$PATH"
  fi
}

sync_python() {
  ensure_uv
  uv sync --frozen --quiet "$@"
}
