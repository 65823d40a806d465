"""Learning-rate schedules (pure Python, no kernel): ``f(lr0, epoch, ...) -> lr``.

The same formulas serve per-epoch and per-mini-batch decay (pass the step count as
``epoch``). :func:`staircase` turns any of them into a step-wise schedule.
"""
import math

from ._validation import as_float

__all__ = ["inverse_time_decay", "exponential_decay", "inverse_sqrt_decay", "staircase"]


def _lr0_epoch(where, lr0, epoch, min_epoch=0.0):
    return (as_float(where, "lr0", lr0, low=0.0),
            as_float(where, "epoch", epoch, low=min_epoch))


def inverse_time_decay(lr0, epoch, decay_rate):
    """``lr0 / (1 + decay_rate * epoch)``.

    Parameters
    ----------
    lr0 : float
        Initial learning rate, >= 0.
    epoch : int or float
        >= 0.
    decay_rate : float
        >= 0.

    Returns
    -------
    lr : float
    """
    lr0, epoch = _lr0_epoch("inverse_time_decay", lr0, epoch)
    decay_rate = as_float("inverse_time_decay", "decay_rate", decay_rate, low=0.0)
    return lr0 / (1.0 + decay_rate * epoch)


def exponential_decay(lr0, epoch, base=0.95):
    """``base ** epoch * lr0``.

    Parameters
    ----------
    lr0 : float
        Initial learning rate, >= 0.
    epoch : int or float
        >= 0.
    base : float
        Decay factor per epoch, in (0, 1].

    Returns
    -------
    lr : float
    """
    lr0, epoch = _lr0_epoch("exponential_decay", lr0, epoch)
    base = as_float("exponential_decay", "base", base, low=0.0, high=1.0, low_open=True)
    return base ** epoch * lr0


def inverse_sqrt_decay(lr0, epoch, k):
    """``k / sqrt(epoch) * lr0``.

    Parameters
    ----------
    lr0 : float
        Initial learning rate, >= 0.
    epoch : int or float
        >= 1 (the formula is infinite at 0).
    k : float
        >= 0.

    Returns
    -------
    lr : float
    """
    lr0, epoch = _lr0_epoch("inverse_sqrt_decay", lr0, epoch, min_epoch=1.0)
    k = as_float("inverse_sqrt_decay", "k", k, low=0.0)
    return k / math.sqrt(epoch) * lr0


def staircase(schedule, time_interval):
    """Step-wise version of ``schedule``: the decay advances once every ``time_interval``.

    Parameters
    ----------
    schedule : callable
        ``schedule(lr0, epoch, *args) -> lr``, e.g. :func:`inverse_time_decay`.
    time_interval : int or float
        Epochs per stair, > 0.

    Returns
    -------
    f : callable
        ``f(lr0, epoch, *args) = schedule(lr0, floor(epoch / time_interval), *args)``.

    Examples
    --------
    >>> f = staircase(inverse_time_decay, 1000)
    >>> f(0.5, 2500, 1.0)   # two stairs: 0.5 / (1 + 1 * 2)
    0.16666666666666666
    """
    if not callable(schedule):
        raise TypeError(f"staircase: schedule must be callable; got {type(schedule).__name__}")
    time_interval = as_float("staircase", "time_interval", time_interval, low=0.0,
                             low_open=True)

    def stepped(lr0, epoch, *args):
        epoch = as_float("staircase", "epoch", epoch, low=0.0)
        return schedule(lr0, math.floor(epoch / time_interval), *args)

    stepped.__name__ = f"staircase_{getattr(schedule, '__name__', 'schedule')}"
    stepped.__doc__ = (f"{stepped.__name__}(lr0, epoch, *args): {stepped.__name__[10:]} "
                       f"advanced every {time_interval:g} epochs.")
    return stepped
