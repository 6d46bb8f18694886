# Reference values for counting-process (start, stop] Cox models, survfit on them,
# cox.zph, and the (start, stop] rows of tmerge. Writes tests/data/heart.csv and
# tests/data/cgd.csv (exports of survival::heart and survival::cgd) beside the JSON.
suppressMessages({library(survival); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
num <- function(x) unname(as.numeric(x))
coxinfo <- function(fit) {
  list(terms = names(coef(fit)), coef = num(coef(fit)),
       se = num(sqrt(diag(fit$var))),
       robust_se = if (!is.null(fit$naive.var)) num(sqrt(diag(fit$var))) else NULL,
       naive_se = if (!is.null(fit$naive.var)) num(sqrt(diag(fit$naive.var))) else NULL,
       loglik_null = num(fit$loglik[1]), loglik = num(fit$loglik[2]),
       n = fit$n, nevent = fit$nevent, iter = fit$iter)
}
# survival of one covariate profile at `times`, one block per stratum (in level order)
survinfo <- function(fit, newdata, times) {
  sf <- summary(survfit(fit, newdata = newdata), times = times, extend = TRUE)
  list(newdata = newdata, times = times,
       strata = if (is.null(sf$strata)) NULL else as.character(sf$strata),
       time = num(sf$time), surv = num(sf$surv), cumhaz = num(sf$cumhaz))
}
pub <- list()

## Stanford heart transplant (survival::heart): one row per (start, stop] interval,
## transplant switches on at the transplant date
heart <- survival::heart
write.csv(data.frame(heart[, c("id", "start", "stop", "event", "age", "year", "surgery")],
                     transplant = as.integer(as.character(heart$transplant))),
          "../data/heart.csv", row.names = FALSE)
heart <- read.csv("../data/heart.csv")       # fit the numbers exactly as written
heart$transplant <- factor(heart$transplant, levels = c(0, 1))
heart_new <- data.frame(age = -5, year = 3, surgery = 0, transplant = factor(1, levels = c(0, 1)))
heart_times <- c(5, 30, 100, 365, 1000)
heart_case <- function(ties) {
  f <- coxph(Surv(start, stop, event) ~ age + year + surgery + transplant + cluster(id),
             data = heart, ties = ties)
  c(list(data = "tests/data/heart.csv (survival::heart)",
         formula = "Surv(start, stop, event) ~ age + year + surgery + transplant + cluster(id)",
         ties = ties, coding = "transplant as 0/1 (R factor, level 0 reference)"),
    coxinfo(f), list(survival = survinfo(f, heart_new, heart_times)))
}
pub$heart_efron <- heart_case("efron")
pub$heart_breslow <- heart_case("breslow")
## case weights with the cluster term (robust SE from weighted dfbeta residuals)
heart$w <- 1 + (heart$id %% 3) / 2
fw <- coxph(Surv(start, stop, event) ~ age + year + surgery + transplant + cluster(id),
            data = heart, weights = w, ties = "efron")
pub$heart_weighted_efron <- c(
  list(data = "tests/data/heart.csv", weights = "1 + (id %% 3) / 2",
       formula = "Surv(start, stop, event) ~ age + year + surgery + transplant + cluster(id)",
       ties = "efron"),
  coxinfo(fw), list(survival = survinfo(fw, heart_new, heart_times)))
## proportional-hazards test on counting data
fz <- coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, data = heart)
z <- cox.zph(fz, transform = "km", terms = FALSE)
pub$heart_zph_km <- list(data = "tests/data/heart.csv",
                         formula = "Surv(start, stop, event) ~ age + year + surgery + transplant",
                         call = "cox.zph(fit, transform = 'km', terms = FALSE)",
                         rows = rownames(z$table), chisq = num(z$table[, "chisq"]),
                         df = num(z$table[, "df"]), p = num(z$table[, "p"]))

## chronic granulomatous disease (survival::cgd): recurrent infections, stratified by
## hospital category, robust SE by patient
cgd <- survival::cgd
write.csv(transform(cgd, random = format(random)), "../data/cgd.csv", row.names = FALSE)
cgd_levels <- lapply(cgd[, c("treat", "inherit", "hos.cat")], levels)
cgd <- read.csv("../data/cgd.csv")
for (v in names(cgd_levels)) cgd[[v]] <- factor(cgd[[v]], levels = cgd_levels[[v]])
cgd_new <- data.frame(treat = factor("placebo", levels = levels(cgd$treat)), age = 15,
                      inherit = factor("X-linked", levels = levels(cgd$inherit)), steroids = 0)
cgd_times <- c(30, 100, 200, 300)
cgd_case <- function(ties) {
  f <- coxph(Surv(tstart, tstop, status) ~ treat + age + inherit + steroids + strata(hos.cat)
             + cluster(id), data = cgd, ties = ties)
  c(list(data = "tests/data/cgd.csv (survival::cgd)",
         formula = paste("Surv(tstart, tstop, status) ~ treat + age + inherit + steroids",
                         "+ strata(hos.cat) + cluster(id)"),
         ties = ties, coding = "treat rIFN-g = 1 (placebo reference), inherit autosomal = 1"),
    coxinfo(f), list(survival = survinfo(f, cgd_new, cgd_times)))
}
pub$cgd_efron <- cgd_case("efron")
pub$cgd_breslow <- cgd_case("breslow")

## tmerge: (start, stop] rows from a patient table and a scan table
tm_patients <- data.frame(patient_id = c("P1", "P2", "P3", "P4", "P5"),
                          os_time = c(300, 90, 200, 50, 150), os_event = c(1, 0, 1, 1, 0))
tm_scans <- data.frame(
  patient_id = c("P1", "P1", "P1", "P1", "P2", "P2", "P3", "P3", "P3", "P4"),
  scan_time = c(0, 60, 120, 180, 0, 60, -5, 100, 200, 10),
  sld = c(50, 40, 20, 25, 30, 31, 70, 60, 55, 12),
  response = c(0, 0, 1, 0, 0, 0, 0, 1, 1, 0))
tv <- tmerge(tm_patients, tm_patients, id = patient_id, event = event(os_time, os_event))
tv <- tmerge(tv, tm_scans, id = patient_id, sld = tdc(scan_time, sld))
first_resp <- aggregate(scan_time ~ patient_id, data = tm_scans[tm_scans$response == 1, ], FUN = min)
tv <- tmerge(tv, first_resp, id = patient_id, responded = tdc(scan_time))
pub$tmerge_example <- list(
  patients = tm_patients, scans = tm_scans,
  calls = c("tv <- tmerge(patients, patients, id = patient_id, event = event(os_time, os_event))",
            "tv <- tmerge(tv, scans, id = patient_id, sld = tdc(scan_time, sld))",
            "tv <- tmerge(tv, first_response_time, id = patient_id, responded = tdc(scan_time))"),
  rows = data.frame(patient_id = tv$patient_id, start = num(tv$tstart), stop = num(tv$tstop),
                    event = num(tv$event), sld = num(tv$sld), responded = num(tv$responded)))

writeLines(jsonlite::toJSON(pub, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           commandArgs(trailingOnly = TRUE)[1])
cat("R", R.version.string, "survival", as.character(packageVersion("survival")), "\n")
