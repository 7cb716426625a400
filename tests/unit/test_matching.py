"""Matching semantics: the DESIGN.md rules, on made-up and on real abstracts."""

from __future__ import annotations

import random
import re

import pytest

from paperboy.matching import QueryError, Term, make_term, parse
from paperboy.matching.matcher import Matcher, PaperMatch, field_text, highlight, merge_spans
from paperboy.matching.text import is_acronym, normalize, original_span, stem, tokenize
from paperboy.models import (
    MAX_ABSTRACT,
    MAX_AI_SUMMARY,
    MAX_NAME,
    MAX_NAMES,
    MAX_TITLE,
    Paper,
    Span,
)
from tests.seed_corpus import load_seed_papers

SEED = load_seed_papers()


def paper(title: str = "", abstract: str = "", **kw: object) -> Paper:
    return Paper(id=kw.pop("id", "p"), title=title, abstract=abstract, **kw)  # type: ignore[arg-type]


def matches(query: str, p: Paper) -> bool:
    return bool(Matcher.compile([("k", query)]).match([p]))


def only(query: str, p: Paper) -> PaperMatch:
    found = Matcher.compile([("k", query)]).match([p])
    assert list(found) == ["k"] and len(found["k"]) == 1
    return found["k"][0]


def marked(text: str, spans: tuple[Span, ...]) -> list[str]:
    return [text[s.start : s.end] for s in spans]


# --- the DESIGN.md examples ---------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("LoRA", "We fine-tune with QLoRA on one GPU."),
        ("LoRA", "LoRAPrune: pruning meets low-rank tuning"),
        ("LoRA", "DyLoRA trains for a range of ranks"),
        ("LoRA", "LoRA's rank matters"),
        ("ViT", "MobileViTv2 is light"),
        ("ViT", "a ViT-B/16 backbone"),
        ("SLAM", "Hi-SLAM: scaling up"),
        ("MoE", "Dynamic_MoE layers"),
        ("GPTQ", "We compare with GPTQ and AWQ."),
        ("quantization", "the quantized model"),
        ("quantization", "quantizing weights"),
        ("Quantization", "QUANTIZATION".lower()),
        ("parallelism", "tensor parallel training"),
        ("pipeline parallelism", "Pipeline-Parallel Training at Scale"),
        ("pipeline parallelism", "pipeline/parallel"),
        ("experts", "one expert per token"),
        ("mixture of experts", "a sparse Mixture-of-Experts layer"),
        ("mixture of experts", "a mixture of expert models"),
        ("mixture of experts", "mixture–of–experts (en dashes)"),
        ("Pipeline Parallelism", "pipeline parallelism"),
        ("pipeline-parallel", "pipeline parallelism"),
        ("LoRA adapters", "QLoRA adapters"),
        ("sparse MoE layers", "sparse SMoE layer"),
    ],
)
def test_design_examples_match(query: str, text: str) -> None:
    assert matches(query, paper(abstract=text)), (query, text)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("LoRA", "efficient exploration of the space"),
        ("LoRA", "LORA in capitals is a different word"),
        ("LoRA", "lora"),
        ("ViT", "sensitivity analysis"),
        ("ViT", "VIT"),
        ("MoE", "AmoebaLLM adapts"),
        ("SLAM", "Islam"),
        ("quantization", "a quantitative study"),
        ("quantization", "we quantify the gap"),
        ("parallelism", "parallelogram"),
        ("experts", "expertise"),
        ("mixture of experts", "experts of mixture"),
        ("mixture of experts", "mixture of many experts"),
        ("pipeline parallelism", "pipeline, tensor and data parallelism"),
        ("LoRA adapters", "LoRA and adapters"),
        ("model", "modelzoo"),
    ],
)
def test_design_examples_do_not_match(query: str, text: str) -> None:
    assert not matches(query, paper(abstract=text)), (query, text)


def test_lower_case_term_is_whole_word_and_case_insensitive() -> None:
    assert matches("lora", paper(abstract="We use LoRA."))
    assert not matches("lora", paper(abstract="We use QLoRA."))
    assert not matches("lora", paper(abstract="exploration"))


