"""Analysis in worker processes: same results as in the main process, in order, failures handed back."""

from __future__ import annotations

from intake.domain import DocType
from intake.pipeline.analysis import Analysis, analyse, analyse_all
from tests.bot import protocol_mail

OWN = frozenset({"kvalitetsutmarkelsen@stockholm.se"})


def test_workers_give_the_same_analysis_in_order() -> None:
    raws = {pk: protocol_mail(units=(f"Enhet {pk}",)).raw for pk in range(1, 7)}
    results = list(analyse_all(list(raws), raws.__getitem__, OWN, workers=2))
    assert [pk for pk, _ in results] == list(raws)
    for pk, result in results:
        assert isinstance(result, Analysis)
        assert result == analyse(raws[pk], OWN)
        assert result.understandings[0].doc_type is DocType.PROTOCOL
        assert f"Enhet {pk}" in result.understandings[0].text


def test_small_batches_and_one_worker_stay_in_the_main_process() -> None:
    assert list(analyse_all([1, 2], bytes, OWN, workers=2)) == [(1, None), (2, None)]
    assert [r for _, r in analyse_all(list(range(6)), bytes, OWN, workers=1)] == [None] * 6


def test_a_failure_in_a_worker_comes_back_for_that_mail_only() -> None:
    good = protocol_mail().raw
    load = {1: good, 2: good, 3: None, 4: good, 5: good}.__getitem__  # None: analyse raises in the worker
    results = dict(analyse_all([1, 2, 3, 4, 5], load, OWN, workers=2))  # type: ignore[arg-type]
    assert isinstance(results[3], TypeError)
    assert all(isinstance(results[pk], Analysis) for pk in (1, 2, 4, 5))
