"""Reports: Markdown (and PNG plots) under `reports/`, rendered from the database alone."""
