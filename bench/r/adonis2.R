#!/usr/bin/env Rscript
# vegan::adonis2 on a distance matrix written by bench/bench_permanova.py.
#
# Usage: Rscript adonis2.R MATRIX.f64 N LABELS.txt PERMUTATIONS [SEED [PLOTS.txt]]
#   MATRIX.f64: the square N x N distance matrix as little-endian float64, row-major
#               (numpy's ndarray.tofile; symmetric, so the order does not matter);
#   LABELS.txt: one group label per line, in the matrix's row order;
#   PLOTS.txt:  one block (subject) label per line: whole blocks are permuted, as
#               how(plots = Plots(strata = block, type = "free"), within = Within(type = "none")).
# Only the adonis2 call is timed (proc.time, elapsed); reading the file and as.dist() are timed
# separately. Prints "KEY value" lines for the Python script.

t_start <- proc.time()[["elapsed"]]
suppressPackageStartupMessages(library(vegan))
t_loaded <- proc.time()[["elapsed"]]

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 4) stop("usage: adonis2.R MATRIX.f64 N LABELS.txt PERMUTATIONS [SEED [PLOTS.txt]]")
n <- as.integer(args[2])
perms <- as.integer(args[4])
seed <- if (length(args) >= 5) as.integer(args[5]) else 1L

con <- file(args[1], "rb")
m <- matrix(readBin(con, what = "double", n = n * n, size = 8, endian = "little"), n, n)
close(con)
group <- readLines(args[3])
stopifnot(length(group) == n)
meta <- data.frame(group = factor(group))
control <- perms
if (length(args) >= 6) {
  plots <- factor(readLines(args[6]))
  stopifnot(length(plots) == n)
  control <- how(plots = Plots(strata = plots, type = "free"), within = Within(type = "none"), nperm = perms)
}
t_read <- proc.time()[["elapsed"]]
d <- as.dist(m)
rm(m); invisible(gc())
t_dist <- proc.time()[["elapsed"]]

set.seed(seed)
res <- adonis2(d ~ group, data = meta, permutations = control)
t_done <- proc.time()[["elapsed"]]

cat(sprintf("VERSIONS R %s vegan %s\n", paste(R.version$major, R.version$minor, sep = "."),
            packageDescription("vegan")$Version))
cat(sprintf("F %.15g\n", res$F[1]))
cat(sprintf("R2 %.15g\n", res$R2[1]))
cat(sprintf("P %.6g\n", res[["Pr(>F)"]][1]))
cat(sprintf("TIME_LOAD_PACKAGES %.3f\n", t_loaded - t_start))
cat(sprintf("TIME_READ %.3f\n", t_read - t_loaded))
cat(sprintf("TIME_AS_DIST %.3f\n", t_dist - t_read))
cat(sprintf("TIME_ADONIS2 %.3f\n", t_done - t_dist))
