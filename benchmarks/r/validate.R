# rms::validate(cph(...), B) on a CSV written by benchmarks/bench_bootstrap.py.
#
# Usage: Rscript benchmarks/r/validate.R DATA.csv B SEED
#
# DATA.csv has columns time, event (0/1) and the predictors: every other column is a
# predictor. The formula is written out (Surv(time, event) ~ f0 + f1 + ...) because
# rms's cph() does not accept `~ .`. set.seed(SEED) is called just before cph(), as in
# tests/r/survival.R, so a seed gives the same resamples there and here.
#
# Prints one line of JSON: wall and CPU seconds of cph() + validate() alone (R start-up,
# package loading and reading the CSV excluded), the apparent, optimism and corrected
# Harrell C (rms reports Somers' Dxy = 2 (C - 0.5); halved here), the number of
# replicates rms used, and the R / survival / rms versions.
suppressMessages({library(survival); library(rms)})
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 3) stop("usage: Rscript validate.R DATA.csv B SEED")
d <- read.csv(args[1])
B <- as.integer(args[2])
preds <- setdiff(names(d), c("time", "event"))
form <- as.formula(paste("Surv(time, event) ~", paste(preds, collapse = " + ")))
set.seed(as.integer(args[3]))
t0 <- proc.time()
fit <- cph(form, data = d, x = TRUE, y = TRUE)
v <- validate(fit, method = "boot", B = B)
used <- proc.time() - t0
half <- function(dxy) dxy / 2 + 0.5
cat(sprintf(paste0('{"seconds": %.6f, "cpu_seconds": %.6f, "B": %d, "n": %d, "p": %d, ',
                   '"c_apparent": %.12f, "c_optimism": %.12f, "c_corrected": %.12f, ',
                   '"n_boot_used": %d, "r": "%s", "survival": "%s", "rms": "%s"}\n'),
            used[["elapsed"]], used[["user.self"]] + used[["sys.self"]], B, nrow(d),
            length(preds), half(v["Dxy", "index.orig"]), v["Dxy", "optimism"] / 2,
            half(v["Dxy", "index.corrected"]), as.integer(v["Dxy", "n"]),
            paste(R.version$major, R.version$minor, sep = "."),
            as.character(packageVersion("survival")), as.character(packageVersion("rms"))))
