"""The worked examples in docs/fertilizer-calculator.md are exact answers of calc.handle()."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from plugins.fertilizer.agronomy.calc import CalcError, handle

DOC = Path(__file__).resolve().parents[3] / "docs" / "fertilizer-calculator.md"


def _examples():
    text = DOC.read_text(encoding="utf-8")
    blocks = [(m.start(), m.end(), m.group(1)) for m in re.finditer(r"```json\n(.*?)\n```", text, re.S)]
    out = []
    for i, (_start, end, body) in enumerate(blocks):
        data = json.loads(body)
        if not (isinstance(data, dict) and "method" in data and "notes" not in data):
            continue  # not a request
        following = text[end : blocks[i + 1][0] if i + 1 < len(blocks) else len(text)]
        if following.strip().startswith("Answer:"):
            out.append((data, ("answer", json.loads(blocks[i + 1][2]))))
        else:
            m = re.search(r"field `([^`]*)`, code `([^`]*)`", following)
            assert m, f"request without answer or error in docs: {body[:80]}"
            out.append((data, ("error", (m.group(1), m.group(2)))))
    return out


EXAMPLES = _examples()


def test_docs_have_examples_for_every_method():
    methods = {req["method"] for req, _ in EXAMPLES}
    assert methods == {"nutrient_balance", "yield_difference", "effect_function", "fit_3414", "blend"}


@pytest.mark.parametrize(
    ("request_", "expected"), EXAMPLES, ids=[f"{r['method']}-{i}" for i, (r, _) in enumerate(EXAMPLES)]
)
def test_doc_example_is_exact(request_, expected):
    kind, value = expected
    if kind == "answer":
        assert handle(request_) == value
    else:
        with pytest.raises(CalcError) as e:
            handle(request_)
        assert (e.value.field, e.value.code) == value
