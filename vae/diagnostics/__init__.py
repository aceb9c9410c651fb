"""Where a model is good or bad: per-image fit, the prior against the aggregate posterior, posterior
clouds, selections, two models compared, and the training time-lapse. NumPy and PyTorch only.

`per_image` (−ELBO and its terms for every image), `cache` (those values for bundles built without
them), `colour` (what the map can be coloured by), `prior` (prior samples and the aggregate
posterior), `posterior` (samples of q(z|x)), `selection` (summaries and downloads of a set of
images), `compare` (two bundles on one test set), `timelapse` (the live map of every epoch, bounded), `filters`
(which images a filter keeps), `annotations` (named selections, tags and metadata kept in the user's
folder), `metadata` (the user's CSV of index -> columns, read within bounds).
"""
