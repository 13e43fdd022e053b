"""Chinese-aware text analysis shared by every search backend.

Index side: jieba search-mode words + CJK unigrams and bigrams (what Elasticsearch's ``cjk``
analyzer produces) + lower-cased alphanumeric tokens, with NPK grades such as ``15-15-15`` kept
whole. Query side: each query word must match either as a jieba word or through all its bigrams,
so "吉单" finds "吉单27" and "玉米种子" finds "玉米 种子".
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import jieba

jieba.setLogLevel(logging.WARNING)

GRADE_RE = re.compile(r"\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?){1,3}")
CJK_RUN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
TOKEN_RE = re.compile(r"^[\w.\-]+$")
CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def load_dictionary() -> None:
    """Load jieba's dictionary now (otherwise the first segmentation in a process does, ~0.5 s)."""
    jieba.initialize()


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def _clean(token: str) -> str | None:
    token = token.strip().strip(".-")
    if not token or not TOKEN_RE.match(token) or token == "_":
        return None
    return token


def _bigrams(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)]


def index_tokens(*texts: str) -> list[str]:
    """Ordered, de-duplicated tokens for the stored ``search_text``."""
    seen: dict[str, None] = {}
    for text in texts:
        text = normalise(text)
        for grade in GRADE_RE.findall(text):
            seen.setdefault(grade, None)
        rest = GRADE_RE.sub(" ", text)
        for word in jieba.cut_for_search(rest):
            token = _clean(word)
            if token:
                seen.setdefault(token, None)
        for run in CJK_RUN_RE.findall(rest):
            for ch in run:
                seen.setdefault(ch, None)
            for bigram in _bigrams(run):
                seen.setdefault(bigram, None)
    return list(seen)


def index_text(*texts: str) -> str:
    """Space-separated tokens, padded with spaces so `LIKE '% tok %'` matches whole tokens."""
    tokens = index_tokens(*texts)
    return f" {' '.join(tokens)} " if tokens else ""


@dataclass(frozen=True)
class Clause:
    """One query word: matches if any alternative matches; an alternative is an AND of lexemes."""

    word: str
    alternatives: tuple[tuple[str, ...], ...]


def query_clauses(query: str) -> list[Clause]:
    text = normalise(query)
    clauses: list[Clause] = []
    for grade in GRADE_RE.findall(text):
        clauses.append(Clause(grade, ((grade,),)))
    rest = GRADE_RE.sub(" ", text)
    seen: set[str] = set()
    for word in jieba.cut(rest):
        token = _clean(word)
        if not token or token in seen:
            continue
        seen.add(token)
        alternatives: list[tuple[str, ...]] = [(token,)]
        if CJK_RE.search(token) and len(token) > 2 and CJK_RUN_RE.fullmatch(token):
            alternatives.append(tuple(_bigrams(token)))
        clauses.append(Clause(token, tuple(alternatives)))
    return clauses


def to_tsquery(clauses: Iterable[Clause]) -> str:
    """A PostgreSQL ``to_tsquery`` string (each lexeme quoted; grades become phrases)."""

    def lit(lexeme: str) -> str:
        return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"

    parts = []
    for clause in clauses:
        alts = ["(" + " & ".join(lit(x) for x in alt) + ")" for alt in clause.alternatives]
        parts.append("(" + " | ".join(alts) + ")")
    return " & ".join(parts)
