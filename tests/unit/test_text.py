"""Normalisation, tokenising, stemming: the ground both query and paper text stand on."""

from __future__ import annotations

import random
import sys
import threading
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperboy.matching.text import (
    BREAK_CHARS,
    MAX_STEM_LENGTH,
    Token,
    _stem,
    escape_controls,
    first_control,
    is_acronym,
    normalize,
    original_span,
    stem,
    tokenize,
)


def words(text: str) -> list[str]:
    return [t.surface for t in tokenize(normalize(text)[0])]


def test_ascii_text_keeps_positions() -> None:
    text, index = normalize("pipeline-parallel/tensor_parallel")
    assert text == "pipeline parallel tensor parallel"
    assert index == list(range(len(text)))


@pytest.mark.parametrize("dash", ["-", "‐", "‑", "‒", "–", "—", "―", "−", "﹣", "－", "⸺"])
def test_dashes_are_word_breaks(dash: str) -> None:
    assert words(f"Mixture{dash}of{dash}Experts") == ["Mixture", "of", "Experts"]


def test_every_unicode_dash_is_a_word_break() -> None:
    dashes = [chr(cp) for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) == "Pd"]
    assert len(dashes) > 20
    for dash in dashes:
        normal, _ = normalize(f"a{dash}b")
        assert not any(c.isalnum() for c in normal[1:-1]), repr(dash)
        assert normal[0] == "a" and normal[-1] == "b"
        assert dash in BREAK_CHARS or unicodedata.normalize("NFKC", dash) in BREAK_CHARS


@pytest.mark.parametrize("text", ["GPU/TPU", "GPU／TPU", "GPU⁄TPU", "GPU_TPU", "GPU＿TPU"])
def test_slashes_and_underscores_are_word_breaks(text: str) -> None:
    assert words(text) == ["GPU", "TPU"]


def test_nfkc_ligature_maps_back() -> None:
    original = "ﬁne-tuning"
    text, index = normalize(original)
    assert text == "fine tuning"
    assert index[:3] == [0, 0, 1]
    assert len(index) == len(text)
    tok = tokenize(text)[0]
    start, end = original_span(index, tok.start, tok.end, len(original))
    assert original[start:end] == "ﬁne"


def test_nfkc_fullwidth_maps_back() -> None:
    original = "the ＬｏＲＡ adapter"
    text, index = normalize(original)
    assert text == "the LoRA adapter"
    tok = tokenize(text)[1]
    start, end = original_span(index, tok.start, tok.end, len(original))
    assert original[start:end] == "ＬｏＲＡ"


def test_span_ending_inside_an_expansion_covers_the_whole_character() -> None:
    original = "xﬁy"
    text, index = normalize(original)
    assert text == "xfiy"
    # "xf" ends halfway through the ligature: the ligature is included.
    assert original_span(index, 0, 2, len(original)) == (0, 2)
    assert original_span(index, 2, 4, len(original)) == (1, 3)


def test_combining_marks_compose() -> None:
    original = "nai\u0308ve model"
    text, index = normalize(original)
    assert text == "naïve model"
    assert index[2] == 2 and index[3] == 4  # "ï" comes from "i" + U+0308
    assert words(original) == ["naïve", "model"]


def test_hangul_jamo_compose() -> None:
    original = "\u1100\u1161\u11a8 x"
    text, _ = normalize(original)
    assert text == unicodedata.normalize("NFKC", original)


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_normalize_index_is_consistent(original: str) -> None:
    text, index = normalize(original)
    assert len(index) == len(text)
    assert index == sorted(index)
    assert all(0 <= i < len(original) for i in index)
    for tok in tokenize(text):
        start, end = original_span(index, tok.start, tok.end, len(original))
        assert 0 <= start < end <= len(original)


def test_tokens_are_runs_of_letters_and_digits() -> None:
    assert tokenize("Wav2Vec 2.0, GPT-4!") == [
        Token(0, 7, "Wav2Vec"),
        Token(8, 9, "2"),
        Token(10, 11, "0"),
        Token(13, 16, "GPT"),
        Token(17, 18, "4"),
    ]
    assert words("Über λ-ECLIPSE 多模态") == ["Über", "λ", "ECLIPSE", "多模态"]


