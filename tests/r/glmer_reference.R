# Reference numbers for tests/test_link_glmm.py and tests/test_link_maaslin3.py (random effects).
#
# Run:   Rscript tests/r/glmer_reference.R ../shared/data/maaslin3_hmp2
# Made with R 4.2.2 (2022-11-10 r83330), lme4 1.1-31, lmerTest 3.1-3, Matrix as installed with them.
# Runtime about three minutes. The printed numbers were pasted into the tests as literals.
#
# Data: MaAsLin3's HMP2 example (1,527 samples, 120 participants); fixed effects as MaAsLin3's test
# (diagnosis ref nonIBD, dysbiosis_state ref none, antibiotics ref No, age and reads z-scored over all
# samples), random intercept (1 | participant_id).
#
# Part 1, the GLMM engine, for a few taxa (presence = relative abundance > 0):
#   (a) lme4::glmer(family = binomial) as MaAsLin3 calls it (nloptwrap, maxeval 1e5), plain and with
#       MaAsLin3's augmentation (the data stacked three times, pseudo-rows weighted p / (2n));
#   (b) an independent optimum of the same Laplace deviance written out by hand below (conditional
#       modes per participant by Newton's method to 1e-12, lme4's objective: -2 log-lik of the
#       observed rows [binomial()$aic rounds the pseudo-rows' weights to 0] + |u|^2 + log|L|^2 with
#       the weights of the pseudo-rows in L), minimised by nlminb and then Newton steps on
#       finite-difference derivatives; standard errors 2 * solve(Hessian) as vcov.merMod does.
#   glmer evaluates the deviance with the modes' IRLS stopped at tolPwrss = 1e-7 (and L one
#   iteration behind), so (a) and (b) differ slightly; both are printed, with the hand-written
#   deviance at glmer's estimate, and (c) glmer with tolPwrss = 1e-12 and tight optimizer
#   tolerances, which comes close to (b).
#
# Part 2, MaAsLin3's two models built by hand for a few features (MaAsLin3 itself is not needed):
#   prevalence: glmer on the augmented data, optimizers nloptwrap, nlminbwrap, bobyqa in turn until
#   one gives no warning, else Nelder_Mead, whose last warning is the error (R/fit.R);
#   abundance: lmerTest::lmer (REML) on log2 of the TSS-normalised non-zero values, same optimizer
#   chain; Satterthwaite p-values (summary()).

suppressPackageStartupMessages({library(lme4); library(lmerTest)})
args <- commandArgs(trailingOnly = TRUE)
d <- if (length(args)) args[1] else "../shared/data/maaslin3_hmp2"
tax <- read.delim(file.path(d, "HMP2_taxonomy.tsv"), check.names = FALSE)
meta <- read.delim(file.path(d, "HMP2_metadata.tsv"), check.names = FALSE)
stopifnot(identical(rownames(tax), rownames(meta)))
tss <- tax / rowSums(tax)
m <- meta[, c("participant_id", "diagnosis", "dysbiosis_state", "antibiotics", "age", "reads")]
m$diagnosis <- relevel(factor(m$diagnosis), "nonIBD")
m$dysbiosis_state <- relevel(factor(m$dysbiosis_state), "none")
m$antibiotics <- relevel(factor(m$antibiotics), "No")
m$age <- as.numeric(scale(m$age))
m$reads <- as.numeric(scale(m$reads))
form <- expr ~ diagnosis + dysbiosis_state + antibiotics + age + reads + (1 | participant_id)
n <- nrow(m)
p <- ncol(lFormula(form, transform(m, expr = 1))$X) - 1
w_aug <- p / (2 * n)
augmented <- function(y) {
  m$expr <- y
  aug <- rbind(m, m, m)
  aug$expr[(n + 1):(2 * n)] <- 1
  aug$expr[(2 * n + 1):(3 * n)] <- 0
  aug$wts <- c(rep(1, n), rep(w_aug, 2 * n))
  aug
}
muffle_nonint <- function(expr) withCallingHandlers(expr, warning = function(w) {
  if (conditionMessage(w) == "non-integer #successes in a binomial glm!") invokeRestart("muffleWarning")
})
fmt <- function(x) paste(formatC(x, digits = 12, format = "g"), collapse = ", ")

