#!/usr/bin/env Rscript
# Reference numbers for tests/test_link_lme4_path.py::test_single_random_intercept_matches_lme4.
# MaAsLin2's LM path with one random intercept, (1 | subject), on the HMP2 example:
# filter (> 10% of samples above 0), TSS, LOG (zeros -> half the feature's smallest positive value),
# lmerTest::lmer(expr ~ diagnosis + dysbiosis + antibiotics + age + (1 | subject), REML = TRUE).
# Run: Rscript tests/r/lmer_single_intercept.R ../shared/data/maaslin2_hmp2
# Printed with R 4.2.2, lme4 1.1-31, lmerTest 3.1-3 (Debian bookworm r-cran-lme4, r-cran-lmertest).
suppressPackageStartupMessages({ library(lme4); library(lmerTest) })
base <- commandArgs(trailingOnly = TRUE)[1]
data <- read.table(file.path(base, "HMP2_taxonomy.tsv"), header = TRUE, sep = "\t", row.names = 1,
                   comment.char = "", quote = "", check.names = TRUE)
md <- read.table(file.path(base, "HMP2_metadata.tsv"), header = TRUE, sep = "\t", row.names = 1,
                 comment.char = "", quote = "", check.names = TRUE)
common <- intersect(rownames(data), rownames(md)); data <- data[common, ]; md <- md[common, ]
md$diagnosis <- relevel(factor(md$diagnosis), ref = "nonIBD")
data <- data[, colSums(data > 0) > nrow(data) * 0.1]
data <- as.data.frame(t(apply(data, 1, function(x) x / sum(x))))
for (f in c("Faecalibacterium.prausnitzii", "Bacteroides.vulgatus", "Escherichia.coli")) {
  x <- data[[f]]
  d <- data.frame(expr = log2(replace(x, x == 0, min(x[x > 0]) / 2)), md)
  fit <- lmer(expr ~ diagnosis + dysbiosis + antibiotics + age + (1 | subject), data = d, REML = TRUE)
  cf <- coef(summary(fit))
  cat(sprintf("%s theta %.12g REML %.12g\n", f, getME(fit, "theta"), REMLcrit(fit)))
  for (i in seq_len(nrow(cf))) cat(sprintf("  %s coef %.12g se %.12g df %.10g\n", rownames(cf)[i], cf[i, 1], cf[i, 2], cf[i, 3]))
}
