"""A tiny stateful processor on the shared runtime, run as a subprocess by the tests.

It counts records per key; each record yields ``key -> count`` on the output topic, and
each batch writes the latest count of every key it touched to the changelog (through
the runtime's ``flush`` hook). Effectively-once means: per key, the committed outputs are
exactly 1, 2, …, n, whatever crashes happen. A value of ``poison`` raises.

    python -m tests.integration.common.counter_app BOOTSTRAP PREFIX INSTANCE [DELAY_S]
"""

from __future__ import annotations

import asyncio
import sys
import time

from services.common.lifecycle import run_until_signalled
from services.common.metrics import ProcessorMetrics
from services.common.processor import Output, PartitionTask, Record, StreamProcessor


def topic_names(prefix: str) -> dict[str, str]:
    return {
        "input": f"{prefix}counter.in",
        "output": f"{prefix}counter.out",
        "changelog": f"{prefix}counter.changelog",
        "dlq": f"{prefix}counter.dlq",
    }


class CounterTask:
    def __init__(self, names: dict[str, str], delay_s: float) -> None:
        self.names = names
        self.delay_s = delay_s
        self.counts: dict[bytes, int] = {}
        self.dirty: dict[bytes, int] = {}  # key -> partition, written at flush

    def restore(self, key: bytes, value: bytes | None) -> None:
        if value is None:
            self.counts.pop(key, None)
        else:
            self.counts[key] = int(value)

    def process(self, record: Record) -> list[Output]:
        if record.value == b"poison":
            raise ValueError("poison record")
        assert record.key is not None
        if self.delay_s:
            time.sleep(self.delay_s)  # widen the window in which a SIGKILL lands mid-batch
        count = self.counts.get(record.key, 0) + 1
        self.counts[record.key] = count
        self.dirty[record.key] = record.partition
        return [Output(self.names["output"], record.key, str(count).encode())]

    def flush(self) -> list[Output]:
        changelog = self.names["changelog"]
        writes = [
            Output(changelog, key, str(self.counts[key]).encode(), partition=partition)
            for key, partition in self.dirty.items()
        ]
        self.dirty.clear()
        return writes


def make_processor(
    bootstrap: str,
    prefix: str,
    instance: str,
    delay_s: float = 0.0,
    *,
    max_batch: int = 50,
    metrics: ProcessorMetrics | None = None,
) -> StreamProcessor:
    names = topic_names(prefix)

    def factory(partition: int) -> PartitionTask:
        return CounterTask(names, delay_s)

    return StreamProcessor(
        bootstrap_servers=bootstrap,
        group_id=f"{prefix}counter",
        input_topics=[names["input"]],
        task_factory=factory,
        changelog_topic=names["changelog"],
        dlq_topic=names["dlq"],
        service="counter",
        instance_id=instance,
        max_batch=max_batch,
        metrics=metrics,
    )


def main(argv: list[str]) -> int:
    bootstrap, prefix, instance = argv[:3]
    delay_s = float(argv[3]) if len(argv) > 3 else 0.0
    processor = make_processor(bootstrap, prefix, instance, delay_s)

    async def serve(stop: asyncio.Event) -> None:
        await processor.run(stop)

    return run_until_signalled(serve)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