def test_acronym_in_a_phrase_matches_inside_a_token() -> None:
    p = paper(abstract="We train QLoRA-adapted models and LoRA models.")
    assert marked(p.abstract, only("LoRA adapted model", p).spans["abstract"]) == [
        "QLoRA-adapted models"
    ]


# --- real abstracts -------------------------------------------------------------------


def _texts(p: Paper) -> str:
    return f"{p.title}\n{p.abstract}"


def test_seed_corpus_loads() -> None:
    assert len(SEED) >= 120
    assert SEED[0].id == "seed.0001"
    assert len({p.id for p in SEED}) == len(SEED)
    assert all(p.title and len(p.abstract) > 200 for p in SEED)
    assert not any(p.title in {"new", "Subscribe"} for p in SEED)


def test_lora_on_real_abstracts_is_exactly_the_case_sensitive_occurrences() -> None:
    found = {pm.paper.id for pm in Matcher.compile([("k", "LoRA")]).match(SEED).get("k", [])}
    expected = {p.id for p in SEED if "LoRA" in _texts(p)}
    assert found == expected and len(found) >= 3
    exploring = [p for p in SEED if "exploration" in _texts(p) and "LoRA" not in _texts(p)]
    assert exploring, "the seed file should contain 'exploration'"
    assert not found & {p.id for p in exploring}


def test_vit_never_matches_sensitivity_in_real_abstracts() -> None:
    found = {pm.paper.id for pm in Matcher.compile([("k", "ViT")]).match(SEED).get("k", [])}
    assert found == {p.id for p in SEED if "ViT" in _texts(p)}
    sensitive = [p for p in SEED if re.search(r"sensitivity", _texts(p), re.I)]
    assert sensitive
    assert all(p.id not in found for p in sensitive if "ViT" not in _texts(p))


def test_quantization_on_real_abstracts() -> None:
    found = {
        pm.paper.id for pm in Matcher.compile([("k", "quantization")]).match(SEED).get("k", [])
    }
    expected = {p.id for p in SEED if re.search(r"\bquantiz", _texts(p), re.I)}
    assert found == expected and found
    quantify = [p for p in SEED if re.search(r"\bquantif", _texts(p), re.I)]
    assert quantify and all(p.id not in found for p in quantify if p.id not in expected)
    quantitative = paper(abstract="A quantitative evaluation of " + SEED[0].abstract)
    assert not matches("quantization", quantitative)


def test_mixture_of_experts_on_real_abstracts() -> None:
    hyphenated = [p for p in SEED if "Mixture-of-Experts" in p.abstract]
    assert hyphenated
    found = {
        pm.paper.id
        for pm in Matcher.compile([("k", "mixture of experts")]).match(SEED).get("k", [])
    }
    assert {p.id for p in hyphenated} <= found
    pm = only("mixture of experts", hyphenated[0])
    assert "Mixture-of-Experts" in marked(hyphenated[0].abstract, pm.spans["abstract"])


def test_moe_does_not_match_amoeba() -> None:
    amoeba = [p for p in SEED if "Amoeba" in _texts(p)]
    assert amoeba
    for p in amoeba:
        pm = Matcher.compile([("k", "MoE")]).match([p])
        if pm:
            spans = pm["k"][0].spans
            text = {"title": p.title, "abstract": p.abstract}
            assert all("Amoeba" not in text[f][s.start : s.end] for f in spans for s in spans[f])


# An independent, slow restatement of the rules, to check the compiled index against.


def _prepare(text: str) -> tuple[list[int], list, list[str], int]:
    normal, index = normalize(text)
    tokens = tokenize(normal)
    return index, tokens, [stem(t.surface) for t in tokens], len(text)


def _reference_spans(term: Term, prepared: tuple[list[int], list, list[str], int]) -> list:
    index, tokens, stems, length = prepared
    out = []
    n = len(term.words)
    wanted = [(is_acronym(w), w if is_acronym(w) else stem(w)) for w in term.words]
    for i in range(len(tokens) - n + 1):
        for k, (acronym, word) in enumerate(wanted):
            if not (word in tokens[i + k].surface if acronym else word == stems[i + k]):
                break
        else:
            out.append(original_span(index, tokens[i].start, tokens[i + n - 1].end, length))
    return out


