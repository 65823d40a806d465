"""fastdl.nn: layers, losses, a Sequential model and a training loop on the public fastdl ops.

Everything here calls only the public ops (``fastdl.conv2d``, ``fastdl.linear``, ...), so a
model runs on the native kernels or on the NumPy reference following ``fastdl.backend``.

>>> import numpy as np
>>> from fastdl import nn
>>> model = nn.Sequential([nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Linear(8, 3, rng=1)])
>>> X, y = np.zeros((10, 4), np.float32), np.zeros(10, np.int64)
>>> history = nn.fit(model, X, y, epochs=1, batch_size=5, optimizer="adam", progress=False)
"""
from .layers import (AvgPool2D, BatchNorm, Conv2D, Dropout, Flatten, GlobalAvgPool2D, Layer,
                     LeakyReLU, Linear, MaxPool2D, ReLU, Sigmoid, Tanh)
from .losses import BinaryCrossEntropy, Loss, SoftmaxCrossEntropy
from .model import Sequential
from .training import Progress, evaluate, fit, predict

__all__ = ["Layer", "Linear", "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D",
           "BatchNorm", "Dropout", "Flatten", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
           "Loss", "SoftmaxCrossEntropy", "BinaryCrossEntropy", "Sequential",
           "fit", "predict", "evaluate", "Progress"]
