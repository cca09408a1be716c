"""What every platform's sub-command shares: ``--list-cases`` lists the named cases with the answer a correct
receiver gives, and ``--case NAME`` sends exactly those cases (the command a contract failure prints)."""

from __future__ import annotations

import json

import pytest
import responses

from simulator.cli import main

URL = "https://receiver.test/stock-push"


@pytest.mark.parametrize(("channel", "required", "case"), [
    ("stock", ["--url", URL], "length-mismatch"),
    ("s360", ["--url", URL], "id-missing"),
    ("servicemobility", ["--url", URL], "missing-id"),
    ("erp", ["--amqp-url", "amqp://nowhere"], "not-json"),
])
def test_list_cases_names_each_case_with_its_expected_answer(capsys: pytest.CaptureFixture[str], channel: str,
                                                            required: list[str], case: str) -> None:
    assert main([channel, *required, "--list-cases"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[0]: line for line in lines}
    assert case in listed and ("SHOULD" in listed[case] or "MUST" in listed[case])


@pytest.mark.parametrize("channel", ["stock", "s360", "servicemobility", "erp"])
def test_an_unknown_case_is_refused_before_anything_is_sent(capsys: pytest.CaptureFixture[str], channel: str) -> None:
    required = ["--amqp-url", "amqp://nowhere"] if channel == "erp" else ["--url", URL]
    assert main([channel, *required, "--case", "no-such-case"]) == 2
    assert "no case named no-such-case" in capsys.readouterr().err


@responses.activate
def test_case_sends_exactly_the_named_cases(capsys: pytest.CaptureFixture[str]) -> None:
    responses.add(responses.POST, URL, status=422, json={"error": {"status": 422}})
    code = main(["stock", "--url", URL, "--header", "X-Key: k", "--case", "length-mismatch",
                 "--case", "bad-date"])
    assert code == 0, capsys.readouterr().out
    assert len(responses.calls) == 2
    columns = [json.loads(call.request.body)["data"] for call in responses.calls]
    assert len({len(v) for v in columns[0].values()}) > 1  # length-mismatch: the columns disagree
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("length-mismatch") and "2 pushes, 0 unexpected" in out
