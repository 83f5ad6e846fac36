# Ansible callback for `npm run bench`: one JSON line per host with when its task was handed to a
# worker (v2_runner_on_start) and when its result came back, its status, and two facts to check
# that the host really answered. Written to the file named by PITRIX_BENCH_TIMING.
import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: bench_timing
    type: aggregate
    short_description: per-host timing for the pitrix-operator benchmark
    description: Appends one JSON line per host result to $PITRIX_BENCH_TIMING.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get("PITRIX_BENCH_TIMING")
        self._start = {}

    def v2_runner_on_start(self, host, task):
        self._start[host.get_name()] = time.time()

    def _record(self, result, status):
        if not self._path:
            return
        name = result._host.get_name()
        res = result._result or {}
        facts = res.get("ansible_facts") or {}
        row = {
            "host": name,
            "status": status,
            "start": self._start.get(name),
            "end": time.time(),
            "distribution": facts.get("ansible_distribution"),
            "hostname": facts.get("ansible_hostname"),
            "msg": str(res.get("msg", ""))[:400] if status != "ok" else None,
        }
        with open(self._path, "a") as f:
            f.write(json.dumps(row) + "\n")

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")
