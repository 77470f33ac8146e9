"""Command templates: placeholders, optional fragments, reference checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelworks.errors import SpecError
from modelworks.jobs._render import check_references, render


def test_placeholders_and_optional_fragments() -> None:
    command = (
        "python t.py --data ${{inputs.data}} --lr ${{ inputs.lr }} $[[--seed ${{inputs.seed}}]]"
        " --out ${{outputs.model}} --depth ${{search_space.depth}}"
    )
    values = {
        "inputs": {"data": "/d", "lr": "0.1"},
        "outputs": {"model": "/o"},
        "search_space": {"depth": "4"},
    }
    assert render(command, values) == "python t.py --data /d --lr 0.1  --out /o --depth 4"
    values["inputs"]["seed"] = "7"
    assert "--seed 7" in render(command, values)


def test_check_references_names_every_problem() -> None:
    with pytest.raises(SpecError) as info:
        check_references(
            "echo ${{inputs.a}} ${{outputs.b}} ${{input.c}} ${{inputs.opt}}",
            inputs=["x", "opt"],
            outputs=[],
            optional=["opt"],
        )
    problems = info.value.details["problems"]
    assert len(problems) == 4
    assert "names no input 'a' (the job has: opt, x)" in problems[0]
    assert "names no output 'b' (the job has: none)" in problems[1]
    assert "unknown kind 'input'" in problems[2]
    assert "optional and has no value" in problems[3]
    check_references("echo $[[--o ${{inputs.opt}}]]", inputs=["opt"], outputs=[], optional=["opt"])


@given(st.text(alphabet=st.characters(blacklist_characters="$]{}"), max_size=40))
def test_values_are_substituted_verbatim(value: str) -> None:
    assert render("a ${{inputs.v}} b", {"inputs": {"v": value}}) == f"a {value} b"
