"""The sources' HTTP helper, its pure parts: cleaning server text, bounded decoding,
Retry-After and backoff, and the retry loop's log lines."""

from __future__ import annotations

import logging
import random
import zlib

import pytest

from paperboy.sources.http_client import (
    Retrier,
    RetriesExhausted,
    Transient,
    _Decoder,
    backoff_delay,
    retry_after_seconds,
    untrusted,
)


def test_untrusted_text_is_one_short_clean_line() -> None:
    hostile = "\x1b]8;;https://evil.example/\x07link\x1b]8;;\x07\n\x1b[2J\u202egnp.exe\u2066x\x9b1m"
    assert untrusted(hostile) == "]8;;https://evil.example/ link ]8;; [2J gnp.exe x 1m"
    assert untrusted("a" * 500) == "a" * 197 + "..."
    assert len(untrusted("word " * 100, 50)) == 50
    assert untrusted(None) == "" and untrusted(b"bytes") == ""
    assert untrusted("half \ud800 pair") == "half \ufffd pair"  # encodable as UTF-8


def test_the_defaults_the_sources_share_are_the_settings_defaults() -> None:
    from paperboy.sources import DEFAULT_MAX_BYTES
    from paperboy_config.settings import Settings

    assert Settings(_env_file=None).http_max_bytes == DEFAULT_MAX_BYTES  # type: ignore[call-arg]


def test_decoding_never_produces_more_than_asked() -> None:
    bomb = zlib.compress(b" " * (64 << 20), 9)  # 64 MiB in about 64 KiB
    decoder = _Decoder("deflate", what="x")
    out = decoder.decode(bomb, 1000)
    assert len(out) == 1001  # one byte past the room: the caller refuses the body


def test_identity_and_unknown_encodings() -> None:
    assert _Decoder("identity", what="x").decode(b"abc", 0) == b"abc"
    with pytest.raises(Exception, match="unsupported Content-Encoding"):
        _Decoder("zstd", what="x")


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("-3", 0.0), ("1e999", 120.0), ("nan", None), ("soon", None), ("", None)],
)
def test_retry_after(header: str, expected: float | None) -> None:
    assert retry_after_seconds(header, 120.0) == expected


def test_backoff_is_full_jitter_under_a_cap() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(rng, retry, 1.0, 5.0) for retry in range(100)]
    assert all(0 <= d <= min(5.0, 2.0**r) for r, d in enumerate(delays))


async def test_each_retry_is_logged_at_info_and_the_last_failure_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    failures = iter([Transient("HTTP 503", cause="503"), Transient("HTTP 429", wait=9.0)])

    async def attempt() -> str:
        raise next(failures, Transient("connection reset", cause="ReadError"))

    retrier = Retrier(2, 0.5, 1.0, sleep=sleep, rng=random.Random(0))
    # Listen on the module's own logger: what other tests left in the logging tree
    # (levels, disabled loggers) must not decide what this test sees.
    logger = logging.getLogger("paperboy.sources.http_client")
    kept = logger.disabled, logger.propagate
    logger.disabled, logger.propagate = False, False  # caplog's handler hears it once
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            with pytest.raises(RetriesExhausted) as err:
                await retrier.run("the thing", attempt)
    finally:
        logger.removeHandler(caplog.handler)
        logger.disabled, logger.propagate = kept
    assert str(err.value) == "the thing failed after 3 tries: connection reset"
    assert waits[1] == 9.0 and 0 <= waits[0] <= 0.5
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert lines == [
        (logging.INFO, f"the thing: HTTP 503; retry 1 of 2 in {waits[0]:.1f} s"),
        (logging.INFO, "the thing: HTTP 429; retry 2 of 2 in 9.0 s"),
    ]