# ---- the Laplace deviance by hand
X <- model.matrix(~ diagnosis + dysbiosis_state + antibiotics + age + reads, m)
g <- as.integer(factor(m$participant_id))
G <- max(g)
laplace <- function(par, y, w) {
  th <- par[1]; o <- drop(X %*% par[-1]); u <- numeric(G)
  P <- y + w; a <- 1 + 2 * w
  for (it in 1:500) {
    mu <- plogis(o + th * u[g])
    grad <- -th * rowsum(P - a * mu, g)[, 1] + u
    hess <- th^2 * rowsum(a * mu * (1 - mu), g)[, 1] + 1
    step <- pmax(pmin(grad / hess, 1), -1)
    u <- u - step
    if (max(abs(step)) < 1e-13) break
  }
  mu <- plogis(o + th * u[g])
  S <- rowsum(a * mu * (1 - mu), g)[, 1]
  -2 * sum(y * plogis(o + th * u[g], log.p = TRUE) + (1 - y) * plogis(-(o + th * u[g]), log.p = TRUE)) +
    sum(u^2) + sum(log(1 + th^2 * S))
}
fd <- function(f, x, h = 1e-4) {  # central-difference gradient and Hessian
  k <- length(x); gr <- numeric(k); H <- matrix(0, k, k); f0 <- f(x)
  for (i in 1:k) {
    e <- replace(numeric(k), i, h)
    fp <- f(x + e); fm <- f(x - e)
    gr[i] <- (fp - fm) / (2 * h); H[i, i] <- (fp - 2 * f0 + fm) / h^2
    for (j in seq_len(i - 1)) {
      e2 <- replace(numeric(k), j, h)
      H[i, j] <- H[j, i] <- (f(x + e + e2) - f(x + e - e2) - f(x - e + e2) + f(x - e - e2)) / (4 * h^2)
    }
  }
  list(g = gr, H = H)
}
exact_optimum <- function(y, w, start) {
  f <- function(par) laplace(par, y, w)
  op <- nlminb(start, f, lower = c(0, rep(-Inf, length(start) - 1)),
               control = list(eval.max = 5000, iter.max = 2000, rel.tol = 1e-15, x.tol = 1e-12))
  x <- op$par
  for (k in 1:4) {  # Newton steps on finite differences (interior optimum)
    dd <- fd(f, x)
    x <- x - solve(dd$H, dd$g)
  }
  dd <- fd(f, x)
  V <- 2 * solve(dd$H)
  list(par = x, dev = f(x), se = sqrt(diag(V))[-1], grad = dd$g)
}

cat("## Part 1: GLMM engine (theta, then (Intercept), diagnosisCD, diagnosisUC, dysbiosis_CD, dysbiosis_UC,",
    "antibioticsYes, age, reads)\n")
ctl <- glmerControl(optimizer = "nloptwrap", optCtrl = list(maxeval = 100000))
for (f in c("Faecalibacterium_prausnitzii", "Bacteroides_uniformis", "Ruminococcus_bromii")) {
  y <- as.numeric(tss[[f]] > 0)
  for (aug in c(FALSE, TRUE)) {
    dat <- if (aug) augmented(y) else transform(m, expr = y, wts = 1)
    fit <- suppressWarnings(muffle_nonint(glmer(form, data = dat, family = binomial, weights = wts, control = ctl)))
    par <- c(getME(fit, "theta"), fixef(fit))
    w <- if (aug) w_aug else 0
    ex <- exact_optimum(y, w, par)
    cat(sprintf("# %s augment=%s prevalence=%.4f\n", f, aug, mean(y)))
    cat("glmer_par = [", fmt(par), "]\n")
    cat("glmer_se = [", fmt(summary(fit)$coefficients[, 2]), "]\n")
    cat("glmer_dev_lme4 =", fmt(-2 * as.numeric(logLik(fit))), " hand_dev_at_glmer =", fmt(laplace(par, y, w)), "\n")
    # glmer again with the modes' IRLS to 1e-12 and tight optimizer tolerances
    tight <- suppressWarnings(muffle_nonint(glmer(form, data = dat, family = binomial, weights = wts,
      control = glmerControl(optimizer = "nloptwrap", tolPwrss = 1e-12,
                             optCtrl = list(maxeval = 100000, xtol_abs = 1e-12, ftol_abs = 1e-14)))))
    pt <- c(getME(tight, "theta"), fixef(tight))
    cat("glmer_tight_par = [", fmt(pt), "]\n")
    cat("glmer_tight_se = [", fmt(summary(tight)$coefficients[, 2]), "]\n")
    cat("hand_dev_at_glmer_tight =", fmt(laplace(pt, y, w)), "\n")
    cat("exact_par = [", fmt(ex$par), "]\n")
    cat("exact_se = [", fmt(ex$se), "]\n")
    cat("exact_dev =", fmt(ex$dev), " max|grad| =", fmt(max(abs(ex$grad))), "\n")
  }
}

