"""Reports: a self-contained HTML page (inline CSS, JS and SVG figures) plus TSV/JSON files of
every number it shows, for one person's sample or for a cohort.

gutaxis informs and never diagnoses: a personal report is for a conversation with a clinician
or a registered dietitian.
"""

from .html import DISCLAIMER, write_report

__all__ = ["DISCLAIMER", "write_report"]
