# R reference values for external validation (topic "external"): random-effects
# meta-analysis of per-centre estimates (metafor::rma, DL and REML, with and without the
# Hartung-Knapp adjustment; Riley's prediction interval) and the calibration of a frozen
# Cox / logistic model on new patients (Crowson's Poisson calibration in the large, Cox
# calibration slope; logistic intercept with offset and slope).
# Usage: Rscript external.R external.json   (bash tests/r/regenerate.sh external)
suppressPackageStartupMessages({
  library(survival)
  library(metafor)
  library(jsonlite)
})
pub <- list()

riley_pi <- function(fit) {
  # Riley, Higgins and Deeks (BMJ 2011): mu +- t_{k-2} sqrt(tau^2 + SE(mu)^2)
  k <- fit$k
  half <- qt(0.975, k - 2) * sqrt(fit$tau2 + fit$se^2)
  c(as.numeric(fit$b) - half, as.numeric(fit$b) + half)
}

meta_case <- function(yi, sei, method, knha, data_name) {
  fit <- rma(yi = yi, sei = sei, method = method, test = if (knha) "knha" else "z",
             control = list(threshold = 1e-12, maxiter = 10000))
  pi <- riley_pi(fit)
  list(data = data_name, call = sprintf("rma(yi, sei = sei, method = '%s', test = '%s')",
                                        method, if (knha) "knha" else "z"),
       yi = yi, sei = sei, method = method, hartung_knapp = knha,
       estimate = as.numeric(fit$b), se = fit$se, ci_low = fit$ci.lb, ci_high = fit$ci.ub,
       tau2 = fit$tau2, i2 = fit$I2, q = fit$QE, q_p = fit$QEp,
       pi_low = pi[1], pi_high = pi[2])
}

## five centres: logit C-index and delta-method SE (made-up, heterogeneous values)
cidx <- c(0.62, 0.71, 0.66, 0.58, 0.69)
cse <- c(0.030, 0.025, 0.040, 0.035, 0.028)
yi5 <- qlogis(cidx)
se5 <- cse / (cidx * (1 - cidx))
pub$five_dl <- meta_case(yi5, se5, "DL", FALSE, "five centres, logit C")
pub$five_reml <- meta_case(yi5, se5, "REML", FALSE, "five centres, logit C")
pub$five_reml_hk <- meta_case(yi5, se5, "REML", TRUE, "five centres, logit C")
pub$five_dl_hk <- meta_case(yi5, se5, "DL", TRUE, "five centres, logit C")

## homogeneous: tau^2 truncated at 0
cidx0 <- c(0.650, 0.655, 0.648, 0.652)
cse0 <- c(0.04, 0.05, 0.045, 0.06)
pub$homogeneous_reml <- meta_case(qlogis(cidx0), cse0 / (cidx0 * (1 - cidx0)), "REML", FALSE,
                                  "four homogeneous centres, logit C")

## metafor's dat.bcg (13 trials), log risk ratio
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
pub$bcg_reml <- meta_case(as.numeric(bcg$yi), sqrt(as.numeric(bcg$vi)), "REML", FALSE,
                          "metafor dat.bcg, escalc RR")
pub$bcg_dl_hk <- meta_case(as.numeric(bcg$yi), sqrt(as.numeric(bcg$vi)), "DL", TRUE,
                           "metafor dat.bcg, escalc RR")

## calibration of a frozen Cox model: lung complete cases (age, sex, ph.ecog), rows in
## data order; development = even positions, validation = odd positions (the first
## event, day 5, is then a development event: every validation patient has expected > 0)
lung <- survival::cancer
lung$event <- as.integer(lung$status == 2)
lc <- lung[complete.cases(lung[, c("time", "event", "age", "sex", "ph.ecog")]), ]
dev <- lc[seq(2, nrow(lc), by = 2), ]
val <- lc[seq(1, nrow(lc), by = 2), ]
fit <- coxph(Surv(time, event) ~ age + sex + ph.ecog, data = dev, ties = "efron")
val$lp <- predict(fit, newdata = val, type = "lp")
val$expected <- predict(fit, newdata = val, type = "expected")
stopifnot(all(val$expected > 0))
citl <- glm(event ~ offset(log(expected)), family = poisson, data = val)
slope <- coxph(Surv(time, event) ~ lp, data = val, ties = "efron")
pub$cox_calibration <- list(
  data = "survival::cancer (lung), complete cases; dev = even rows, val = odd rows",
  model = "coxph(Surv(time, event) ~ age + sex + ph.ecog, data = dev)",
  citl_call = "glm(event ~ offset(log(predict(fit, val, type = 'expected'))), poisson)",
  slope_call = "coxph(Surv(time, event) ~ predict(fit, val, type = 'lp'), data = val)",
  n_dev = nrow(dev), n_val = nrow(val),
  citl = unname(coef(citl)[1]), citl_se = unname(sqrt(diag(vcov(citl)))[1]),
  slope = unname(coef(slope)[1]), slope_se = unname(sqrt(diag(vcov(slope)))[1]),
  observed = sum(val$event), expected = sum(val$expected))

## the same model with the baseline hazard re-estimated on the validation rows
## (coxph with the frozen lp as offset): survival at 365 days of the first 5 rows
upd <- coxph(Surv(time, event) ~ offset(lp), data = val, ties = "efron")
# the baseline at lp = 0 from survfit (basehaz(upd, centered = FALSE) is not at offset 0
# for an offset-only model), and the same Efron sum written out by hand
h365 <- summary(survfit(upd, newdata = data.frame(lp = 0)), times = 365)$cumhaz
r <- exp(val$lp)
tt <- sort(unique(val$time[val$event == 1 & val$time <= 365]))
efron <- sum(sapply(tt, function(t) {
  d <- val$event == 1 & val$time == t
  nd <- sum(d)
  sum(1 / (sum(r[val$time >= t]) - (0:(nd - 1)) / nd * sum(r[d])))
}))
pub$cox_intercept_update <- list(
  data = "as cox_calibration",
  call = "summary(survfit(coxph(Surv(time, event) ~ offset(lp), data = val, ties = 'efron'), newdata = data.frame(lp = 0)), times = 365)$cumhaz",
  cumhaz_365 = h365, cumhaz_365_by_hand = efron,
  survival_365_first5 = exp(-h365 * exp(val$lp[1:5])))

## logistic: death (status 2) on age + sex, same rows
flog <- glm(event ~ age + sex, family = binomial, data = dev)
val$logit <- predict(flog, newdata = val, type = "link")
lcitl <- glm(event ~ offset(logit), family = binomial, data = val)
lslope <- glm(event ~ logit, family = binomial, data = val)
pub$logistic_calibration <- list(
  data = "as cox_calibration; outcome event (status == 2)",
  model = "glm(event ~ age + sex, family = binomial, data = dev)",
  citl_call = "glm(event ~ offset(logit), binomial, data = val)",
  slope_call = "glm(event ~ logit, binomial, data = val)",
  citl = unname(coef(lcitl)[1]), citl_se = unname(sqrt(diag(vcov(lcitl)))[1]),
  slope = unname(coef(lslope)[2]), slope_se = unname(sqrt(diag(vcov(lslope)))[2]),
  slope_intercept = unname(coef(lslope)[1]))

writeLines(jsonlite::toJSON(pub, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           commandArgs(trailingOnly = TRUE)[1])
