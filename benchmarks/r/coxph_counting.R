# coxph(Surv(start, stop, event) ~ ...) on a CSV written by benchmarks/bench_cox_counting.py,
# timed inside one warm R process.
#
# Usage: Rscript benchmarks/r/coxph_counting.R DATA.csv REPEATS
#
# DATA.csv has columns patient_id, start, stop, event (0/1) and the predictors: every
# other column is a predictor. One untimed fit first (loads and compiles what R needs),
# then REPEATS timed fits (Efron ties, the model-based variance, as the other sides).
# timefix = FALSE: by default coxph first merges times equal up to all.equal's tolerance
# (aeqSurv), which on continuous simulated times merges a few near-ties and moves the
# coefficients by about 1e-6 relative; survrad and lifelines use the times as given.
# Prints one line of JSON: the median wall and CPU seconds of one fit, the coefficients
# (in column order) and the R / survival versions.
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2) stop("usage: Rscript coxph_counting.R DATA.csv REPEATS")
d <- read.csv(args[1])
repeats <- as.integer(args[2])
preds <- setdiff(names(d), c("patient_id", "start", "stop", "event"))
form <- as.formula(paste("Surv(start, stop, event) ~", paste(preds, collapse = " + ")))
ctrl <- coxph.control(timefix = FALSE)
fit <- coxph(form, data = d, ties = "efron", control = ctrl)
wall <- cpu <- numeric(repeats)
for (i in seq_len(repeats)) {
  t0 <- proc.time()
  fit <- coxph(form, data = d, ties = "efron", control = ctrl)
  used <- proc.time() - t0
  wall[i] <- used[["elapsed"]]
  cpu[i] <- used[["user.self"]] + used[["sys.self"]]
}
cat(sprintf('{"seconds": %.6f, "cpu_seconds": %.6f, "coef": [%s], "r": "%s", "survival": "%s"}\n',
            median(wall), median(cpu), paste(sprintf("%.15g", coef(fit)), collapse = ", "),
            R.version.string, as.character(packageVersion("survival"))))
