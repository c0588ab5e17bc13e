"""Console output in TMVA's spirit: ``Source : message`` lines, a header per stage, a
progress bar on terminals. ``Silent`` keeps everything but errors quiet."""

import sys
import time

_SOURCE_WIDTH = 24


class Log:
    def __init__(self, silent=False, verbose=False, color=False, progress_bar=True,
                 stream=None):
        self.silent = silent
        self.verbose_on = verbose
        self.stream = stream or sys.stdout
        terminal = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.color = color and terminal
        self.progress_bar = progress_bar and terminal

    def _write(self, text):
        if not self.silent:
            print(text, file=self.stream, flush=True)

    def info(self, source, message):
        for line in str(message).splitlines() or [""]:
            self._write(f"{source:<{_SOURCE_WIDTH}}: {line}")

    def verbose(self, source, message):
        if self.verbose_on:
            self.info(source, message)

    def note(self, source, message):
        self.info(source, f"note: {message}")

    def header(self, source, message):
        text = f"{source:<{_SOURCE_WIDTH}}: {message}"
        if self.color:
            text = f"\033[1m{text}\033[0m"
        self._write("")
        self._write(text)

    def progress(self, total, label):
        return _Progress(self, total, label)


class _Progress:
    """A one-line progress bar, drawn only on a terminal and when not Silent."""

    def __init__(self, log, total, label):
        self.log = log
        self.total = max(1, int(total))
        self.label = label
        self.done = 0
        self.start = time.perf_counter()
        self.active = log.progress_bar and not log.silent

    def __enter__(self):
        return self

    def update(self, count):
        self.done += count
        if not self.active:
            return
        fraction = min(1.0, self.done / self.total)
        width = 30
        bar = "#" * int(fraction * width) + "." * (width - int(fraction * width))
        elapsed = time.perf_counter() - self.start
        self.log.stream.write(f"\r{self.label:<{_SOURCE_WIDTH}}: [{bar}] {fraction:4.0%} "
                              f"{elapsed:6.1f} s")
        self.log.stream.flush()

    def __exit__(self, *exc):
        if self.active:
            self.log.stream.write("\r" + " " * (_SOURCE_WIDTH + 52) + "\r")
            self.log.stream.flush()
        return False
