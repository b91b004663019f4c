"""Autoregressive density models: p(x) = prod_i p(x_i | x_<i) in raster order (row by row,
left to right, channel last), with an exact log-likelihood.

``independent`` (no dependencies, the baseline), ``fvsbn`` (fully-visible sigmoid belief net),
``nade`` (Larochelle & Murray 2011), ``nade-oa`` (order-agnostic deep NADE and ensembles of
orderings, Uria et al. 2014), ``pixelcnn`` (van den Oord et al. 2016), ``pixelcnn-gated`` (the
gated two-stack PixelCNN without blind spot, van den Oord et al. 2016b), ``pixelrnn-row`` and
``pixelrnn-diag`` (Row LSTM and Diagonal BiLSTM, van den Oord et al. 2016). All share
:class:`~genzoo.models.autoregressive._common.AutoregressiveModel`: Bernoulli or K-way
categorical pixels (``likelihood``), ``log_prob``, and ``sample(n, fast=...)`` where ``fast``
reuses earlier computation and ``fast=False`` reruns the whole network for every pixel.
"""
