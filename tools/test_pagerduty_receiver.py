"""Tests of tools/pagerduty_receiver.py, the local PagerDuty Events API v2 contract receiver.

Each test starts the receiver in-process on port 0 with a clock of its own (so the 60-second
rate window needs no waiting) and talks to it over HTTP as a client would; one starts it as
users do, from the command line.
Run: python -m unittest discover -s tools -p 'test_*.py'
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # also run as `python -m unittest tools/test_pagerduty_receiver.py`
    sys.path.insert(0, HERE)

import pagerduty_receiver  # noqa: E402

KEY = "a" * 32
OTHER_KEY = "b" * 32
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def trigger(dedup_key: str | None = "site-1/cam-1", routing_key: str = KEY, **payload) -> dict:
    event = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "payload": {"summary": "cam-1 offline", "source": "cam-1", "severity": "error", **payload},
    }
    if dedup_key is not None:
        event["dedup_key"] = dedup_key
    return event


def follow_up(action: str, dedup_key: str = "site-1/cam-1", routing_key: str = KEY) -> dict:
    return {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class ReceiverTest(unittest.TestCase):
    rate_per_minute = 120
    seed: int | None = 11

    def setUp(self) -> None:
        self.clock = Clock()
        self.start(self.rate_per_minute, self.seed)

    def start(self, rate_per_minute: int, seed: int | None) -> None:
        receiver = pagerduty_receiver.Receiver(rate_per_minute, seed, clock=self.clock)
        server = pagerduty_receiver.make_server(receiver, 0)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        self.base = f"http://127.0.0.1:{server.server_address[1]}"
        self.port = server.server_address[1]

    def call(self, method: str, path: str, body=None, raw: bytes | None = None) -> tuple[int, object]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def send(self, event=None, raw: bytes | None = None) -> tuple[int, dict]:
        return self.call("POST", "/v2/enqueue", event, raw)  # type: ignore[return-value]

    def state(self) -> dict:
        status, body = self.call("GET", "/_receiver/state")
        self.assertEqual(status, 200)
        return body  # type: ignore[return-value]

    def faults(self, rules) -> tuple[int, object]:
        return self.call("POST", "/_receiver/faults", rules)


class EnqueueTest(ReceiverTest):
    def test_a_trigger_is_accepted_with_pagerdutys_success_body(self) -> None:
        status, body = self.send(trigger())
        self.assertEqual(status, 202)
        self.assertEqual(body, {"status": "success", "message": "Event processed", "dedup_key": "site-1/cam-1"})
        state = self.state()
        self.assertEqual(state["accepted"], 1)
        [alert] = state["alerts"]
        self.assertEqual(
            {k: alert[k] for k in ("routing_key", "dedup_key", "status", "opened_at", "resolved_at")},
            {"routing_key": KEY, "dedup_key": "site-1/cam-1", "status": "triggered",
             "opened_at": "2026-01-01T00:00:00.000Z", "resolved_at": None})
        self.assertEqual(alert["events"], [
            {"received_at": "2026-01-01T00:00:00.000Z", "event_action": "trigger", "body": trigger()}])

    def test_pagerdutys_documented_example_is_valid(self) -> None:
        # The trigger example of PagerDuty's "Send an Alert Event", with every optional field.
        example = {
            "payload": {
                "summary": "Example alert on host1.example.com",
                "timestamp": "2015-07-17T08:42:58.315+0000",
                "source": "monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003",
                "severity": "info",
                "component": "postgres",
                "group": "prod-datapipe",
                "class": "deploy",
                "custom_details": {"ping time": "1500ms", "load avg": 0.75},
            },
            "routing_key": KEY,
            "dedup_key": "samplekeyhere",
            "images": [{"src": "https://www.pagerduty.com/logo.png", "href": "https://example.com/",
                        "alt": "Example text"}],
            "links": [{"href": "https://example.com/", "text": "Link text"}],
            "event_action": "trigger",
            "client": "Sample Monitoring Service",
            "client_url": "https://monitoring.example.com",
        }
        self.assertEqual(self.send(example)[0], 202)
        for timestamp in ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123456+02:00", "2026-01-01T00:00"):
            self.assertEqual(self.send(trigger(f"t/{timestamp}", timestamp=timestamp))[0], 202, timestamp)
        # The limits are inclusive: 255 characters of dedup_key and 1024 of summary are fine.
        self.assertEqual(self.send(trigger("k" * 255, summary="s" * 1024))[0], 202)

    def test_invalid_events_are_refused_with_400_and_the_reason(self) -> None:
        def without(event: dict, *path: str) -> dict:
            event = json.loads(json.dumps(event))
            target = event
            for name in path[:-1]:
                target = target[name]
            del target[path[-1]]
            return event

        cases = {
            "routing key missing": (without(trigger(), "routing_key"), "'routing_key' is missing"),
            "routing key of 31": (trigger(routing_key="a" * 31),
                                  "Length of 'routing_key' is incorrect (should be 32 characters)"),
            "routing key of 33": (trigger(routing_key="a" * 33),
                                  "Length of 'routing_key' is incorrect (should be 32 characters)"),
            "routing key not a string": (dict(trigger(), routing_key=32), "'routing_key' must be a string"),
            "action missing": (without(trigger(), "event_action"), "'event_action' is missing"),
            "action unknown": (dict(trigger(), event_action="escalate"), "'event_action' must be one of"),
            "dedup key of 256": (trigger("k" * 256), "'dedup_key' is too long"),
            "dedup key not a string": (trigger(7), "'dedup_key' must be a string"),  # type: ignore[arg-type]
            "acknowledge without dedup key": ({"routing_key": KEY, "event_action": "acknowledge"},
                                              "'dedup_key' is required for acknowledge events"),
            "resolve with a blank dedup key": (follow_up("resolve", ""), "'dedup_key' is required for resolve"),
            "trigger without payload": (without(trigger(), "payload"), "'payload' is required for trigger"),
            "payload not an object": (dict(trigger(), payload="down"), "'payload' must be an object"),
            "summary missing": (without(trigger(), "payload", "summary"), "'payload.summary' is missing"),
            "summary blank": (trigger(summary=" "), "'payload.summary' is missing"),
            "summary of 1025": (trigger(summary="s" * 1025), "'payload.summary' is too long"),
            "source missing": (without(trigger(), "payload", "source"), "'payload.source' is missing"),
            "severity missing": (without(trigger(), "payload", "severity"), "'payload.severity' is missing"),
            "severity unknown": (trigger(severity="fatal"), "'payload.severity' must be one of"),
            "timestamp not ISO 8601": (trigger(timestamp="yesterday"), "'payload.timestamp' must be"),
            "timestamp out of range": (trigger(timestamp="2026-02-30T00:00:00Z"), "'payload.timestamp' must be"),
            "timestamp a date only": (trigger(timestamp="2026-02-03"), "'payload.timestamp' must be"),
            "component not a string": (trigger(component=["eth0"]), "'payload.component' must be a string"),
            "group null": (trigger(group=None), "'payload.group' must be a string"),
            "class not a string": (trigger(**{"class": 3}), "'payload.class' must be a string"),
            "custom details not an object": (trigger(custom_details="x"), "'payload.custom_details' must be"),
            "invalid payload on resolve": (dict(follow_up("resolve"), payload={"summary": 1}),
                                           "'payload.summary' is missing"),
            "images not an array": (dict(trigger(), images={"src": "https://x"}), "'images' must be an array"),
            "image without src": (dict(trigger(), images=[{"alt": "x"}]), "'images[0].src' is missing"),
            "link without href": (dict(trigger(), links=[{"href": "https://x"}, {"text": "x"}]),
                                  "'links[1].href' is missing"),
            "client not a string": (dict(trigger(), client=1), "'client' must be a string"),
        }
        for name, (event, error) in cases.items():
            with self.subTest(name):
                status, body = self.send(event)
                self.assertEqual(status, 400)
                self.assertEqual(body["status"], "invalid event")
                self.assertEqual(body["message"], "Event object is invalid")
                self.assertTrue(any(e.startswith(error) for e in body["errors"]), body["errors"])
        state = self.state()
        self.assertEqual((state["accepted"], state["alerts"], state["dropped"]), (0, [], []))
        self.assertEqual([r["status"] for r in state["refused"]], [400] * len(cases))
        self.assertEqual({r["reason"] for r in state["refused"]}, {"invalid"})
        self.assertEqual(state["refused"][0]["body"], cases["routing key missing"][0])
        self.assertEqual(state["max_per_minute"], {})

    def test_every_error_of_an_event_is_listed(self) -> None:
        status, body = self.send({"routing_key": "short", "event_action": "trigger",
                                  "payload": {"summary": "x", "source": "y", "severity": "bad"}})
        self.assertEqual(status, 400)
        self.assertEqual(len(body["errors"]), 2, body)

    def test_a_body_that_is_no_json_object_is_unrecognized(self) -> None:
        for raw in (b"routing_key=x", b"", b"[1, 2]", b"null", b"\xff\xfe"):
            with self.subTest(raw):
                status, body = self.send(raw=raw)
                self.assertEqual(status, 400)
                self.assertEqual(body["status"], "Unrecognized object")
                self.assertEqual(body["message"], "Event object format is unrecognized")
        self.assertEqual(self.state()["refused"][0]["body"], "routing_key=x")

    def test_a_body_over_512_kb_is_refused(self) -> None:
        event = trigger(custom_details={"blob": "x" * (512 * 1024)})
        status, body = self.send(event)
        self.assertEqual(status, 400)
        self.assertIn("too large", body["errors"][0])
        self.assertEqual(self.state()["accepted"], 0)

    def test_a_connection_is_kept_alive_and_a_chunked_body_is_read(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.addCleanup(connection.close)
        connection.request("POST", "/v2/enqueue", body=b"{not json")
        response = connection.getresponse()
        self.assertEqual(response.status, 400)
        response.read()
        chunks = iter([json.dumps(trigger())[:20].encode(), json.dumps(trigger())[20:].encode()])
        connection.request("POST", "/v2/enqueue", body=chunks, encode_chunked=True)
        response = connection.getresponse()
        self.assertEqual(response.status, 202)
        self.assertEqual(json.loads(response.read())["dedup_key"], "site-1/cam-1")

    def test_other_resources_and_methods_are_refused(self) -> None:
        self.assertEqual(self.call("GET", "/v2/enqueue")[0], 405)
        self.assertEqual(self.call("POST", "/v2/change/enqueue", {})[0], 404)
        self.assertEqual(self.call("PUT", "/_receiver/state", {})[0], 405)


class AlertTest(ReceiverTest):
    def test_a_trigger_for_an_open_alert_is_appended_to_it(self) -> None:
        self.send(trigger())
        self.clock.now += 5
        status, body = self.send(trigger(summary="still offline"))
        self.assertEqual((status, body["dedup_key"]), (202, "site-1/cam-1"))
        [alert] = self.state()["alerts"]
        self.assertEqual([e["body"]["payload"]["summary"] for e in alert["events"]],
                         ["cam-1 offline", "still offline"])
        self.assertEqual(alert["events"][1]["received_at"], "2026-01-01T00:00:05.000Z")
        self.assertEqual(alert["opened_at"], "2026-01-01T00:00:00.000Z")

    def test_alerts_are_keyed_by_routing_key_and_dedup_key(self) -> None:
        self.send(trigger("one"))
        self.send(trigger("two"))
        self.send(trigger("one", routing_key=OTHER_KEY))
        alerts = self.state()["alerts"]
        self.assertEqual([(a["routing_key"], a["dedup_key"]) for a in alerts],
                         [(KEY, "one"), (KEY, "two"), (OTHER_KEY, "one")])

    def test_a_trigger_without_dedup_key_gets_a_new_alert_and_its_key(self) -> None:
        first = self.send(trigger(None))[1]["dedup_key"]
        second = self.send(trigger(""))[1]["dedup_key"]
        self.assertRegex(first, r"^[0-9a-f]{32}$")
        self.assertNotEqual(first, second)
        self.assertEqual([a["dedup_key"] for a in self.state()["alerts"]], [first, second])
        self.assertEqual(self.send(follow_up("resolve", first))[0], 202)
        self.assertEqual([a["status"] for a in self.state()["alerts"]], ["resolved", "triggered"])

    def test_generated_keys_repeat_with_the_seed(self) -> None:
        first = self.send(trigger(None))[1]["dedup_key"]
        self.call("DELETE", "/_receiver/state")
        self.assertEqual(self.send(trigger(None))[1]["dedup_key"], first)
        self.start(120, self.seed)
        self.assertEqual(self.send(trigger(None))[1]["dedup_key"], first)
        self.start(120, self.seed + 1)
        self.assertNotEqual(self.send(trigger(None))[1]["dedup_key"], first)

    def test_resolve_closes_the_alert_and_a_later_trigger_opens_a_new_one(self) -> None:
        self.send(trigger())
        self.clock.now += 30
        status, body = self.send(follow_up("resolve"))
        self.assertEqual((status, body), (202, {"status": "success", "message": "Event processed",
                                                "dedup_key": "site-1/cam-1"}))
        [alert] = self.state()["alerts"]
        self.assertEqual((alert["status"], alert["resolved_at"]), ("resolved", "2026-01-01T00:00:30.000Z"))
        self.assertEqual([e["event_action"] for e in alert["events"]], ["trigger", "resolve"])
        self.clock.now += 30
        self.send(trigger())
        alerts = self.state()["alerts"]
        self.assertEqual([(a["status"], a["opened_at"]) for a in alerts],
                         [("resolved", "2026-01-01T00:00:00.000Z"), ("triggered", "2026-01-01T00:01:00.000Z")])
        self.assertEqual(len(alerts[1]["events"]), 1)

    def test_acknowledge_marks_the_alert_and_a_trigger_keeps_it_acknowledged(self) -> None:
        self.send(trigger())
        self.clock.now += 1
        self.assertEqual(self.send(follow_up("acknowledge"))[0], 202)
        self.assertEqual(self.state()["alerts"][0]["status"], "acknowledged")
        self.assertEqual(self.state()["alerts"][0]["acknowledged_at"], "2026-01-01T00:00:01.000Z")
        self.send(trigger())
        [alert] = self.state()["alerts"]
        self.assertEqual(alert["status"], "acknowledged")
        self.send(follow_up("resolve"))
        [alert] = self.state()["alerts"]
        self.assertEqual(alert["status"], "resolved")
        self.assertEqual([e["event_action"] for e in alert["events"]],
                         ["trigger", "acknowledge", "trigger", "resolve"])
        self.assertEqual(self.state()["dropped"], [])

    def test_acknowledge_and_resolve_without_an_open_alert_are_accepted_and_dropped(self) -> None:
        for action in ("resolve", "acknowledge"):
            status, body = self.send(follow_up(action, "never"))
            self.assertEqual((status, body["status"], body["dedup_key"]), (202, "success", "never"))
        self.send(trigger("closed"))
        self.send(follow_up("resolve", "closed"))
        self.send(follow_up("resolve", "closed"))
        self.send(trigger("elsewhere"))
        self.send(follow_up("resolve", "elsewhere", routing_key=OTHER_KEY))
        state = self.state()
        self.assertEqual(state["accepted"], 7)
        self.assertEqual([(d["event_action"], d["dedup_key"], d["routing_key"]) for d in state["dropped"]], [
            ("resolve", "never", KEY), ("acknowledge", "never", KEY),
            ("resolve", "closed", KEY), ("resolve", "elsewhere", OTHER_KEY)])
        reasons = [d["reason"] for d in state["dropped"]]
        self.assertIn("no alert was ever triggered", reasons[0])
        self.assertIn("is resolved", reasons[2])
        self.assertIn("another routing_key", reasons[3])
        self.assertEqual(state["dropped"][0]["body"], follow_up("resolve", "never"))
        self.assertEqual(state["dropped"][0]["at"], "2026-01-01T00:00:00.000Z")
        # No alert came of them, and the alert open on the first key stays open.
        self.assertEqual([(a["dedup_key"], a["status"], len(a["events"])) for a in state["alerts"]],
                         [("closed", "resolved", 2), ("elsewhere", "triggered", 1)])

    def test_a_resolve_before_its_trigger_leaves_the_alert_open(self) -> None:
        # The failure the PagerDuty module guards against: out of order, the incident never closes.
        self.send(follow_up("resolve"))
        self.send(trigger())
        state = self.state()
        self.assertEqual([a["status"] for a in state["alerts"]], ["triggered"])
        self.assertEqual(len(state["dropped"]), 1)


class RateTest(ReceiverTest):
    rate_per_minute = 3

    def test_events_above_the_rate_per_key_are_refused_with_429(self) -> None:
        for offset in (0, 10, 20):
            self.clock.now = T0 + offset
            self.assertEqual(self.send(trigger(f"k{offset}"))[0], 202)
        self.clock.now = T0 + 30
        status, body = self.send(trigger("k30"))
        self.assertEqual(status, 429)
        self.assertEqual(body["status"], "throttle exceeded")
        # Another routing key has a rate of its own.
        self.assertEqual(self.send(trigger("k30", routing_key=OTHER_KEY))[0], 202)
        state = self.state()
        self.assertEqual(state["accepted"], 4)
        self.assertNotIn("k30", [a["dedup_key"] for a in state["alerts"] if a["routing_key"] == KEY])
        [refused] = state["refused"]
        self.assertEqual((refused["status"], refused["reason"], refused["body"]), (429, "rate", trigger("k30")))
        self.assertEqual(refused["at"], "2026-01-01T00:00:30.000Z")
        self.assertEqual(state["max_per_minute"], {KEY: 3, OTHER_KEY: 1})

    def test_the_window_slides_rather_than_resetting_each_minute(self) -> None:
        for offset in (50, 55, 59):
            self.clock.now = T0 + offset
            self.assertEqual(self.send(trigger(f"k{offset}"))[0], 202)
        # A new calendar minute, but three events in the last 60 seconds: still refused.
        self.clock.now = T0 + 61
        self.assertEqual(self.send(trigger("k61"))[0], 429)
        # 60 seconds after the first, it leaves the window and one more fits.
        self.clock.now = T0 + 110
        self.assertEqual(self.send(trigger("k110"))[0], 202)
        self.assertEqual(self.send(trigger("k110b"))[0], 429)

    def test_refused_calls_do_not_count_toward_the_rate(self) -> None:
        for offset in range(3):
            self.clock.now = T0 + offset
            self.send(trigger(f"k{offset}"))
        for offset in range(3, 60):
            self.clock.now = T0 + offset
            self.assertEqual(self.send(trigger("retry"))[0], 429)
        self.send(dict(trigger("bad"), event_action="escalate"))
        self.clock.now = T0 + 60
        self.assertEqual(self.send(trigger("retry"))[0], 202)

    def test_max_per_minute_is_the_busiest_window_not_the_total(self) -> None:
        self.send(trigger("a"))
        self.send(trigger("b"))
        self.clock.now = T0 + 120
        self.send(trigger("c"))
        self.assertEqual(self.state()["max_per_minute"], {KEY: 2})
        self.clock.now = T0 + 121
        self.send(trigger("d"))
        self.send(trigger("e"))
        self.assertEqual(self.state()["max_per_minute"], {KEY: 3})

    def test_follow_ups_count_toward_the_rate(self) -> None:
        self.send(trigger())
        self.send(follow_up("acknowledge"))
        self.send(follow_up("resolve", "never"))
        self.assertEqual(self.send(follow_up("resolve"))[0], 429)
        self.assertEqual(self.state()["alerts"][0]["status"], "acknowledged")


class FaultTest(ReceiverTest):
    def test_a_counted_fault_answers_its_status_that_many_times(self) -> None:
        status, rules = self.faults({"status": 500, "count": 2})
        self.assertEqual((status, rules), (200, [{"status": 500, "count": 2, "remaining": 2}]))
        self.assertEqual(self.send(trigger())[0], 500)
        self.assertEqual(self.send(trigger())[0], 500)
        self.assertEqual(self.send(trigger())[0], 202)
        self.assertEqual(self.call("GET", "/_receiver/faults")[1], [{"status": 500, "count": 2, "remaining": 0}])
        state = self.state()
        self.assertEqual(state["accepted"], 1)
        self.assertEqual(len(state["alerts"][0]["events"]), 1)
        self.assertEqual([(r["status"], r["reason"]) for r in state["refused"]], [(500, "fault"), (500, "fault")])
        self.assertEqual(state["refused"][0]["body"], trigger())
        self.assertEqual(state["max_per_minute"], {KEY: 1})

    def test_a_429_fault_answers_the_throttle_body(self) -> None:
        self.faults([{"status": 429, "count": 1}])
        status, body = self.send(trigger())
        self.assertEqual((status, body["status"]), (429, "throttle exceeded"))

    def test_faults_come_before_validation(self) -> None:
        self.faults([{"status": 503}])
        self.assertEqual(self.send(raw=b"not json")[0], 503)

    def test_a_share_of_requests_fails_and_the_seed_repeats_it(self) -> None:
        def pattern() -> list[int]:
            self.faults([{"status": 502, "probability": 0.3}])
            return [self.send(trigger(f"k{i}"))[0] for i in range(40)]

        first = pattern()
        self.assertEqual(set(first), {202, 502})
        self.assertTrue(4 <= first.count(502) <= 24, first.count(502))
        self.assertEqual(pattern(), first)  # setting the rules restarts their draws
        self.start(120, self.seed + 1)
        self.assertNotEqual(pattern(), first)

    def test_a_fault_can_be_limited_to_an_action_and_a_key(self) -> None:
        self.faults([{"status": 503, "event_action": "resolve", "routing_key": KEY}])
        self.send(trigger())
        self.send(trigger(routing_key=OTHER_KEY))
        self.assertEqual(self.send(follow_up("resolve"))[0], 503)
        self.assertEqual(self.send(follow_up("resolve", routing_key=OTHER_KEY))[0], 202)
        self.assertEqual([a["status"] for a in self.state()["alerts"]], ["triggered", "resolved"])

    def test_an_empty_array_clears_the_faults_and_a_bad_rule_changes_nothing(self) -> None:
        self.faults([{"status": 500}])
        for bad in ({"status": 200}, {"status": 500, "probability": 2}, {"status": 500, "latency": 5},
                    {"status": 500, "count": -1}, "500"):
            with self.subTest(bad):
                status, body = self.faults(bad)
                self.assertEqual(status, 400)
                self.assertIn("error", body)
        self.assertEqual(self.send(trigger())[0], 500)
        self.assertEqual(self.faults([]), (200, []))
        self.assertEqual(self.send(trigger())[0], 202)


class StateTest(ReceiverTest):
    rate_per_minute = 2

    def test_delete_forgets_everything_but_the_faults(self) -> None:
        self.send(trigger())
        self.send(follow_up("resolve", "never"))
        self.send(trigger("third"))
        self.send(raw=b"{")
        self.faults([{"status": 500, "event_action": "acknowledge"}])
        status, body = self.call("DELETE", "/_receiver/state")
        self.assertEqual((status, body), (200, {"alerts": [], "dropped": [], "refused": [], "accepted": 0,
                                                "max_per_minute": {}}))
        # The rate window is forgotten too: the key may send again at once.
        self.assertEqual(self.send(trigger())[0], 202)
        self.assertEqual(self.send(follow_up("acknowledge"))[0], 500)


class CommandLineTest(unittest.TestCase):
    def test_it_prints_its_address_and_takes_its_options(self) -> None:
        process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "pagerduty_receiver.py"), "--port", "0",
             "--rate-per-minute", "1", "--seed", "5", "--quiet"],
            stdout=subprocess.PIPE, text=True)
        self.addCleanup(process.wait, 10)
        self.addCleanup(lambda: process.poll() is None and process.kill())
        line = process.stdout.readline()
        match = re.fullmatch(r"pagerduty receiver listening on (http://127\.0\.0\.1:(\d+))\n", line)
        self.assertIsNotNone(match, line)

        def send(event: dict) -> tuple[int, dict]:
            request = urllib.request.Request(match.group(1) + "/v2/enqueue", data=json.dumps(event).encode(),
                                             method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read())

        status, body = send(trigger(None))
        self.assertEqual(status, 202)
        self.assertEqual(send(trigger(None))[0], 429)
        # --seed: the generated key is the one an in-process receiver with seed 5 generates.
        expected = pagerduty_receiver.Receiver(seed=5).enqueue(json.dumps(trigger(None)).encode())[1]
        self.assertEqual(body["dedup_key"], expected["dedup_key"])
        process.send_signal(signal.SIGTERM)
        self.assertEqual(process.wait(10), 0)
        process.stdout.close()


if __name__ == "__main__":
    unittest.main()