def test_apostrophes_inside_words_stay() -> None:
    assert words("LoRA's ``mining'' isn't 'quoted'") == ["LoRA's", "mining", "isn't", "quoted"]
    assert words("LoRA’s") == ["LoRA's"]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("quantization", "quantized"),
        ("quantization", "quantizing"),
        ("Quantization", "quantizes"),
        ("parallelism", "parallel"),
        ("experts", "expert"),
        ("Pipeline", "pipelines"),
        ("model's", "model"),
    ],
)
def test_stem_equal(a: str, b: str) -> None:
    assert stem(a) == stem(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("quantization", "quantitative"), ("quantization", "quantify"), ("exploration", "lora")],
)
def test_stem_different(a: str, b: str) -> None:
    assert stem(a) != stem(b)


@settings(max_examples=2000)
@given(st.text(min_size=1, max_size=20))
def test_a_stem_starts_with_its_words_first_letter_lower_cased(text: str) -> None:
    """The matcher skips words whose first letter starts none of its first stems, unstemmed
    (paperboy.matching.matcher._Scanner.scan): that relies on this."""
    for word in words(text):
        assert stem(word)[:1] == word.lower()[:1]


@pytest.mark.parametrize("word", ["dying", "lying", "skies", "news", "İstanbul", "ǅemal", "K"])
def test_snowball_exceptions_keep_the_first_letter(word: str) -> None:
    assert stem(word)[:1] == word.lower()[:1]


@pytest.mark.timeout(60)  # a safety net: stemming 800,000 "y"s took 80 s
def test_words_beyond_the_cap_are_lower_cased_not_stemmed() -> None:
    assert MAX_STEM_LENGTH == 64
    at_cap = "a" * (MAX_STEM_LENGTH - 3) + "ing"
    assert stem(at_cap) == at_cap[:-3]  # still stemmed
    beyond = "A" * (MAX_STEM_LENGTH - 2) + "ing"
    assert stem(beyond) == beyond.lower()  # the stemmer would have cut "ing"
    assert stem("y" * 100) == "y" * 100  # the stemmer turns the last "y" into "i"
    assert stem("Y" * 800_000) == "y" * 800_000


def test_escape_controls_shows_what_a_query_may_not_hold() -> None:
    text = "a\x00b\x1b[31mc\x7f\x85\u202e\u2069\ud800 é\u200e"
    assert escape_controls(text) == "a\\x00b\\x1b[31mc\\x7f\\x85\\u202e\\u2069\\ud800 é\u200e"
    assert first_control(text) == 1 and first_control("LoRA\u200e é") is None


@pytest.mark.parametrize("word", ["LoRA", "ViT", "MoE", "GPTQ", "SLAM", "LLMs", "3D", "iOS"])
def test_acronyms(word: str) -> None:
    assert is_acronym(word)


@pytest.mark.parametrize("word", ["lora", "Pipeline", "A", "x86", "quantization", "", "Über"])
def test_not_acronyms(word: str) -> None:
    assert not is_acronym(word)


def test_long_runs_of_combining_marks_stay_linear() -> None:
    original = "a" + "\u0301" * 100_000 + "漢b"
    text, index = normalize(original)
    assert len(text) == len(index)
    assert text.endswith("漢b") and index[-1] == len(original) - 1


def test_stemming_from_many_threads_at_once_gives_the_same_stems() -> None:
    """Matching runs in worker threads (planner, commands) as well as on the event loop;
    Snowball's stemmer keeps its word in its own state, so each thread needs its own."""
    rng = random.Random(1)
    suffixes = ["ing", "ed", "ation", "ness", "ly", "s", "izing", "ational"]
    words = [
        "".join(rng.choice("abcdefghilmnoprstuyz") for _ in range(rng.randint(4, 14)))
        + rng.choice(suffixes)
        for _ in range(20_000)
    ]
    expected = {w: _stem.__wrapped__(w) for w in words}  # one thread, no cache
    _stem.cache_clear()
    wrong: list[str] = []
    failures: list[BaseException] = []

    def work(part: list[str]) -> None:
        try:
            wrong.extend(w for w in part if stem(w) != expected[w])
        except BaseException as error:  # reported below
            failures.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=work, args=(words[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
        _stem.cache_clear()
    assert failures == [] and wrong == []
