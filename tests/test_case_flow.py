from __future__ import annotations

import datetime as dt
import itertools

import pytest

from bot.services import case_flow as flow

LEGAL = {
    (flow.NEW, "accept"): flow.HANDLING,
    (flow.HANDLING, "reply"): flow.ANSWERED,
    (flow.ANSWERED, "close"): flow.CLOSED,
    (flow.HANDLING, "send_back"): flow.NEW,
    (flow.NEW, "withdraw"): flow.WITHDRAWN,
    (flow.HANDLING, "withdraw"): flow.WITHDRAWN,
    (flow.ANSWERED, "reopen"): flow.HANDLING,
    (flow.CLOSED, "reopen"): flow.HANDLING,
    (flow.HANDLING, "transfer"): flow.HANDLING,
    (flow.CLOSED, "rate"): flow.CLOSED,
}


@pytest.mark.parametrize("state,action", sorted(LEGAL))
def test_legal_transitions(state, action):
    assert flow.check(action, state) == LEGAL[(state, action)]


def test_every_other_transition_is_refused():
    refused = 0
    for state, action in itertools.product(flow.STATES, flow.TRANSITIONS):
        transition = flow.TRANSITIONS[action]
        if state in transition.sources:
            continue
        with pytest.raises(flow.IllegalTransition):
            flow.check(action, state)
        refused += 1
    assert refused > 30
    for action in ("reply", "close", "reopen", "accept", "withdraw"):
        with pytest.raises(flow.IllegalTransition):
            flow.check(action, flow.WITHDRAWN)
    with pytest.raises(flow.IllegalTransition):
        flow.check("delete", flow.NEW)


def test_deadlines_per_class():
    received = dt.date(2026, 11, 25)  # a Wednesday
    assert flow.deadline("咨询", received) == dt.date(2026, 11, 30)
    assert flow.deadline("投诉", received) == dt.date(2026, 12, 16)
    assert flow.deadline("咨询", received, {**flow.DEFAULT_DEADLINES, "咨询": 1}) == \
        dt.date(2026, 11, 26)
    with pytest.raises(ValueError):
        flow.deadline("闲聊", received)


def test_disclosure_extension_and_correction():
    assert flow.extended_deadline(dt.date(2026, 9, 30), 3) == dt.date(2026, 10, 10)
    for bad in (0, 21):
        with pytest.raises(ValueError):
            flow.extended_deadline(dt.date(2026, 9, 30), bad)
    assert flow.restarted_deadline(dt.date(2026, 9, 30)) == \
        flow.deadline("依申请公开", dt.date(2026, 9, 30))


def test_case_number_is_short_and_readable():
    assert flow.case_number(dt.date(2026, 11, 25), 7) == "20261125-0007"