def _vocabulary(rng: random.Random) -> list[str]:
    tokens = [t.surface for p in SEED for t in tokenize(normalize(p.abstract)[0])]
    singles = rng.sample(sorted(set(tokens)), 100)
    phrases = []
    for _ in range(100):
        i = rng.randrange(len(tokens) - 3)
        phrases.append(" ".join(tokens[i : i + rng.choice((2, 3))]))
    acronyms = sorted({w for w in tokens if is_acronym(w)})
    pieces = sorted({w[: rng.randint(2, len(w))] for w in acronyms if len(w) > 2})
    return singles + phrases + rng.sample(pieces, min(40, len(pieces))) + acronyms[:40]


def test_compiled_index_agrees_with_the_reference_on_real_abstracts() -> None:
    rng = random.Random(7)
    vocabulary = _vocabulary(rng)
    terms = [make_term(v) for v in vocabulary]
    subs = [(i, term.text) for i, term in enumerate(terms) if term is not None]
    result = Matcher.compile(subs).match(SEED)
    prepared = {p.id: {f: _prepare(getattr(p, f)) for f in ("title", "abstract")} for p in SEED}
    checked = 0
    for key, text in subs:
        term = make_term(text)
        assert term is not None
        got = {pm.paper.id: pm for pm in result.get(key, [])}
        for p in SEED:
            want = {
                field: merge_spans(_reference_spans(term, prepared[p.id][field]))
                for field in ("title", "abstract")
            }
            want = {f: s for f, s in want.items() if s}
            if want:
                checked += 1
                assert p.id in got, (text, p.id)
                assert got[p.id].spans == want, (text, p.id)
                assert got[p.id].matched_terms == (term.text,)
            else:
                assert p.id not in got, (text, p.id)
    assert checked > 500


# --- boolean and field semantics --------------------------------------------------------


P = paper(
    title="Efficient LoRA Tuning",
    abstract="We study quantization of mixture of experts models.",
    authors=("Tri Dao", "Ada Lovelace"),
    ai_summary="A survey of sparse adapters.",
    ai_keywords=("parameter-efficient fine-tuning", "MoE"),
    id="x",
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("LoRA AND quantization", True),
        ("LoRA AND diffusion", False),
        ("diffusion OR quantization", True),
        ("diffusion, quantization", True),
        ("LoRA -survey", False),  # survey is in ai_summary, a default field
        ("LoRA NOT diffusion", True),
        ("LoRA -diffusion", True),
        ("(diffusion, LoRA) AND NOT (survey, GAN)", False),
        ("(diffusion, LoRA) AND NOT (GAN, VAE)", True),
        ("title:LoRA", True),
        ("abstract:LoRA", False),
        ("title:quantization", False),
        ("abstract:quantization", True),
        ("abstract:(LoRA, experts)", True),
        ("title:(quantization, experts)", False),
        ("LoRA -title:LoRA", False),
        ("LoRA -abstract:LoRA", True),
        ("author:Dao", True),
        ("author:tri dao", True),
        ('author:"Dao Ada"', False),  # a phrase does not run from one author into the next
        ("Dao", False),  # authors only under author:
        ("Lovelace", False),
        ("author:LoRA", False),
        ("title:Dao", False),
        ("sparse adapters", True),  # ai_summary
        ("title:sparse", False),
        ("fine tuning", True),  # ai_keywords
        ("MoE", True),  # ai_keywords
        ("efficient fine tuning", True),
        ('"fine tuning MoE"', False),  # not across two keywords
        ("title:LoRA AND author:Lovelace AND abstract:experts", True),
    ],
)
def test_boolean_and_fields(query: str, expected: bool) -> None:
    assert matches(query, P) is expected, query


