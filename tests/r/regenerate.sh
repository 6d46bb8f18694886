#!/usr/bin/env bash
# Regenerate the R reference values: every tests/r/<topic>.R writes tests/r/<topic>.json.
# Needs R (4.2) with survival, rms, riskRegression, glmnet, mice and jsonlite (Debian:
# apt-get install r-base-core r-cran-survival r-cran-rms r-cran-riskregression
# r-cran-glmnet r-cran-mice r-cran-jsonlite; the external topic: r-cran-metafor; the decision
# topic: the R package dcurves). CI never runs R: it reads the committed JSON.
# Usage: bash tests/r/regenerate.sh [topic ...]   (default: every script)
set -euo pipefail
cd "$(dirname "$0")"
topics=("$@")
if [ ${#topics[@]} -eq 0 ]; then
  for f in *.R; do topics+=("${f%.R}"); done
fi
for t in "${topics[@]}"; do
  echo "== $t"
  Rscript "$t.R" "$t.json"
done
