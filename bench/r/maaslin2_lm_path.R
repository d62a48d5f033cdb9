#!/usr/bin/env Rscript
# MaAsLin2's LM path with random intercepts, written out in plain R for bench/bench_associate.py.
#
# MaAsLin2 itself (Bioconductor/GitHub) cannot be installed on the benchmark machine; this script
# does what MaAsLin2 1.15 does for an LM call with random effects, with the same lme4/lmerTest
# (Debian bookworm: r-cran-lme4 1.1-31, r-cran-lmertest 3.1-3, the versions of MaAsLin2's
# reference outputs):
#   - read the feature table and metadata as MaAsLin2 does (read.table, row.names = 1,
#     check.names -> syntactic feature names), samples in both, metadata reduced to the effects;
#   - prevalence/variance filter on the table as given (> min_prevalence x n samples above
#     min_abundance; variance above min_variance), then TSS per sample, then the transform;
#   - reference level for `diagnosis`, standardize = FALSE;
#   - per feature, in a loop as R/fit.R: data.frame(expr, metadata),
#     lmerTest::lmer(expr ~ fixed + (1 | site) + (1 | subject), na.action = na.exclude) with a
#     tryCatch retry, coef(summary(fit)) (Satterthwaite df), residuals, fitted and ranef kept;
#   - BH q-values over all (feature, coefficient) rows, metadata/value split, rows sorted by q.
# MaAsLin2's per-feature logging, pbapply progress bar, N/N.not.0 counts and plots are left
# out, so this is a lower bound on MaAsLin2's own time.
#
# Usage: Rscript maaslin2_lm_path.R FEATURES.tsv METADATA.tsv OUT.tsv [TRANSFORM [NORMALIZATION [FIXED,EFFECTS]]]
# Prints "TIME_<what> <seconds>" lines (elapsed, from proc.time) for bench_associate.py.

t_start <- proc.time()[["elapsed"]]
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
})
t_loaded <- proc.time()[["elapsed"]]

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 3) stop("usage: maaslin2_lm_path.R FEATURES.tsv METADATA.tsv OUT.tsv [TRANSFORM [NORMALIZATION [FIXED,EFFECTS]]]")
transform <- if (length(args) >= 4) args[4] else "AST"
normalization <- if (length(args) >= 5) args[5] else "TSS"

# the HMP2 run1 call of MaAsLin2's own test, unless fixed effects are given (comma-separated)
fixed_effects <- if (length(args) >= 6) strsplit(args[6], ",")[[1]] else
  c("diagnosis", "dysbiosisnonIBD", "dysbiosisUC", "dysbiosisCD", "antibiotics", "age")
random_effects <- c("site", "subject")
reference <- list(diagnosis = "nonIBD")
min_abundance <- 0.0
min_prevalence <- 0.1
min_variance <- 0.0
correction <- "BH"

# ---- read (as MaAsLin2: read.table with row names, check.names makes syntactic names) ----
data <- read.table(args[1], header = TRUE, sep = "\t", row.names = 1, comment.char = "",
                   quote = "", check.names = TRUE)
metadata <- read.table(args[2], header = TRUE, sep = "\t", row.names = 1, comment.char = "",
                       quote = "", check.names = TRUE)
t_read <- proc.time()[["elapsed"]]

# ---- samples in both, in the data's order; metadata reduced to the model's variables ----
common <- intersect(rownames(data), rownames(metadata))
data <- data[common, , drop = FALSE]
metadata <- metadata[common, union(fixed_effects, random_effects), drop = FALSE]
for (v in names(reference)) {
  metadata[[v]] <- relevel(factor(metadata[[v]]), ref = reference[[v]])
}

# ---- filter on the table as given, then normalise, then transform ----
min_samples <- nrow(data) * min_prevalence
keep <- colSums(data > min_abundance, na.rm = TRUE) > min_samples
filtered <- data[, keep, drop = FALSE]
filtered <- filtered[, apply(filtered, 2, var, na.rm = TRUE) > min_variance, drop = FALSE]
if (normalization == "TSS") {
  filtered <- as.data.frame(t(apply(filtered, 1, function(x) x / sum(x, na.rm = TRUE))))
} else if (normalization != "NONE") {
  stop("normalization ", normalization, " not implemented here")
}
if (transform == "AST") {
  filtered <- as.data.frame(apply(filtered, 2, function(x) sign(x) * asin(sqrt(abs(x)))))
} else if (transform == "LOG") {
  filtered <- as.data.frame(apply(filtered, 2, function(x) {
    y <- replace(x, x == 0, min(x[x > 0], na.rm = TRUE) / 2)
    log2(y)
  }))
} else if (transform != "NONE") {
  stop("transform ", transform, " not implemented here")
}
features <- filtered