def test_spans_per_field_refer_to_the_original_field_text() -> None:
    pm = only("author:Lovelace, fine tuning, MoE, LoRA, survey", P)
    assert pm.matched_terms == ("Lovelace", "fine tuning", "MoE", "LoRA", "survey")
    texts = {name: field_text(P, name) for name in pm.spans}
    assert texts["authors"] == "Tri Dao, Ada Lovelace"
    assert {name: marked(texts[name], spans) for name, spans in pm.spans.items()} == {
        "title": ["LoRA"],
        "ai_summary": ["survey"],
        "ai_keywords": ["fine-tuning", "MoE"],
        "authors": ["Lovelace"],
    }


def test_matched_terms_are_the_positive_terms_that_made_it_true_in_query_order() -> None:
    pm = only("(GAN AND quantization), experts, LoRA -diffusion", P)
    assert pm.matched_terms == ("experts", "LoRA")
    assert "quantization" not in pm.matched_terms
    assert "abstract" in pm.spans and marked(P.abstract, pm.spans["abstract"]) == ["experts"]


def test_duplicate_terms_show_once() -> None:
    pm = only("LoRA, title:LoRA", P)
    assert pm.matched_terms == ("LoRA",)


# --- the compiled matcher -------------------------------------------------------------------


def test_many_subscriptions_share_one_matcher() -> None:
    papers = [
        paper("QLoRA", "low-rank adapters", id="a"),
        paper("Sparse MoE", "mixture-of-experts routing", id="b"),
        paper("Diffusion", "image generation", id="c"),
        paper("LoRA for MoE", "both", id="d"),
    ]
    subs = [
        ("lora", "LoRA"),
        ("moe", "MoE, mixture of experts"),
        ("both", "LoRA AND MoE"),
        ("none", "reinforcement learning"),
        ("again", "LoRA"),
        ("moe2", parse("mixture of experts")),
    ]
    result = Matcher.compile(subs).match(papers)
    ids = {key: [pm.paper.id for pm in lst] for key, lst in result.items()}
    assert ids == {
        "lora": ["a", "d"],
        "again": ["a", "d"],
        "moe": ["b", "d"],
        "moe2": ["b"],
        "both": ["d"],
    }
    assert "none" not in result
    assert result["moe"][0].matched_terms == ("MoE", "mixture of experts")


def test_one_key_with_several_queries_gets_one_match_per_paper() -> None:
    papers = [paper("QLoRA and MoE", id="a"), paper("MoE only", id="b")]
    result = Matcher.compile([("chan", "LoRA"), ("chan", "MoE"), ("chan", "LoRA")]).match(papers)
    assert [pm.paper.id for pm in result["chan"]] == ["a", "b"]
    first = result["chan"][0]
    assert first.matched_terms == ("LoRA", "MoE")
    assert marked("QLoRA and MoE", first.spans["title"]) == ["QLoRA", "MoE"]


def test_bad_query_raises_on_compile() -> None:
    with pytest.raises(QueryError):
        Matcher.compile([("a", "LoRA"), ("b", "(unclosed")])


def test_empty_inputs() -> None:
    assert Matcher.compile([]).match([paper("LoRA")]) == {}
    assert Matcher.compile([("k", "LoRA")]).match([]) == {}
    assert Matcher.compile([("k", "LoRA")]).match([paper("", "")]) == {}


def test_input_order_of_papers_is_kept() -> None:
    papers = [paper(f"LoRA {i}", id=str(i)) for i in range(20)]
    rng = random.Random(3)
    rng.shuffle(papers)
    result = Matcher.compile([("k", "LoRA")]).match(papers)
    assert [pm.paper.id for pm in result["k"]] == [p.id for p in papers]


def test_hostile_text_is_inert() -> None:
    text = "<!channel> <@U123> *LoRA* `MoE` " + "\u0301" * 5000 + " ＬｏＲＡ " + "a" * 10_000
    pm = only("LoRA", paper(abstract=text))
    assert marked(text, pm.spans["abstract"]) == ["LoRA", "ＬｏＲＡ"]


# --- spans through NFKC, and highlight() -------------------------------------------------------


def test_spans_map_back_through_ligatures_and_fullwidth() -> None:
    title = "Eﬃcient ＬｏＲＡ ﬁne-tuning"
    pm = only("efficient, LoRA, fine tuning", paper(title))
    assert marked(title, pm.spans["title"]) == ["Eﬃcient", "ＬｏＲＡ", "ﬁne-tuning"]


