#!/usr/bin/env bash
# Regenerates the model matrix of internal/svm/testdata/versions: for each
# version set of sets.txt, a venv with exactly those packages (cached, see
# below) runs make_matrix.py, which writes the set's folder here. Run it
# from anywhere (make model-matrix does); the Go tests never run it, they
# read the committed files.
#
#   make_matrix.sh [SET...]     only the named sets (default: all)
#
# Venvs live in $MODEL_MATRIX_CACHE (default .cache/model-matrix at the
# repository's root, ignored by git), one per set, and are made again only
# when the set's lock file changes. Needs network access to the Python
# package index the first time, and each set's Python version: python3.X on
# PATH, a pyenv-installed 3.X, or /usr/bin/python3.X.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
cache=${MODEL_MATRIX_CACHE:-$root/.cache/model-matrix}

find_python() {
	local v=$1 p
	if p=$(command -v "python$v") && "$p" -c '' 2>/dev/null; then
		echo "$p"
		return
	fi
	if command -v pyenv >/dev/null; then
		for p in $(ls -d "$(pyenv root)"/versions/"$v".*/bin/"python$v" 2>/dev/null | sort -V -r); do
			echo "$p"
			return
		done
	fi
	if [ -x "/usr/bin/python$v" ]; then
		echo "/usr/bin/python$v"
		return
	fi
	echo "make_matrix.sh: no Python $v: install it (pyenv install $v) or put python$v on PATH" >&2
	return 1
}

# venv NAME PYTHON PIN...: makes (or reuses) the set's venv and prints its path.
venv() {
	local name=$1 py=$2
	shift 2
	local dir=$cache/$name lock=$here/locks/$name.txt
	if [ -f "$dir/installed.txt" ] && [ -f "$lock" ] && cmp -s "$lock" "$dir/installed.txt"; then
		echo "$dir"
		return
	fi
	rm -rf "$dir"
	"$(find_python "$py")" -m venv "$dir" >&2
	if [ -f "$lock" ]; then
		"$dir/bin/pip" install -q --disable-pip-version-check --only-binary=:all: --no-deps -r "$lock" >&2
	else
		"$dir/bin/pip" install -q --disable-pip-version-check --only-binary=:all: "$@" >&2
		"$dir/bin/pip" freeze --disable-pip-version-check >"$lock"
	fi
	"$dir/bin/pip" check --disable-pip-version-check >&2
	cp "$lock" "$dir/installed.txt"
	echo "$dir"
}

want=" $* "
while read -r name py pins; do
	case $name in '' | '#'*) continue ;; esac
	if [ $# -gt 0 ] && [[ $want != *" $name "* ]]; then
		continue
	fi
	echo "== $name (Python $py)" >&2
	# shellcheck disable=SC2086 # pins are separate words
	dir=$(venv "$name" "$py" $pins)
	tmp=$here/.$name.tmp
	"$dir/bin/python" "$here/make_matrix.py" "$tmp"
	rm -rf "${here:?}/$name"
	mv "$tmp" "$here/$name"
done <"$here/sets.txt"