cat("\n## Part 2: MaAsLin3's models by hand (name, coef, stderr, pval; error)\n")
optimizers <- c("nloptwrap", "nlminbwrap", "bobyqa", "Nelder_Mead")
optCtrlList <- list(list(maxeval = 100000), list(maxit = 1500), list(maxfun = 100000), list(maxfun = 100000))
chain <- function(fitfun) {
  msg <- NA
  for (i in seq_along(optimizers)) {
    warn <- NULL
    fit <- withCallingHandlers(
      tryCatch(fitfun(i), error = function(e) { msg <<- conditionMessage(e); NULL }),
      warning = function(w) {
        if (conditionMessage(w) != "non-integer #successes in a binomial glm!") warn <<- conditionMessage(w)
        invokeRestart("muffleWarning")
      })
    if (!is.null(fit) && is.null(warn)) return(list(fit = fit, error = NA, optimizer = optimizers[i]))
    if (!is.null(warn)) msg <- warn
  }
  list(fit = fit, error = msg, optimizer = optimizers[length(optimizers)])
}
for (f in c("Faecalibacterium_prausnitzii", "Bacteroides_uniformis", "Ruminococcus_bromii",
            "Bacteroides_intestinalis")) {
  y <- as.numeric(tss[[f]] > 0)
  aug <- augmented(y)
  pr <- chain(function(i) glmer(form, data = aug, family = binomial, weights = wts,
                                control = glmerControl(optimizer = optimizers[i], optCtrl = optCtrlList[[i]])))
  cf <- summary(pr$fit)$coefficients
  cat(sprintf("# %s prevalence (optimizer %s, error %s)\n", f, pr$optimizer, pr$error))
  for (k in 2:nrow(cf)) cat(rownames(cf)[k], fmt(cf[k, c(1, 2, 4)]), "\n")
  ab <- transform(m, expr = ifelse(tss[[f]] > 0, log2(tss[[f]]), NA))
  la <- chain(function(i) lmerTest::lmer(form, data = ab, na.action = na.exclude,
                                         control = lmerControl(optimizer = optimizers[i], optCtrl = optCtrlList[[i]])))
  cf <- summary(la$fit)$coefficients
  cat(sprintf("# %s abundance (optimizer %s, error %s)\n", f, la$optimizer, la$error))
  for (k in 2:nrow(cf)) cat(rownames(cf)[k], fmt(cf[k, c(1, 2, 5)]), "\n")
}

# ---- Part 3: two random intercepts, (1 | site_name) + (1 | participant_id) (participants nested in
# sites), for tests/test_link_glmm.py (test_two_random_intercepts_match_lme4). glmer as MaAsLin3
# calls it; theta in lme4's order (participant_id, then site_name: the factor with more levels
# first), then the fixed effects. The test compares the exact Laplace optimum with these (its
# deviance must not exceed the one at glmer's estimate) and with glmer at tolPwrss = 1e-12.
two_factor_reference <- function() {
  form2 <- expr ~ diagnosis + dysbiosis_state + antibiotics + age + reads + (1 | site_name) + (1 | participant_id)
  m$site_name <- meta$site_name
  cat("\n## Part 3: two random intercepts (theta participant_id, theta site_name, then fixed effects)\n")
  for (case in list(list("Roseburia_intestinalis", FALSE), list("Parasutterella_excrementihominis", FALSE),
                    list("Roseburia_intestinalis", TRUE))) {
    f <- case[[1]]; aug <- case[[2]]
    y <- as.numeric(tss[[f]] > 0)
    dat <- if (aug) augmented(y) else transform(m, expr = y, wts = 1)
    if (aug) dat$site_name <- rep(meta$site_name, 3)
    fit <- suppressWarnings(muffle_nonint(glmer(form2, data = dat, family = binomial, weights = wts,
                                                control = ctl)))
    tight <- suppressWarnings(muffle_nonint(glmer(form2, data = dat, family = binomial, weights = wts,
      control = glmerControl(optimizer = "nloptwrap", tolPwrss = 1e-12,
                             optCtrl = list(maxeval = 100000, xtol_abs = 1e-12, ftol_abs = 1e-14)))))
    cat(sprintf("# %s augment=%s\n", f, aug))
    cat("theta names:", names(getME(fit, "theta")), "\n")
    cat("glmer_par = [", fmt(c(getME(fit, "theta"), fixef(fit))), "]\n")
    cat("glmer_se = [", fmt(summary(fit)$coefficients[, 2]), "]\n")
    cat("glmer_dev =", fmt(-2 * as.numeric(logLik(fit))), "\n")
    cat("glmer_tight_par = [", fmt(c(getME(tight, "theta"), fixef(tight))), "]\n")
    cat("glmer_tight_se = [", fmt(summary(tight)$coefficients[, 2]), "]\n")
    cat("glmer_tight_dev =", fmt(-2 * as.numeric(logLik(tight))), "\n")
  }
}
two_factor_reference()
