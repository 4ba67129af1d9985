"""Deadlines for candidate fits: a fork server with the libraries preloaded, and a child process
per fit that is killed when the search's budget runs out."""

from __future__ import annotations


def start_fork_server() -> None:
    """Start the fork server now (it imports scikit-learn for a second or two) so it is ready by
    the time the second candidate needs it; the first runs in this process meanwhile."""
    import multiprocessing
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(FORKSERVER_PRELOAD))
    forkserver.ensure_running()


def candidate_timeout(remaining: float, *, first_of_family: bool) -> float:
    """Time a candidate may take: a family's first candidate (cost unknown) gets half of what is
    left, so one slow family cannot eat the whole budget."""
    return remaining / 2 if first_of_family else remaining


#: Imported once by the fork server so each candidate process starts warm.
FORKSERVER_PRELOAD = (
    "labelloop.components.core.train",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.naive_bayes",
    "sklearn.pipeline",
    "sklearn.compose",
    "sklearn.feature_extraction.text",
    "sklearn.svm",
    "sklearn.calibration",
)


class CandidateTimeout(TimeoutError):
    """A candidate's fit was stopped because the search budget ran out."""


def run_with_deadline(function, seconds: float):
    """Run ``function()`` (picklable) in a child process; return its result, killing it after ``seconds``.

    This is what makes the budget strict: a fit that would overrun is stopped, not awaited.
    Children come from a fork server with the libraries preloaded, not from a plain fork of this
    process: a process that already used OpenMP (e.g. predicted with a boosting model) would
    deadlock its forked children. Errors raised by ``function`` are re-raised as ValueError.
    """
    import multiprocessing

    if seconds <= 0:
        raise CandidateTimeout("no budget left")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(FORKSERVER_PRELOAD))
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child_main, args=(function, sender), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            raise CandidateTimeout(f"candidate still fitting after {seconds:.1f}s")
        status, value = receiver.recv()
    except EOFError:
        status, value = "error", f"candidate process died (exit code {child.exitcode})"
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()
    if status == "error":
        raise ValueError(value)
    return value


def _child_main(function, sender) -> None:
    try:
        result = ("ok", function())
    except Exception as err:  # noqa: BLE001 - any failure is reported to the parent, which raises it there
        result = ("error", f"{type(err).__name__}: {err}")
    sender.send(result)
    sender.close()
