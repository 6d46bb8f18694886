# Reference values for survrad's clinical-utility and accuracy metrics: the standard error
# of Harrell's and Uno's C (survival::concordance), the index of prediction accuracy
# (riskRegression::Score), smooth calibration with ICI/E50/E90/Emax (Austin, Harrell &
# van Klaveren, Stat Med 2020;39:2714: a Cox model of the outcome on a restricted cubic
# spline of cloglog(predicted risk)) and rms::nomogram points.
# Run: bash tests/r/regenerate.sh metrics   (writes tests/r/metrics.json)
suppressMessages({library(survival); library(rms); library(riskRegression); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
num <- function(x) unname(as.numeric(x))
pub <- list()

# C, its standard error sqrt(var) (infinitesimal jackknife) and the pair counts
conc <- function(fit, ...) {
  cc <- survival::concordance(fit, ...)
  list(c = num(cc$concordance), se = num(sqrt(cc$var)), counts = as.list(cc$count))
}

## lung (NCCTG): complete cases on the model variables, Cox lp of age + sex + ph.ecog
lung <- survival::cancer
lung$event <- as.integer(lung$status == 2)
lc <- lung[complete.cases(lung[, c("time", "event", "age", "sex", "ph.ecog")]), ]
f_lung <- coxph(Surv(time, event) ~ age + sex + ph.ecog, data = lc, ties = "efron", x = TRUE)
lung_info <- list(data = "lung.csv", filter = "complete cases of time, status, age, sex, ph.ecog; event = status == 2",
                  formula = "Surv(time, event) ~ age + sex + ph.ecog", ties = "efron",
                  terms = names(coef(f_lung)), coef = num(coef(f_lung)))
pub$lung_concordance <- c(lung_info, list(call = "concordance(fit)"), conc(f_lung))
pub$lung_uno_concordance <- c(lung_info, list(call = "concordance(fit, timewt = 'n/G2')"),
                              conc(f_lung, timewt = "n/G2"))
pub$lung_uno_concordance_ymax365 <- c(lung_info, list(call = "concordance(fit, timewt = 'n/G2', ymax = 365)", ymax = 365),
                                      conc(f_lung, timewt = "n/G2", ymax = 365))

## veteran: numeric covariates only (no factor coding to reproduce)
vet <- survival::veteran
f_vet <- coxph(Surv(time, status) ~ trt + karno + diagtime + age + prior, data = vet)
vet_info <- list(data = "veteran.csv", formula = "Surv(time, status) ~ trt + karno + diagtime + age + prior",
                 terms = names(coef(f_vet)), coef = num(coef(f_vet)))
pub$veteran_concordance <- c(vet_info, list(call = "concordance(fit)"), conc(f_vet))
pub$veteran_uno_concordance <- c(vet_info, list(call = "concordance(fit, timewt = 'n/G2')"),
                                 conc(f_vet, timewt = "n/G2"))
pub$veteran_uno_concordance_ymax180 <- c(vet_info, list(call = "concordance(fit, timewt = 'n/G2', ymax = 180)", ymax = 180),
                                         conc(f_vet, timewt = "n/G2", ymax = 180))

## pbc: the 312 randomised patients, death (status 2) as the event, transplant censored
pbc <- survival::pbc[1:312, ]
pbc$death <- as.integer(pbc$status == 2)
f_pbc <- coxph(Surv(time, death) ~ age + log(bili) + albumin + edema, data = pbc)
pbc_info <- list(data = "pbc.csv", filter = "rows 1-312 (randomised); death = status == 2",
                 formula = "Surv(time, death) ~ age + log(bili) + albumin + edema",
                 terms = names(coef(f_pbc)), coef = num(coef(f_pbc)))
pub$pbc_concordance <- c(pbc_info, list(call = "concordance(fit)"), conc(f_pbc))
pub$pbc_uno_concordance <- c(pbc_info, list(call = "concordance(fit, timewt = 'n/G2')"),
                             conc(f_pbc, timewt = "n/G2"))

## aml "Maintained" arm with the score of survival's tests/concordance.R (x predicts LONGER survival)
tdata <- aml[aml$x == "Maintained", ]
tdata$x <- c(1, 6, 2, 7, 3, 7, 3, 8, 4, 4, 5)
ca <- concordance(Surv(time, status) ~ x, tdata)
pub$aml_concordance <- list(data = "survival::aml, x == 'Maintained'", time = num(tdata$time), status = num(tdata$status),
                            x = num(tdata$x), call = "concordance(Surv(time, status) ~ x, tdata)",
                            c = num(ca$concordance), se = num(sqrt(ca$var)))

## Index of prediction accuracy (in-sample, Kaplan-Meier censoring model)
times <- c(180, 365, 540)
sc <- Score(list(cox = f_lung), formula = Surv(time, event) ~ 1, data = lc, times = times,
            metrics = "brier", summary = "ipa", cens.model = "km", null.model = TRUE)
b <- sc$Brier$score
pub$lung_ipa <- c(lung_info, list(call = "Score(list(cox = fit), Surv(time, event) ~ 1, data = lc, times = times, metrics = 'brier', summary = 'ipa', cens.model = 'km', null.model = TRUE)",
                                  times = times, brier = num(b[b$model == "cox", "Brier"][[1]]),
                                  brier_null = num(b[b$model == "Null model", "Brier"][[1]]),
                                  ipa = num(b[b$model == "cox", "IPA"][[1]])))

## Smooth calibration at 365 days (Austin, Harrell & van Klaveren 2020)
# predicted risk 1 - S(365 | x) of the lung Cox model; cll = log(-log(1 - risk)); a Cox model
# of the outcome on rcs(cll) (Harrell's knots, Hmisc::rcspline.eval); the smoothed observed
# risk is 1 - S_cal(365 | cll). coxph + survfit (exact Efron fit) instead of cph + survest:
# cph stops at its default eps = 1e-4 and moves the observed risks by about 1e-5.
risk365 <- 1 - summary(survfit(f_lung, newdata = lc), times = 365)$surv[1, ]
smooth_cal <- function(risk, time, event, horizon, nk) {
  cll <- log(-log(1 - risk))
  knots <- Hmisc::rcspline.eval(cll, nk = nk, knots.only = TRUE)
  B <- Hmisc::rcspline.eval(cll, knots = knots, inclx = TRUE)
  cal <- coxph(Surv(time, event) ~ B)
  obs <- 1 - summary(survfit(cal, newdata = list(B = B)), times = horizon)$surv[1, ]
  grid <- seq(quantile(risk, 0.01), quantile(risk, 0.99), length = 50)
  Bg <- Hmisc::rcspline.eval(log(-log(1 - grid)), knots = knots, inclx = TRUE)
  obs_grid <- 1 - summary(survfit(cal, newdata = list(B = Bg)), times = horizon)$surv[1, ]
  d <- abs(risk - obs)
  list(n_knots = nk, knots = num(knots), cal_coef = num(coef(cal)), observed = num(obs),
       grid = num(grid), grid_observed = num(obs_grid),
       ici = mean(d), e50 = num(median(d)), e90 = num(quantile(d, 0.9)), emax = max(d))
}
pub$lung_smooth_calibration_365 <- c(lung_info, list(horizon = 365, predicted = num(risk365),
  call = "Hmisc::rcspline.eval knots; coxph(Surv(time, event) ~ rcs basis of cloglog(predicted)); 1 - survfit(...)$surv at 365"),
  smooth_cal(risk365, lc$time, lc$event, 365, 3))
pub$lung_smooth_calibration_365_4knots <- c(list(model = "lung_smooth_calibration_365 with 4 knots"),
  smooth_cal(risk365, lc$time, lc$event, 365, 4))

# Binary: death by 365 days among patients followed 365 days or dead before; logistic
# regression of it on age + sex + ph.ecog; calibration: logistic regression of the
# outcome on rcs(logit(p), 4 knots)
lb <- lc[lc$time > 365 | lc$event == 1, ]
lb$dead365 <- as.integer(lb$time <= 365)
g <- glm(dead365 ~ age + sex + ph.ecog, data = lb, family = binomial)
pb <- num(fitted(g))
lg <- qlogis(pb)
kb <- Hmisc::rcspline.eval(lg, nk = 4, knots.only = TRUE)
Bb <- Hmisc::rcspline.eval(lg, knots = kb, inclx = TRUE)
gc <- glm(lb$dead365 ~ Bb, family = binomial, control = glm.control(epsilon = 1e-14, maxit = 100))
ob <- num(fitted(gc)); db <- abs(pb - ob)
pub$lung_binary_smooth_calibration <- list(data = "lung.csv", filter = "complete cases as lung_concordance; time > 365 or event; dead365 = time <= 365",
  formula = "glm(dead365 ~ age + sex + ph.ecog, binomial)", predicted = pb, n_knots = 4, knots = num(kb),
  call = "glm(dead365 ~ rcs basis of logit(predicted), binomial)", cal_coef = num(coef(gc)), observed = ob,
  ici = mean(db), e50 = num(median(db)), e90 = num(quantile(db, 0.9)), emax = max(db))

## Harrell's restricted cubic spline: knots and basis (Hmisc::rcspline.eval)
rcs_case <- function(x, nk, what) {
  k <- Hmisc::rcspline.eval(x, nk = nk, knots.only = TRUE)
  at <- seq(min(x), max(x), length = 7)
  list(x = what, values = num(x), n_knots = nk, knots = num(k),
       at = num(at), basis = unname(Hmisc::rcspline.eval(at, knots = k, inclx = TRUE)))
}
pub$rcs_lung_age_3 <- rcs_case(lc$age, 3, "lung complete cases: age")
pub$rcs_lung_age_5 <- rcs_case(lc$age, 5, "lung complete cases: age")
pub$rcs_small_n_4 <- rcs_case(lc$age[1:50], 4, "first 50 ages (n < 100: outer knots at the 5th smallest/largest)")
pub$rcs_tied_minimum_4 <- rcs_case(c(rep(0, 30), 1:100), 4, "30 zeros then 1..100 (a tied minimum of >= 5 %)")
pub$rcs_tied_both_4 <- rcs_case(c(rep(0, 20), 1:100, rep(101, 10)), 4, "20 zeros, 1..100, 10 times 101 (tied extremes)")

## rms::nomogram of the lung Cox model (cph with a tight eps so that it equals coxph)
dd <- datadist(lc); options(datadist = "dd")
f_cph <- cph(Surv(time, event) ~ age + sex + ph.ecog, data = lc, x = TRUE, y = TRUE, surv = TRUE,
             eps = 1e-12, tol = 1e-14)
s_cph <- Survival(f_cph)
lp_at <- c(-0.8, -0.4, 0, 0.4, 0.8)
nom <- nomogram(f_cph, fun = list(function(x) s_cph(365, x)), funlabel = "S(365)", fun.lp.at = lp_at, lp = TRUE)
axis <- function(v) list(value = num(nom[[v]][[v]]), points = num(nom[[v]]$points))
pub$lung_nomogram <- c(lung_info, list(
  call = "nomogram(cph(...), fun = function(x) Survival(fit)(365, x), fun.lp.at = lp_at, lp = TRUE)",
  cph_coef = num(coef(f_cph)), center = num(f_cph$center),
  note = "axis values: rms's pretty() of each predictor's range (age 35-85, sex 1-2, ph.ecog 0-3)",
  age = axis("age"), sex = axis("sex"), ph.ecog = axis("ph.ecog"),
  points_per_lp = num(attr(nom, "info")$sc), lp_at_zero_points = num(attr(nom, "info")$Intercept),
  lp_at = lp_at, lp_points = num(nom[["S(365)"]]$x), survival365_at_lp = num(s_cph(365, lp_at))))

writeLines(jsonlite::toJSON(pub, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), args[1])
cat("R", R.version.string, "survival", as.character(packageVersion("survival")), "rms", as.character(packageVersion("rms")),
    "riskRegression", as.character(packageVersion("riskRegression")), "Hmisc", as.character(packageVersion("Hmisc")), "\n")
