# Reference values for missing data (complete-case Cox, multiple imputation pooled by
# Rubin's rules) and for patient-level formulas (rms restricted cubic splines, natural
# splines, rms::Predict partial effects), all on survival::pbc (418 patients; 'death' is
# status == 2, transplant counted as censored).
# The m = 5 imputed data sets are written to tests/data/pbc_mice.csv and read back
# before the fits, so that R and survrad pool fits on exactly the same numbers.
suppressMessages({library(survival); library(rms); library(mice); library(splines); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
num <- function(x) unname(as.numeric(x))
coxinfo <- function(fit) {
  list(terms = names(coef(fit)), coef = num(coef(fit)), se = num(sqrt(diag(fit$var))),
       loglik = num(fit$loglik[2]), n = fit$n, nevent = fit$nevent)
}
pub <- list()
pbc <- survival::pbc
pbc$death <- as.integer(pbc$status == 2)

## complete-case Cox: coxph drops every row with a missing model variable
f_cc <- coxph(Surv(time, death) ~ age + bili + albumin + protime + chol + copper + platelet, data = pbc)
pub$pbc_cc_cox <- c(list(data = "pbc.csv (418 rows); death = status == 2",
                         formula = "Surv(time, death) ~ age + bili + albumin + protime + chol + copper + platelet",
                         na_action = "na.omit (coxph default)", excluded_ids = pbc$id[f_cc$na.action]),
                    coxinfo(f_cc))
f_ccf <- coxph(Surv(time, death) ~ age + log(bili) + albumin + log(protime) + factor(edema) + chol + copper, data = pbc)
pub$pbc_cc_cox_formula <- c(list(data = "pbc.csv; death = status == 2",
                                 formula = "Surv(time, death) ~ age + log(bili) + albumin + log(protime) + factor(edema) + chol + copper",
                                 na_action = "na.omit", excluded_ids = pbc$id[f_ccf$na.action]),
                            coxinfo(f_ccf))

## multiple imputation: mice (pmm), outcome in the imputation model as death and the
## Nelson-Aalen cumulative hazard (White & Royston 2009); pooled with Rubin's rules
d <- pbc[, c("id", "time", "death", "age", "bili", "albumin", "protime", "chol", "copper", "platelet", "edema")]
d$nelson_aalen <- nelsonaalen(d, time, death)
pred <- make.predictorMatrix(d)
pred[, c("id", "time")] <- 0
imp <- mice(d, m = 5, maxit = 10, seed = 20240611, predictorMatrix = pred, printFlag = FALSE)
long <- complete(imp, action = "long")
long <- long[, c(".imp", "id", "time", "death", "age", "bili", "albumin", "protime", "chol", "copper", "platelet", "edema")]
names(long)[1] <- "imputation"
csv <- file.path("..", "data", "pbc_mice.csv")
write.csv(long, csv, row.names = FALSE)
back <- read.csv(csv)
fits <- lapply(1:5, function(i) coxph(Surv(time, death) ~ age + log(bili) + albumin + log(protime) + chol + copper + platelet,
                                      data = back[back$imputation == i, ]))
pooled <- pool(as.mira(fits))
ps <- summary(pooled)
pp <- pooled$pooled
pub$pbc_mice_pool <- list(data = "tests/data/pbc_mice.csv (mice 3.15, pmm, m = 5, maxit = 10, seed 20240611; read back from the CSV)",
                          formula = "Surv(time, death) ~ age + log(bili) + albumin + log(protime) + chol + copper + platelet",
                          call = "summary(pool(as.mira(fits)))", m = 5,
                          terms = as.character(pp$term), estimate = num(pp$estimate), ubar = num(pp$ubar),
                          b = num(pp$b), t = num(pp$t), dfcom = num(pp$dfcom), df = num(pp$df),
                          riv = num(pp$riv), lambda = num(pp$lambda), fmi = num(pp$fmi),
                          std_error = num(ps$std.error), statistic = num(ps$statistic), p_value = num(ps$p.value),
                          per_imputation_coef = lapply(fits, function(f) num(coef(f))))

## rms restricted cubic spline: Harrell's default knots (Hmisc::rcspline.eval)
kn <- function(x, nk) num(attr(rcs(x, nk), "parms"))
pub$pbc_rcs_knots <- list(call = "attr(rms::rcs(x, nk), 'parms') (NA removed)",
                          age_3 = kn(pbc$age, 3), age_4 = kn(pbc$age, 4), age_5 = kn(pbc$age, 5),
                          age_6 = kn(pbc$age, 6), age_7 = kn(pbc$age, 7),
                          bili_4 = kn(pbc$bili, 4), chol_5 = kn(pbc$chol, 5), platelet_4 = kn(pbc$platelet, 4),
                          protime_5 = kn(pbc$protime, 5), trig_3 = kn(pbc$trig, 3),
                          age_first60_4 = kn(pbc$age[1:60], 4))
f_rcs <- coxph(Surv(time, death) ~ rcs(age, 4) + log(bili), data = pbc)
pub$pbc_cox_rcs <- c(list(data = "pbc.csv; death = status == 2", formula = "Surv(time, death) ~ rcs(age, 4) + log(bili)",
                          knots = kn(pbc$age, 4)), coxinfo(f_rcs))
f_rcsk <- coxph(Surv(time, death) ~ rcs(albumin, c(2.8, 3.3, 3.6, 3.9, 4.2)) + age, data = pbc)
pub$pbc_cox_rcs_knots <- c(list(data = "pbc.csv; death = status == 2",
                                formula = "Surv(time, death) ~ rcs(albumin, c(2.8, 3.3, 3.6, 3.9, 4.2)) + age",
                                knots = c(2.8, 3.3, 3.6, 3.9, 4.2)), coxinfo(f_rcsk))

## partial effect of a spline term with its pointwise interval (rms::Predict)
dd <- datadist(pbc[, c("age", "bili")]); options(datadist = "dd")
f_cph <- cph(Surv(time, death) ~ rcs(age, 4) + log(bili), data = pbc, x = TRUE, y = TRUE, eps = 1e-12, tol = 1e-13, iter.max = 50)
grid <- seq(30, 75, by = 5)
pr <- Predict(f_cph, age = grid, ref.zero = TRUE, conf.int = 0.95)
pub$pbc_rcs_predict <- list(model = "pbc_cox_rcs", call = "Predict(cph(Surv(time, death) ~ rcs(age, 4) + log(bili), eps = 1e-12, tol = 1e-13, iter.max = 50), age = grid, ref.zero = TRUE, conf.int = 0.95)",
                            reference = num(dd$limits["Adjust to", "age"]), age = grid,
                            yhat = num(pr$yhat), lower = num(pr$lower), upper = num(pr$upper))

av <- anova(f_cph)
pub$pbc_rcs_anova <- list(model = "pbc_rcs_predict", call = "anova(cph(Surv(time, death) ~ rcs(age, 4) + log(bili), eps = 1e-12))",
                          rows = trimws(rownames(av)), chisq = num(av[, "Chi-Square"]), df = num(av[, "d.f."]),
                          p = num(av[, "P"]))

## natural spline with the knots of survrad's cr(albumin, df = 3): 4 knots = the range and
## the 1/3, 2/3 quantiles (type 7) of the unique values; cr (mgcv's cubic regression
## spline, centred) spans the same functions as ns() with these knots
alb <- pbc$albumin
inner <- num(quantile(unique(alb), c(1 / 3, 2 / 3), type = 7))
bounds <- range(alb)
f_ns <- coxph(Surv(time, death) ~ ns(albumin, knots = inner, Boundary.knots = bounds) + age, data = pbc)
agrid <- seq(2.0, 4.6, by = 0.2)
ref <- median(alb)
lp <- function(a) num(predict(f_ns, newdata = data.frame(albumin = a, age = 50), type = "lp"))
pub$pbc_cox_ns <- c(list(data = "pbc.csv; death = status == 2",
                         formula = "Surv(time, death) ~ ns(albumin, knots = inner, Boundary.knots = range(albumin)) + age",
                         inner_knots = inner, boundary_knots = num(bounds), grid = agrid, reference = ref,
                         log_hazard_vs_reference = lp(agrid) - lp(ref)), coxinfo(f_ns))

writeLines(toJSON(pub, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), args[1])
