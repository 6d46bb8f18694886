# Reference decision curves from the R package dcurves (Sjoberg & Vertosick; Vickers et
# al. 2006/2008): net benefit = TP/n - FP/n * pt / (1 - pt); for a survival outcome at a
# horizon, TP/n = (1 - S+(t)) * P(risk >= pt) with S+ the Kaplan-Meier of the test
# positives, FP/n = S+(t) * P(risk >= pt). Three data sets, each written beside its values
# so that the tests read exactly the rows R used:
#   binary_df_binary : dca(cancer ~ cancerpredmarker, df_binary)          (dcurves' data)
#   surv_df_surv     : dca(Surv(ttcancer, cancer) ~ cancerpredmarker, df_surv, time = 1.5)
#   surv_lung_365    : dca(Surv(time, event) ~ risk, lung complete cases, time = 365), risk
#                      = 1 - S(365 | x) of coxph(Surv(time, event) ~ age + sex + ph.ecog)
# dcurves returns NA where the Kaplan-Meier of the test positives ends before the horizon;
# jsonlite writes that NA as the string "NA".
# Needs dcurves (0.5.x; CRAN, or R CMD INSTALL of its source) besides survival and jsonlite.
# Run: bash tests/r/regenerate.sh decision   (writes tests/r/decision.json)
suppressMessages({library(survival); library(dcurves); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
num <- function(x) unname(as.numeric(x))
pub <- list()
thresholds <- seq(0, 0.99, by = 0.01)

nb <- function(res, variable) {
  d <- as.data.frame(res$dca)
  num(d[d$variable == variable, "net_benefit"])
}
curve <- function(res, model) {
  list(dcurves_version = as.character(packageVersion("dcurves")),
       thresholds = num(thresholds), prevalence = num(res$prevalence),
       net_benefit = nb(res, model), treat_all = nb(res, "all"),
       treat_none = nb(res, "none"))
}

## binary outcome: dcurves' df_binary (750 patients)
data(df_binary, package = "dcurves")
res <- dca(cancer ~ cancerpredmarker, data = df_binary, thresholds = thresholds)
pub$binary_df_binary <- c(list(
  data = "dcurves::df_binary", call = "dca(cancer ~ cancerpredmarker, data = df_binary, thresholds = seq(0, 0.99, by = 0.01))",
  outcome = num(df_binary$cancer), risk = num(df_binary$cancerpredmarker)),
  curve(res, "cancerpredmarker"))

## survival outcome at 1.5 years: dcurves' df_surv (750 patients)
data(df_surv, package = "dcurves")
res <- dca(Surv(ttcancer, cancer) ~ cancerpredmarker, data = df_surv, time = 1.5,
           thresholds = thresholds)
pub$surv_df_surv <- c(list(
  data = "dcurves::df_surv", call = "dca(Surv(ttcancer, cancer) ~ cancerpredmarker, data = df_surv, time = 1.5, thresholds = seq(0, 0.99, by = 0.01))",
  horizon = 1.5, time = num(df_surv$ttcancer), event = num(df_surv$cancer),
  risk = num(df_surv$cancerpredmarker)),
  curve(res, "cancerpredmarker"))

## survival outcome at 365 days: lung, risk of death by 365 days of a Cox model
lung <- survival::cancer
lung$event <- as.integer(lung$status == 2)
lc <- lung[complete.cases(lung[, c("time", "event", "age", "sex", "ph.ecog")]), ]
fit <- coxph(Surv(time, event) ~ age + sex + ph.ecog, data = lc, ties = "efron")
lc$risk <- 1 - summary(survfit(fit, newdata = lc), times = 365)$surv[1, ]
res <- dca(Surv(time, event) ~ risk, data = lc, time = 365, thresholds = thresholds)
pub$surv_lung_365 <- c(list(
  data = "lung.csv", filter = "complete cases of time, status, age, sex, ph.ecog; event = status == 2",
  model = "coxph(Surv(time, event) ~ age + sex + ph.ecog, ties = 'efron'); risk = 1 - summary(survfit(fit, newdata = lc), times = 365)$surv",
  call = "dca(Surv(time, event) ~ risk, data = lc, time = 365, thresholds = seq(0, 0.99, by = 0.01))",
  horizon = 365, time = num(lc$time), event = num(lc$event), risk = num(lc$risk)),
  curve(res, "risk"))

writeLines(jsonlite::toJSON(pub, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           commandArgs(trailingOnly = TRUE)[1])
