"""The test receiver itself: it records what arrives and answers as scripted."""

from __future__ import annotations

import pytest
import requests

from tests.receivers import Reply, unused_port


def test_receiver_records_method_path_headers_and_body(receiver):
    # given a receiver answering 200 by default
    # when a client posts to it
    response = requests.post(receiver.url("/hook?x=1"), data=b'{"a": 1}', headers={"X-Test": "yes"}, timeout=5)

    # then the answer is 200 and the request is recorded as sent
    assert response.status_code == 200
    [request] = receiver.wait_for(1)
    assert request.method == "POST"
    assert request.url_path == "/hook"
    assert request.query == {"x": ["1"]}
    assert request.header("x-test") == "yes"
    assert request.json() == {"a": 1}


def test_receiver_answers_from_its_script(receiver):
    # given a default reply and two queued ones
    receiver.respond_with(status=500, body={"error": "down"})
    receiver.respond_next(Reply(status=201), Reply(status=429, headers={"Retry-After": "7"}))

    # when three requests arrive
    statuses = [requests.get(receiver.url(), timeout=5) for _ in range(3)]

    # then the queued replies come first, then the default
    assert [response.status_code for response in statuses] == [201, 429, 500]
    assert statuses[1].headers["Retry-After"] == "7"
    assert statuses[2].json() == {"error": "down"}


def test_receiver_can_hang_and_close_connections(receiver):
    # given a receiver that hangs, then one that drops the connection
    receiver.respond_next(Reply(hang=True), Reply(close=True))

    # then a client sees a read timeout, then a connection error
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(receiver.url(), timeout=(1, 0.3))
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(receiver.url(), timeout=5)
    assert len(receiver.wait_for(2)) == 2


def test_wait_for_fails_when_too_few_arrive(receiver):
    with pytest.raises(AssertionError):
        receiver.wait_for(1, timeout_s=0.1)


def test_unused_port_refuses_connections():
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{unused_port()}/", timeout=2)