def test_highlight_merges_and_sorts() -> None:
    text = "Sparse Mixture-of-Experts (MoE) with QLoRA; experts and more experts."
    spans = highlight(text, ["experts", "mixture of experts", "LoRA", "MoE", "Sparse"])
    assert spans == tuple(sorted(spans, key=lambda s: s.start))
    assert marked(text, spans) == [
        "Sparse",
        "Mixture-of-Experts",
        "MoE",
        "QLoRA",
        "experts",
        "experts",
    ]


def test_highlight_accepts_terms_and_strings() -> None:
    q = parse("title:ﬁne-tuning, ViT")
    text = "ﬁne-tuning a MobileViTv2"
    assert marked(text, highlight(text, q.terms)) == ["ﬁne-tuning", "MobileViTv2"]
    assert highlight(text, []) == ()
    assert highlight("", ["ViT"]) == ()
    assert highlight(text, ["!!!"]) == ()


def test_highlight_matched_terms_round_trip() -> None:
    p = paper("Pipeline-Parallel Training", "We use pipeline parallelism.")
    pm = only("pipeline-parallelism", p)
    assert pm.matched_terms == ("pipeline-parallelism",)
    assert marked(p.abstract, highlight(p.abstract, pm.matched_terms)) == ["pipeline parallelism"]


def test_merge_spans() -> None:
    assert merge_spans([(5, 7), (0, 2), (1, 3), (3, 4), (9, 9)]) == (
        Span(0, 4),
        Span(5, 7),
        Span(9, 9),
    )


# --- the compiled matcher against a plain per-paper evaluation ---------------------------

_FIELD_ALLOWED = {
    None: ("title", "abstract", "ai_summary", "ai_keywords"),
    "title": ("title",),
    "abstract": ("abstract",),
    "author": ("authors",),
}


def _reference_field_spans(term: Term, p: Paper, field: str) -> list[tuple[int, int]]:
    values = {
        "title": [p.title],
        "abstract": [p.abstract],
        "ai_summary": [p.ai_summary] if p.ai_summary else [],
        "ai_keywords": list(p.ai_keywords),
        "authors": list(p.authors),
    }[field]
    out, offset = [], 0
    for value in values:
        out += [(s + offset, e + offset) for s, e in _reference_spans(term, _prepare(value))]
        offset += len(value) + 2
    return out


def _reference_match(query: str, p: Paper) -> PaperMatch | None:
    from paperboy.matching import And, Not, Or

    q = parse(query)
    spans = {
        t: {f: _reference_field_spans(t, p, f) for f in _FIELD_ALLOWED[t.field]} for t in q.terms
    }
    present = {t for t in q.terms if any(spans[t].values())}

    def walk(node: object) -> set[Term] | None:
        if isinstance(node, Term):
            return {node} if node in present else None
        if isinstance(node, Not):
            return None if walk(node.child) is not None else set()
        assert isinstance(node, And | Or)
        results = [walk(c) for c in node.children]
        if isinstance(node, And):
            return None if any(r is None for r in results) else set().union(*results)
        true = [r for r in results if r is not None]
        return set().union(*true) if true else None

    found = walk(q.root)
    if found is None:
        return None
    texts = tuple(dict.fromkeys(t.text for t in q.positive_terms if t in found))
    ranges: dict[str, list[tuple[int, int]]] = {}
    for t in found:
        for f, r in spans[t].items():
            ranges.setdefault(f, []).extend(r)
    return PaperMatch(p, texts, {f: merge_spans(r) for f, r in ranges.items() if r})


def _random_query(rng: random.Random, words: list[str]) -> str:
    def term() -> str:
        n = rng.choice((1, 1, 1, 2, 3))
        i = rng.randrange(len(words) - n)
        text = " ".join(words[i : i + n])
        text = f'"{text}"' if n > 1 and rng.random() < 0.5 else text
        return rng.choice(["", "", "", "title:", "abstract:"]) + text

    shape = rng.random()
    if shape < 0.5:
        return ", ".join(term() for _ in range(rng.randint(1, 4)))
    if shape < 0.7:
        return f"{term()}, {term()} -{rng.choice(words)}"
    if shape < 0.85:
        return f"({term()}, {term()}) AND {term()}"
    return f"{term()} AND NOT ({term()}, {term()})"


