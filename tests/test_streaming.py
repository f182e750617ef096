"""The SSE bridge: a service call's deltas become events, then its result or an error."""

from __future__ import annotations

import json
import threading
import time

from service.core.errors import NotFound
from service.generation.generate import OnDelta
from service.schemas import UsageOut
from service.server.streaming import events


def test_deltas_then_the_final_result() -> None:
    def run(on_delta: OnDelta) -> UsageOut:
        for piece in ("Hello ", "world"):
            on_delta(piece)
        return UsageOut(llm_calls=1, prompt_tokens=2, completion_tokens=3)

    got = list(events(run))
    assert [e["event"] for e in got] == ["delta", "delta", "final"]
    assert json.loads(got[0]["data"]) == {"text": "Hello "}
    assert json.loads(got[-1]["data"])["completion_tokens"] == 3


def test_a_failure_after_the_stream_started_is_an_error_event_in_the_error_shape() -> None:
    def run(on_delta: OnDelta) -> UsageOut:
        on_delta("partial")
        raise NotFound("the paper went away; GET /papers lists the ids")

    got = list(events(run))
    assert [e["event"] for e in got] == ["delta", "error"]
    assert json.loads(got[-1]["data"]) == {
        "error": {
            "code": "not_found",
            "message": "the paper went away; GET /papers lists the ids",
            "type": "not_found_error",
            "param": None,
        }
    }


def test_a_client_that_leaves_stops_the_generation_at_its_next_delta() -> None:
    stopped = threading.Event()
    produced: list[int] = []

    def run(on_delta: OnDelta) -> UsageOut:
        try:
            for i in range(1000):
                produced.append(i)
                on_delta(f"{i} ")
                time.sleep(0.001)
        finally:
            stopped.set()
        return UsageOut.zero()

    stream = events(run)
    assert next(stream)["event"] == "delta"
    stream.close()  # the client went away
    assert stopped.wait(5) and len(produced) < 1000
