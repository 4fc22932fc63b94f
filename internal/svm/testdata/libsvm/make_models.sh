#!/bin/sh
# Regenerates the libsvm one-class test models, inputs and expected values
# in this folder (run it from anywhere; needs Debian's libsvm-tools and python3).
#
# For each case: NAME.model (svm-train -s 2 output), NAME.input (test rows,
# libsvm sparse format), NAME.expected ("label decision magnitude" per row:
# label from svm-predict, decision computed by gen.py from NAME.model in
# double arithmetic). cases.txt lists "NAME FEATURES" (FEATURES = width of the
# input rows, which can exceed the model's widest index).
set -eu
cd "$(dirname "$0")"
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > cases.txt
seed=1
for kernel in 0 1 2 3; do
	case $kernel in 0) kname=linear ;; 1) kname=poly ;; 2) kname=rbf ;; 3) kname=sigmoid ;; esac
	for nf in 1 2 3 5 8 16; do
		for nugamma in "0.1 0.5" "0.5 0.05"; do
			set -- $nugamma
			nu=$1 gamma=$2
			# The last feature is always 0 (left out) in one 8-feature case per
			# kernel: the model is narrower than its input rows.
			zerolast=0
			if [ "$nf" = 8 ] && [ "$nu" = 0.5 ]; then zerolast=1; fi
			name="${kname}_f${nf}_nu${nu}_g${gamma}"
			$PY gen.py data $seed "$nf" 150 $zerolast > "$tmp/train"
			$PY gen.py data $((seed + 1000)) "$nf" 60 0 > "$name.input"
			svm-train -q -s 2 -t $kernel -n "$nu" -g "$gamma" -r 0.5 -d 3 "$tmp/train" "$name.model"
			svm-predict -q "$name.input" "$name.model" "$tmp/labels" > /dev/null
			$PY gen.py expect "$name.model" "$name.input" "$tmp/labels" > "$name.expected"
			echo "$name $nf" >> cases.txt
			seed=$((seed + 1))
		done
	done
done
