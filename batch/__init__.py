"""Batch tools: the headline-score CLI, its file formats, the Dask job and page audits."""
