# Reference values for longitudinal lesion tables: scan times derived from dates
# (difftime) and per-lesion OLS slopes over all scans (lm), aggregated per patient, plus
# new / vanished lesion counts per scan written out with base R loops.
# The data of every case is written beside its values, so the Python test reads the same
# rows.
suppressMessages({library(survival); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
public_out <- args[1]
num <- function(x) unname(as.numeric(x))
pub <- list()

## pbcseq (survival): repeated lab values of the first 40 PBC patients, one "lesion" per
## patient; visits at irregular days since enrolment; a per-patient enrolment date.
pb <- survival::pbcseq
pb <- pb[pb$id <= 40, c("id", "futime", "status", "day", "bili", "albumin", "protime")]
pb <- pb[order(pb$id, pb$day), ]
pb$timepoint <- ave(pb$day, pb$id, FUN = function(d) rank(d) - 1)
enrol <- as.Date("1988-01-04") + 11 * pb$id
pb$scan_date <- format(enrol + pb$day)
base_date <- ave(as.numeric(as.Date(pb$scan_date)), pb$id, FUN = min)
days <- as.numeric(difftime(as.Date(pb$scan_date), as.Date(base_date, origin = "1970-01-01"),
                            units = "days"))
slope_of <- function(d, col) {
  sapply(split(d, d$id), function(g) if (nrow(g) >= 2) unname(coef(lm(g[[col]] ~ g$day))[2]) else NA)
}
ids <- sort(unique(pb$id))
pat <- pb[!duplicated(pb$id), c("id", "futime", "status")]
pub$pbcseq_slopes <- list(
  data = "survival::pbcseq, id <= 40, columns id, futime, status, day, bili, albumin, protime",
  filter = "timepoint = rank of day within id minus 1; scan_date = 1988-01-04 + 11 * id + day",
  formula = "per id: coef(lm(feature ~ day))[2] (slope per day); scan time = difftime(scan_date, first scan_date of the id, units = 'days')",
  rows = list(id = num(pb$id), timepoint = num(pb$timepoint), scan_date = pb$scan_date,
              bili = num(pb$bili), albumin = num(pb$albumin), protime = num(pb$protime)),
  patients = list(id = num(pat$id), futime = num(pat$futime), status = num(pat$status)),
  scan_time_days = num(days), scan_time_months = num(days / (365.25 / 12)),
  id = num(ids), slope_bili = num(slope_of(pb, "bili")),
  slope_albumin = num(slope_of(pb, "albumin")), slope_protime = num(slope_of(pb, "protime")))

## A small multi-lesion table: 12 patients, up to 4 lesions, timepoints 0-4 with scan
## times in months; lesions new after baseline, vanished as 0 mm rows or left out.
set.seed(20240613)
rows <- list()
for (p in 1:12) {
  n_scans <- sample(2:5, 1)
  times <- c(0, cumsum(runif(n_scans - 1, 1.5, 2.5)))
  for (l in 1:sample(1:4, 1)) {
    first <- if (runif(1) < 0.25) sample(1:(n_scans - 1), 1) else 0
    last <- if (runif(1) < 0.3) sample(first:(n_scans - 1), 1) else n_scans - 1
    for (k in first:(n_scans - 1)) {
      gone <- k > last
      if (gone && runif(1) < 0.5) next            # vanished: left out of this scan
      x <- 2 + l + 0.3 * k * (p %% 3 - 1) + rnorm(1, sd = 0.2)
      rows[[length(rows) + 1]] <- data.frame(
        patient = sprintf("P%02d", p), lesion = sprintf("L%d", l), timepoint = k,
        scan_time = times[k + 1], diameter = if (gone) 0 else round(10 + 5 * l + rnorm(1), 1),
        volume = if (gone) 0 else round(0.5 + l + runif(1), 2),
        rad_a = if (gone) NA else x, rad_b = if (gone) NA else -x^2 / 3)
    }
  }
}
les <- do.call(rbind, rows)
present <- les$diameter > 0
pres <- les[present, ]
key <- paste(pres$patient, pres$lesion)
lesion_slopes <- do.call(rbind, lapply(split(pres, key), function(g) {
  if (nrow(g) < 2) return(NULL)
  g <- g[order(g$scan_time), ]
  data.frame(patient = g$patient[1], lesion = g$lesion[1], volume = g$volume[1],
             a = unname(coef(lm(rad_a ~ scan_time, data = g))[2]),
             b = unname(coef(lm(rad_b ~ scan_time, data = g))[2]))
}))
patients <- sprintf("P%02d", 1:12)
agg <- function(f) sapply(patients, function(p) {
  s <- lesion_slopes[lesion_slopes$patient == p, ]
  if (nrow(s) == 0) NA else f(s)
})
# per-scan counts: new = present at t and never before; vanished = present at the
# patient's previous scan and not present at t; NA when the patient has no row at t
count_scan <- function(t) {
  out <- sapply(patients, function(p) {
    rows_p <- les[les$patient == p, ]
    if (!(t %in% rows_p$timepoint)) return(c(NA, NA))
    earlier <- sort(unique(rows_p$timepoint[rows_p$timepoint < t]))
    now <- rows_p$lesion[rows_p$timepoint == t & rows_p$diameter > 0]
    before <- rows_p$lesion[rows_p$timepoint < t & rows_p$diameter > 0]
    prev <- if (length(earlier)) rows_p$lesion[rows_p$timepoint == max(earlier) & rows_p$diameter > 0] else character(0)
    c(sum(!(now %in% before)), sum(!(prev %in% now)))
  })
  list(new = num(out[1, ]), vanished = num(out[2, ]))
}
pub$multilesion_slopes <- list(
  data = "generated here: set.seed(20240613), 12 patients (script above)",
  formula = "per lesion present (diameter > 0) at >= 2 scans: coef(lm(feature ~ scan_time))[2]; per patient: mean, max, median, min and volume-weighted mean (volume at the lesion's first scan) of the lesion slopes",
  rows = list(patient_id = les$patient, lesion_id = les$lesion, timepoint = num(les$timepoint),
              scan_time = num(les$scan_time), longest_diameter_mm = num(les$diameter),
              volume_ml = num(les$volume), rad_a = num(les$rad_a), rad_b = num(les$rad_b)),
  patient_id = patients,
  n_slope = num(sapply(patients, function(p) sum(lesion_slopes$patient == p))),
  a_mean = num(agg(function(s) mean(s$a))), a_max = num(agg(function(s) max(s$a))),
  a_median = num(agg(function(s) median(s$a))), a_min = num(agg(function(s) min(s$a))),
  a_vw_mean = num(agg(function(s) weighted.mean(s$a, s$volume))),
  b_mean = num(agg(function(s) mean(s$b))),
  new_at_1 = count_scan(1)$new, vanished_at_1 = count_scan(1)$vanished,
  new_at_2 = count_scan(2)$new, vanished_at_2 = count_scan(2)$vanished,
  new_at_3 = count_scan(3)$new, vanished_at_3 = count_scan(3)$vanished,
  new_at_4 = count_scan(4)$new, vanished_at_4 = count_scan(4)$vanished)

writeLines(jsonlite::toJSON(pub, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), commandArgs(trailingOnly = TRUE)[1])
