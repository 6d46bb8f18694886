# Reference values for the lesion-level models of strategies D and E (survrad.lesions):
# weighted, ridge-penalised Cox (survival::coxph with ridge()), cluster-robust Cox, weighted
# ridge logistic (glmnet) and the treatment-adjusted lesion response logistic (glm, glmnet
# with unpenalised adjustment columns). Data: tests/r/lesions_data.csv, written by
# tests/r/lesions_data.py (simulate_cohort(n_patients = 120, random_state = 21, ...)).
suppressMessages({library(survival); library(glmnet); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
num <- function(x) unname(as.numeric(x))
pub <- list()

d <- read.csv("lesions_data.csv", stringsAsFactors = FALSE)
feats <- c("rad_sig_01", "rad_sig_02", "rad_sig_03", "rad_vol_01", "rad_vol_02", "rad_noise_01")
# survrad standardises lesion features on the training lesions: mean and POPULATION sd
zscore <- function(x) (x - mean(x)) / sqrt(mean((x - mean(x))^2))
z <- sapply(d[, feats], zscore)
colnames(z) <- paste0("z", seq_along(feats))
d <- cbind(d, z)
# strategy E: every patient weighs 1 in total (case weight 1 / lesions of the patient)
d$w <- 1 / ave(rep(1, nrow(d)), d$patient_id, FUN = sum)
n_patients <- length(unique(d$patient_id))
zterms <- paste(colnames(z), collapse = ", ")
ctrl <- coxph.control(eps = 1e-12, toler.chol = 1e-13, iter.max = 100)

## E, Cox, ridge on glmnet's scale: -loglik_w / sum(w) + lambda/2 |b|^2, i.e. survival's
## ridge(theta = lambda * sum(w), scale = FALSE) on the weighted log partial likelihood
lambda <- 0.05
f_ridge <- coxph(as.formula(paste0("Surv(os_time, os_event) ~ ridge(", zterms, ", theta = ",
                                   lambda * sum(d$w), ", scale = FALSE)")),
                 data = d, weights = w, ties = "efron", control = ctrl)
pub$cox_ridge <- list(data = "lesions_data.csv", features = feats, standardise = "mean, population sd over all lesions",
                      weights = "1 / lesions of the patient", sum_weights = sum(d$w), n_patients = n_patients,
                      formula = "Surv(os_time, os_event) ~ ridge(z1..z6, theta = penalty * sum(w), scale = FALSE)",
                      ties = "efron", penalty = lambda, theta = lambda * sum(d$w), coef = num(coef(f_ridge)))

## E, Cox, unpenalised with the cluster-robust (sandwich) variance by patient
f_cl <- coxph(as.formula(paste0("Surv(os_time, os_event) ~ ", gsub(",", " +", zterms), " + cluster(patient_id)")),
              data = d, weights = w, ties = "efron", control = ctrl)
pub$cox_cluster <- list(data = "lesions_data.csv", formula = "Surv(os_time, os_event) ~ z1 + ... + z6 + cluster(patient_id)",
                        weights = "1 / lesions of the patient", ties = "efron",
                        coef = num(coef(f_cl)), robust_se = num(sqrt(diag(f_cl$var))))

## E, binary endpoint (objective_response), weighted logistic, ridge and unpenalised
g_ridge <- glmnet(z, d$objective_response, family = "binomial", weights = d$w, alpha = 0,
                  lambda = lambda, standardize = FALSE, thresh = 1e-14, maxit = 1e6)
pub$logistic_ridge <- list(data = "lesions_data.csv", call = "glmnet(z, objective_response, family = 'binomial', weights = w, alpha = 0, lambda = 0.05, standardize = FALSE, thresh = 1e-14)",
                           penalty = lambda, intercept = num(coef(g_ridge)[1]), coef = num(coef(g_ridge)[-1]))
g_ml <- glm(d$objective_response ~ z, family = quasibinomial, weights = d$w,
            control = glm.control(epsilon = 1e-14, maxit = 100))
pub$logistic_weighted <- list(data = "lesions_data.csv", call = "glm(objective_response ~ z1..z6, family = quasibinomial, weights = w)",
                              intercept = num(coef(g_ml)[1]), coef = num(coef(g_ml)[-1]))

## D: lesion response adjusted for irradiated and rt_dose_gy (unpenalised adjustment)
xa <- cbind(z, irradiated = d$irradiated, rt_dose_gy = d$rt_dose_gy)
r_ml <- glm(d$lesion_response ~ xa, family = binomial, control = glm.control(epsilon = 1e-14, maxit = 100))
pub$response_adjusted <- list(data = "lesions_data.csv", call = "glm(lesion_response ~ z1..z6 + irradiated + rt_dose_gy, family = binomial)",
                              intercept = num(coef(r_ml)[1]), coef = num(coef(r_ml)[2:7]),
                              treatment_coef = num(coef(r_ml)[8:9]))
# glmnet rescales penalty.factor to sum to the number of columns (8): lambda * 6 / 8 gives
# survrad's objective -loglik / n + lambda/2 |b_features|^2
r_ridge <- glmnet(xa, d$lesion_response, family = "binomial", alpha = 0, lambda = lambda * 6 / 8,
                  penalty.factor = c(rep(1, 6), 0, 0), standardize = FALSE, thresh = 1e-14, maxit = 1e6)
cr <- coef(r_ridge)
pub$response_adjusted_ridge <- list(data = "lesions_data.csv", call = "glmnet(cbind(z1..z6, irradiated, rt_dose_gy), lesion_response, family = 'binomial', alpha = 0, lambda = 0.05 * 6 / 8, penalty.factor = c(1,1,1,1,1,1,0,0), standardize = FALSE, thresh = 1e-14)",
                                    penalty = lambda, intercept = num(cr[1]), coef = num(cr[2:7]),
                                    treatment_coef = num(cr[8:9]))

writeLines(jsonlite::toJSON(pub, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), commandArgs(trailingOnly = TRUE)[1])
