# The R side of benchmarks/harness.py: one warm R process that evaluates commands read on
# stdin and answers each with one line of JSON on stdout.
#
# Usage (started by harness.RSession): Rscript --vanilla benchmarks/r/harness_server.R
# Command: {"code": "<R code>", "timed": true|false}
# Answer:  {"ok": true, "cpu": <s>, "wall": <s>, "value": <value>} where cpu and wall are
#          proc.time() deltas around the evaluation alone (cpu = user.self + sys.self), or
#          {"ok": false, "error": "<message>"}.
# Code runs in the global environment, so data and packages loaded by one command stay
# for the next ones (the process stays warm).
suppressMessages(library(jsonlite))
con <- file("stdin", open = "r")
answer <- function(x) {
  cat(toJSON(x, auto_unbox = TRUE, digits = NA, null = "null", na = "null"), "\n", sep = "")
  flush(stdout())
}
repeat {
  line <- readLines(con, n = 1)
  if (length(line) == 0) break
  cmd <- fromJSON(line)
  expr <- parse(text = cmd$code)
  res <- tryCatch({
    t0 <- proc.time()
    value <- eval(expr, envir = globalenv())
    used <- proc.time() - t0
    list(ok = TRUE, cpu = used[["user.self"]] + used[["sys.self"]],
         wall = used[["elapsed"]], value = if (is.null(value)) NULL else unclass(value))
  }, error = function(e) list(ok = FALSE, error = conditionMessage(e)))
  answer(res)
}
