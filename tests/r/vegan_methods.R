# vegan references for tests/test_measure_aitchison.py and tests/test_measure_rarefaction.py.
# Usage: Rscript tests/r/vegan_methods.R MODE INPUT.tsv OUTPUT.tsv [ARG]
#   MODE robust.aitchison  vegdist(x, "robust.aitchison")
#   MODE aitchison         vegdist(x, "aitchison", pseudocount = ARG)
#   MODE rclr              decostand(x, "rclr")
#   MODE rarefy            rarefy(x, sample = ARG) (exact expected richness)
# INPUT: samples x features, first column the sample IDs. Output: 17 significant digits.
suppressPackageStartupMessages(library(vegan))
args <- commandArgs(trailingOnly = TRUE)
mode <- args[1]
x <- as.matrix(read.delim(args[2], row.names = 1, check.names = FALSE))
out <- switch(mode,
  "robust.aitchison" = as.matrix(vegdist(x, method = "robust.aitchison")),
  "aitchison" = as.matrix(vegdist(x, method = "aitchison", pseudocount = as.numeric(args[4]))),
  "rclr" = as.matrix(decostand(x, method = "rclr")),
  "rarefy" = {
    r <- rarefy(x, sample = as.numeric(args[4]))
    matrix(r, ncol = 1, dimnames = list(rownames(x), "richness"))
  },
  stop("unknown mode ", mode))
txt <- apply(out, 2, function(v) sprintf("%.17g", v))
txt <- matrix(txt, nrow = nrow(out), dimnames = dimnames(out))
write.table(txt, args[3], sep = "\t", quote = FALSE, col.names = NA)
cat("vegan", as.character(packageVersion("vegan")), "\n")
