# glmnet's elastic-net Cox path on data generated identically here and in
# tests/r/glmnet_data.py (Park-Miller generator; see that file's docstring: no CSV needed).
#
# Usage: Rscript tests/r/glmnet.R OUT.json   (or bash tests/r/regenerate.sh glmnet)
# thresh is far below glmnet's default 1e-7: at the small-lambda end of the lasso path
# (hundreds of active coefficients) the default stops about 1e-2 away from the solution,
# and 1e-13 still about 1e-5 away; the reference must be the converged path.
suppressMessages({
  library(survival)
  library(glmnet)
  library(jsonlite)
})
lcg <- function(count, seed = 20240611) {
  out <- numeric(count)
  s <- seed
  for (k in seq_len(count)) {
    s <- (16807 * s) %% 2147483647
    out[k] <- s
  }
  out / 2147483647
}
glmnet_data <- function(n, p, seed = 20240611) {
  u <- lcg(n * p + 2 * n, seed)
  x <- sqrt(12) * (matrix(u[1:(n * p)], n, p, byrow = TRUE) - 0.5)
  beta <- c(0.5 * (-1)^(1:10), rep(0, p - 10))
  te <- -log(u[n * p + 1:n]) * exp(-drop(x %*% beta))
  tc <- -2 * log(u[n * p + n + 1:n])
  list(x = x, time = pmin(te, tc), event = as.numeric(te <= tc))
}
path_case <- function(n, p, alpha, nlambda, ratio, thresh) {
  d <- glmnet_data(n, p)
  y <- Surv(d$time, d$event)
  # glmnet's own lambda sequence, then refitted at it (a given lambda disables glmnet's
  # early stop of the path, so every value is fitted)
  lam <- glmnet(d$x, y, family = "cox", alpha = alpha, nlambda = nlambda,
                lambda.min.ratio = ratio)$lambda
  fit <- glmnet(d$x, y, family = "cox", alpha = alpha, lambda = lam, thresh = thresh,
                maxit = 10000000)
  list(data = sprintf("glmnet_data(n = %d, p = %d) (tests/r/glmnet_data.py)", n, p),
       call = sprintf(paste0("glmnet(x, Surv(time, event), family = 'cox', alpha = %g, ",
                             "lambda = lambda, thresh = %g, maxit = 1e7)"), alpha, thresh),
       lambda_from = sprintf("glmnet(..., nlambda = %d, lambda.min.ratio = %g)$lambda",
                             nlambda, ratio),
       n = n, p = p, alpha = alpha, n_events = sum(d$event),
       n_tied_times = sum(duplicated(d$time)), thresh = thresh,
       lambda = fit$lambda, df = fit$df, dev_ratio = fit$dev.ratio,
       nulldev = fit$nulldev, coef = t(as.matrix(coef(fit))))
}
pub <- list()
pub$lasso_path <- path_case(1000, 500, 1, 100, 0.01, 1e-16)
pub$enet_path <- path_case(300, 20, 0.5, 30, 0.001, 1e-16)
pub$versions <- list(r = R.version.string,
                     glmnet = as.character(packageVersion("glmnet")),
                     survival = as.character(packageVersion("survival")))
writeLines(jsonlite::toJSON(pub, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           commandArgs(trailingOnly = TRUE)[1])
