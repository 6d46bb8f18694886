# Reference values for readable models: the header and coefficient table of
# summary(coxph) (unclustered, clustered, stratified), summary(glm(binomial)), and the
# scaled Schoenfeld residuals of cox.zph with the smooth and band of plot(cox.zph).
# Data: R's survival package datasets (survrad bundles the same rows).
suppressMessages({library(survival); library(splines); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
num <- function(x) unname(as.numeric(x))
pub <- list()

test3 <- function(v) list(statistic = num(v["test"]), df = num(v["df"]), p = num(v["pvalue"]))

cox_summary <- function(fit) {
  s <- summary(fit)
  cf <- s$coefficients
  out <- list(
    n = s$n, nevent = s$nevent,
    loglik_null = num(s$loglik[1]), loglik = num(s$loglik[2]),
    logtest = test3(s$logtest), waldtest = test3(s$waldtest), sctest = test3(s$sctest),
    # summary() rounds the Wald statistic to 2 decimals (its p is from the unrounded one)
    wald_unrounded = num(fit$wald.test),
    concordance = num(s$concordance[1]), concordance_se = num(s$concordance[2]),
    terms = rownames(cf), coef = num(cf[, "coef"]), exp_coef = num(cf[, "exp(coef)"]),
    se = num(cf[, "se(coef)"]), z = num(cf[, "z"]), p = num(cf[, "Pr(>|z|)"]),
    lower95 = num(s$conf.int[, "lower .95"]), upper95 = num(s$conf.int[, "upper .95"]))
  if ("robust se" %in% colnames(cf)) {
    out$robust_se <- num(cf[, "robust se"])
    out$robscore <- test3(s$robscore)
  }
  out
}

## summary(coxph) on lung: one row has no ph.ecog (dropped by na.omit: n = 227)
f_lung <- coxph(Surv(time, status == 2) ~ age + sex + ph.ecog, data = lung)
pub$lung_cox_summary <- c(list(
  data = "lung (survival::lung, 228 rows; the row with ph.ecog missing dropped)",
  call = "summary(coxph(Surv(time, status == 2) ~ age + sex + ph.ecog, lung))",
  ties = "efron"), cox_summary(f_lung))

## clustered: two eyes per patient, robust (sandwich) variance, robust score test
f_ret <- coxph(Surv(futime, status) ~ trt + age, cluster = id, data = retinopathy)
pub$retinopathy_cox_cluster_summary <- c(list(
  data = "retinopathy (survival::retinopathy, 394 eyes of 197 patients)",
  call = "summary(coxph(Surv(futime, status) ~ trt + age, cluster = id, data = retinopathy))",
  ties = "efron"), cox_summary(f_ret))

## stratified: the concordance is computed within strata
f_str <- coxph(Surv(time, status == 2) ~ age + ph.ecog + strata(sex), data = lung)
pub$lung_cox_strata_summary <- c(list(
  data = "lung (the row with ph.ecog missing dropped)",
  call = "summary(coxph(Surv(time, status == 2) ~ age + ph.ecog + strata(sex), lung))",
  ties = "efron"), cox_summary(f_str))

## logistic regression: death (status == 2) on lung
g <- glm(I(status == 2) ~ age + sex + ph.ecog, family = binomial, data = lung)
sg <- summary(g)
cg <- sg$coefficients
pub$lung_glm_summary <- list(
  data = "lung (the row with ph.ecog missing dropped)",
  call = "summary(glm(I(status == 2) ~ age + sex + ph.ecog, family = binomial, data = lung))",
  n = nobs(g), nevent = sum(g$y),
  null_deviance = num(g$null.deviance), df_null = num(g$df.null),
  deviance = num(g$deviance), df_residual = num(g$df.residual), aic = num(g$aic),
  loglik = num(logLik(g)), iter = g$iter,
  terms = rownames(cg), coef = num(cg[, "Estimate"]), se = num(cg[, "Std. Error"]),
  z = num(cg[, "z value"]), p = num(cg[, "Pr(>|z|)"]),
  # glm's standard errors come from the IRLS weights of its last iteration, one step
  # behind the converged coefficients (about 1e-6 relative at the default epsilon 1e-8);
  # refitted to epsilon 1e-14 they are those of the maximum likelihood estimate
  se_epsilon_1e14 = num(summary(update(g, control = glm.control(epsilon = 1e-14, maxit = 100)))$coefficients[, "Std. Error"]),
  lrtest = list(statistic = num(g$null.deviance - g$deviance),
                df = num(g$df.null - g$df.residual),
                p = num(pchisq(g$null.deviance - g$deviance, g$df.null - g$df.residual,
                               lower.tail = FALSE))))

## cox.zph: scaled Schoenfeld residuals and the smooth of plot(cox.zph) (df = 4, nsmo = 40:
## the lines of survival:::plot.cox.zph that compute yhat and its band, unchanged)
zph_smooth <- function(z, df = 4, nsmo = 40) {
  xx <- z$x
  pred.x <- seq(from = min(xx), to = max(xx), length = nsmo)
  lmat <- ns(c(pred.x, xx), df = df, intercept = TRUE)
  pmat <- lmat[1:nsmo, ]
  xmat <- lmat[-(1:nsmo), ]
  out <- list(x = pred.x)
  for (i in seq_len(ncol(z$y))) {
    y <- z$y[, i]
    qmat <- qr(xmat)
    yhat <- pmat %*% qr.coef(qmat, y)
    bk <- backsolve(qmat$qr[1:df, 1:df], diag(df))
    xtx <- bk %*% t(bk)
    seval <- ((pmat %*% xtx) * pmat) %*% rep(1, df)
    temp <- 2 * sqrt(z$var[i, i] * seval)
    out[[colnames(z$y)[i]]] <- list(fit = num(yhat), lower = num(yhat - temp),
                                    upper = num(yhat + temp))
  }
  out
}
zph_case <- function(fit) {
  z <- cox.zph(fit, transform = "km", terms = FALSE)
  list(terms = colnames(z$y), chisq = num(z$table[, "chisq"]), df = num(z$table[, "df"]),
       p = num(z$table[, "p"]), time = num(z$time), x = num(z$x),
       strata = if (is.null(z$strata)) NULL else as.character(z$strata),
       residuals = lapply(seq_len(ncol(z$y)), function(i) num(z$y[, i])),
       var = lapply(seq_len(ncol(z$var)), function(i) num(z$var[, i])),
       smooth = zph_smooth(z))
}
pub$lung_cox_zph_residuals <- c(list(
  model = "lung_cox_summary", call = "cox.zph(fit, transform = 'km', terms = FALSE)",
  residuals_note = "one vector per term (columns of z$y), events in the order of z$time",
  smooth_note = "plot(cox.zph) computations: lm on ns(x, df = 4, intercept = TRUE) at 40 points, band +/- 2 sqrt(var[i, i] * h)"),
  zph_case(f_lung))
pub$lung_cox_strata_zph_residuals <- c(list(
  model = "lung_cox_strata_summary", call = "cox.zph(fit, transform = 'km', terms = FALSE)"),
  zph_case(f_str))

writeLines(jsonlite::toJSON(pub, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           commandArgs(trailingOnly = TRUE)[1])
cat("R", R.version.string, "survival", as.character(packageVersion("survival")), "\n")