def test_compiled_matcher_agrees_with_plain_evaluation() -> None:
    rng = random.Random(11)
    papers = [*SEED[:25], SEED[3]]  # the same paper object twice
    tokens = [t.surface for p in papers[:10] for t in tokenize(normalize(p.abstract)[0])]
    acronyms = sorted({t for p in SEED for t in tokenize(p.title) if is_acronym(t.surface)})
    words = tokens + [a.surface for a in acronyms]
    subs = []
    for _ in range(300):
        key = rng.randrange(200)  # some keys get several queries
        subs.append((key, _random_query(rng, words)))
    result = Matcher.compile(subs).match(iter(papers))
    for key in {k for k, _ in subs}:
        queries = [q for k, q in subs if k == key]
        expected = []
        for p in papers:
            found = [m for q in queries if (m := _reference_match(q, p)) is not None]
            if found:
                texts = tuple(dict.fromkeys(t for m in found for t in m.matched_terms))
                ranges: dict[str, list[tuple[int, int]]] = {}
                for m in found:
                    for f, spans in m.spans.items():
                        ranges.setdefault(f, []).extend((s.start, s.end) for s in spans)
                expected.append(
                    PaperMatch(p, texts, {f: merge_spans(r) for f, r in ranges.items()})
                )
        got = result.get(key, [])
        assert [m.paper.id for m in got] == [m.paper.id for m in expected], queries
        assert [m.matched_terms for m in got] == [m.matched_terms for m in expected], queries
        assert [m.spans for m in got] == [m.spans for m in expected], queries


# --- hostile sizes (issue #10, item 7) -------------------------------------------------


def test_paper_fields_are_capped_where_the_paper_is_made() -> None:
    huge = Paper(
        id="p",
        title="T" * 10_000,
        abstract="y" * 1_000_000,
        authors=("A" * 1_000,) * 20_000,
        ai_summary="s" * 100_000,
        ai_keywords=("k" * 1_000,) * 20_000,
    )
    assert len(huge.title) == MAX_TITLE and len(huge.abstract) == MAX_ABSTRACT
    assert len(huge.ai_summary or "") == MAX_AI_SUMMARY
    for names in (huge.authors, huge.ai_keywords):
        assert len(names) == MAX_NAMES and {len(n) for n in names} == {MAX_NAME}
    # Real sizes are far below the caps and kept as they are.
    for real in SEED:
        assert Paper(**{f: getattr(real, f) for f in real.__slots__}) == real  # type: ignore[attr-defined]
    assert paper("x", "LoRA", authors=("",) * 3).authors == ("",) * 3


@pytest.mark.timeout(120)  # a safety net: this abstract once took 330 s to stem
def test_a_huge_abstract_of_one_long_word_matches_as_text_does() -> None:
    long_word = "y" * 100
    p = paper(
        f"Tuning {long_word} with QLoRA",
        "We study LoRA adapters. " + "y" * 1_000_000 + " quantization",
        id="huge",
    )
    assert len(p.abstract) == MAX_ABSTRACT  # "quantization" was beyond the cap
    found = only("LoRA", p)
    assert marked(p.abstract, found.spans["abstract"]) == ["LoRA"]
    assert marked(p.title, found.spans["title"]) == ["QLoRA"]
    assert not matches("quantization", p)
    # A word beyond the stemming cap matches itself only, in any case, never its forms.
    assert marked(p.title, only(long_word.capitalize(), p).spans["title"]) == [long_word]
    assert not matches("y" * 101, p) and not matches("y" * 99, p)
    assert not matches("y" * 99 + "ies", p)
    assert matches("y" * 99 + "ies", paper("y" * 99 + "ies"))
    assert matches(long_word, paper(f"a-{long_word}-b"))