# ---- the formula as MaAsLin2 builds it ----
formula <- as.formula(paste("expr ~", paste(fixed_effects, collapse = " + "), "+",
                            paste0("(1 | ", random_effects, ")", collapse = " + ")))
ctrl <- lmerControl(check.nlev.gtreq.5 = "ignore", check.nobs.vs.rankZ = "ignore",
                    check.nobs.vs.nlev = "ignore", check.nobs.vs.nRE = "ignore")
model_function <- function(formula, data, na.action) {
  lmerTest::lmer(formula, data = data, na.action = na.action, REML = TRUE, control = ctrl)
}
summary_function <- function(fit) {
  lm_summary <- coef(summary(fit))
  para <- as.data.frame(lm_summary)[-1, -c(3:4)]
  para$name <- rownames(lm_summary)[-1]
  para
}
t_prep <- proc.time()[["elapsed"]]

# ---- per-feature fits, as R/fit.R ----
n_warn <- 0L
outputs <- lapply(seq_len(ncol(features)), function(x) {
  dat_sub <- data.frame(expr = as.numeric(features[, x]), metadata)
  fit <- withCallingHandlers(
    tryCatch({
      model_function(formula, data = dat_sub, na.action = na.exclude)
    }, error = function(err) {
      try({model_function(formula, data = dat_sub, na.action = na.exclude)})
    }),
    warning = function(w) { n_warn <<- n_warn + 1L; invokeRestart("muffleWarning") },
    message = function(m) invokeRestart("muffleMessage"))
  output <- list()
  if (!inherits(fit, "try-error")) {
    output$para <- summary_function(fit)
    output$residuals <- residuals(fit)
    output$fitted <- fitted(fit)
    l <- lme4::ranef(fit)
    d <- as.vector(unlist(l))
    names(d) <- unlist(lapply(l, row.names))
    output$ranef <- d
  } else {
    output$para <- as.data.frame(matrix(NA, nrow = ncol(metadata), ncol = 3))
    output$para$name <- colnames(metadata)
  }
  colnames(output$para) <- c("coef", "stderr", "pval", "name")
  output$para$feature <- colnames(features)[x]
  output
})
t_fit <- proc.time()[["elapsed"]]

paras <- do.call(rbind, lapply(outputs, function(o) o$para))
paras$qval <- as.numeric(p.adjust(paras$pval, method = correction))
metadata_names <- colnames(metadata)
metadata_names_ordered <- metadata_names[order(nchar(metadata_names), decreasing = TRUE)]
paras$metadata <- unlist(lapply(paras$name, function(name)
  metadata_names_ordered[mapply(startsWith, name, metadata_names_ordered)][1]))
paras$value <- mapply(function(x, y) if (x == y) x else gsub(x, "", y), paras$metadata, paras$name)
paras <- paras[order(paras$qval, decreasing = FALSE), c("feature", "metadata", "value", "coef", "stderr", "pval", "qval")]
rownames(paras) <- NULL
t_done <- proc.time()[["elapsed"]]

write.table(paras, args[3], sep = "\t", quote = FALSE, row.names = FALSE)
cat(sprintf("VERSIONS R %s, lme4 %s, lmerTest %s\n", paste(R.version$major, R.version$minor, sep = "."),
            packageDescription("lme4")$Version, packageDescription("lmerTest")$Version))
cat(sprintf("FEATURES %d features x %d samples, %d model warnings\n", ncol(features), nrow(features), n_warn))
cat(sprintf("TIME_LOAD_PACKAGES %.3f\n", t_loaded - t_start))
cat(sprintf("TIME_READ %.3f\n", t_read - t_loaded))
cat(sprintf("TIME_PREPROCESS %.3f\n", t_prep - t_read))
cat(sprintf("TIME_FIT %.3f\n", t_fit - t_prep))
cat(sprintf("TIME_BH_SORT %.3f\n", t_done - t_fit))
cat(sprintf("TIME_ANALYSIS %.3f\n", t_done - t_read))
