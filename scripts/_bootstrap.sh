# shellcheck shell=bash
# Sourced by ./relais and scripts/test: make sure .venv exists and holds this checkout,
# installed (editable) with the requested extras, at the versions of constraints.txt (the
# ones CI and the Docker image use). Needs only python3 >= 3.11 and PyPI.
# Re-installs when pyproject.toml or constraints.txt change (their hash is kept in
# .venv/.relais-installed).

relais_bootstrap() {
    local extras="${1:-}"   # "" (to run the bot) or "dev" (tests and checks too)
    local root venv python want have
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="${RELAIS_VENV:-$root/.venv}"
    python="${PYTHON:-python3}"

    if ! command -v "$python" >/dev/null 2>&1; then
        echo "relais: $python not found; install Python 3.11 or newer" >&2
        exit 1
    fi
    if [ ! -x "$venv/bin/python" ]; then
        if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            echo "relais: Python 3.11 or newer is needed ($python is $("$python" -V 2>&1));" \
                 "set PYTHON=/path/to/python3.11" >&2
            exit 1
        fi
        echo "relais: creating $venv" >&2
        if ! "$python" -m venv "$venv"; then
            echo "relais: could not create a virtual environment; on Debian/Ubuntu:" \
                 "sudo apt install python3-venv" >&2
            exit 1
        fi
    fi

    # What is installed: "<hash of pyproject.toml and constraints.txt> <extras>". The dev
    # install covers both.
    want="$("$venv/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(b"".join(open(f, "rb").read() for f in sys.argv[1:])).hexdigest())' "$root/pyproject.toml" "$root/constraints.txt")"
    have="$(cat "$venv/.relais-installed" 2>/dev/null || true)"
    if [ "$have" = "$want dev" ] || [ "$have" = "$want $extras" ]; then
        return 0
    fi
    local spec="$root"
    [ -n "$extras" ] && spec="$root[$extras]"
    echo "relais: installing $( [ -n "$extras" ] && echo "with $extras tools " )into $venv (first run, or pyproject.toml or constraints.txt changed)..." >&2
    # PIP_CONSTRAINT also pins the build backend in pip's isolated build environment.
    PIP_CONSTRAINT="$root/constraints.txt" "$venv/bin/python" -m pip install --quiet \
        --disable-pip-version-check -c "$root/constraints.txt" -e "$spec" >&2
    echo "$want $extras" > "$venv/.relais-installed"
}
