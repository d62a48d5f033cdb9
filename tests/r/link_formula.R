# Reference numbers for tests/test_link_formula.py (run by hand; CI has no R):
#   Rscript tests/r/link_formula.R [path/to/shared]
# Written with R 4.2.2 (lme4 1.1-31, lmerTest 3.1-3). Prints Python literals.
#
# 1. R's model.matrix on a deterministic toy frame: column names, column sums and sums
#    weighted by the row number (1..n), for formulas with interactions.
# 2. lmerTest::lmer on ../shared/data/maaslin2_hmp2 (TSS over all features, log2 with zeros at
#    half the feature's smallest positive value, age z-scored, diagnosis reference nonIBD):
#    y ~ diagnosis * age + antibiotics + (1 | subject), REML.
args <- commandArgs(trailingOnly = TRUE)
shared <- if (length(args)) args[1] else file.path("..", "shared")  # run from the repository root

n <- 30; k <- 0:(n - 1)
toy <- data.frame(a = factor(c("x", "y", "z")[k %% 3 + 1]),
                  b = factor(c("p", "q")[(k %/% 3) %% 2 + 1]),
                  u = sin(k + 1), v = cos(2 * k + 1), w = (k %% 5) - 2 + k / 7)
formulas <- c("~a*b", "~a:b", "~u:a", "~u + u:a", "~a + u:a", "~b + a + a:b", "~u*v*a", "~a*b*u",
              "~u:v", "~a:b:u + a", "~b:a + a*b", "~u + a:b", "~(a + b):(u + v)", "~(u + v + w)^2",
              "~a/u", "~(a + b)/u", "~u*(a + v)", "~a*b:u", "~b:a + u", "~a:u:v + u:v")
cat("R_MODEL_MATRIX = {\n")
for (f in formulas) {
  mm <- model.matrix(as.formula(f), toy)
  cat(sprintf('    "%s": ([%s],\n        [%s],\n        [%s]),\n', f,
              paste0('"', colnames(mm), '"', collapse = ", "),
              paste(sprintf("%.12g", colSums(mm)), collapse = ", "),
              paste(sprintf("%.12g", colSums(mm * seq_len(n))), collapse = ", ")))
}
cat("}\n")

if (requireNamespace("lmerTest", quietly = TRUE) && dir.exists(shared)) {
  x <- read.delim(file.path(shared, "data", "maaslin2_hmp2", "HMP2_taxonomy.tsv"), row.names = 1,
                  check.names = FALSE)
  m <- read.delim(file.path(shared, "data", "maaslin2_hmp2", "HMP2_metadata.tsv"), row.names = 1)
  m <- m[rownames(x), ]
  x <- x / rowSums(x)
  m$diagnosis <- factor(m$diagnosis, levels = c("nonIBD", setdiff(unique(m$diagnosis), "nonIBD")))
  m$age <- as.numeric(scale(m$age))
  cat("LMER = {\n")
  for (f in c("Bacteroides stercoris", "Alistipes putredinis", "Faecalibacterium prausnitzii")) {
    y <- x[[f]]
    m$y <- log2(ifelse(y == 0, min(y[y > 0]) / 2, y))
    fit <- suppressMessages(lmerTest::lmer(y ~ diagnosis * age + antibiotics + (1 | subject), data = m, REML = TRUE))
    s <- coef(summary(fit))
    cat(sprintf('    "%s": {\n', f))
    for (i in seq_len(nrow(s)))
      cat(sprintf('        "%s": (%.12g, %.12g, %.12g),\n', rownames(s)[i], s[i, 1], s[i, 2], s[i, 3]))
    cat("    },\n")
  }
  cat("}\n")
}
