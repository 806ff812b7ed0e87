"""The worker: long-polls the step queue, runs each step, answers its task token.

A message is deleted only after its task is answered, so a worker that dies mid-step leaves
the message to reappear (visibility timeout) and another worker redoes the idempotent step.
While a step runs, a heartbeat keeps both the task and the message alive. A message whose
token is already answered or expired is dropped without running the step.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from bootstrap.aws import client, error_code
from bootstrap.errors import OrgvendError
from bootstrap.provisioning import StepTools
from workflows.handlers import HANDLERS, PARKED, WITHOUT_HEARTBEAT, StepMessage

__all__ = ["Worker", "failure_of"]

log = logging.getLogger("orgvend.worker")

_GONE = {"InvalidToken", "TaskTimedOut", "TaskDoesNotExist"}
_THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
}
_UNAVAILABLE = {"ServiceUnavailable", "InternalFailure", "InternalError", "ServiceException"}


def failure_of(exc: BaseException) -> tuple[str, str]:
    """The error code the ASL matches on, and the sentence a person reads."""
    if isinstance(exc, OrgvendError):
        return exc.code, f"{exc.message} {exc.advice}".strip()
    if isinstance(exc, ClientError):
        code = error_code(exc)
        if code in _THROTTLING:
            return "Transient.Throttled", str(exc)
        if code == "ConcurrentModificationException":
            return "Transient.ConcurrentModification", str(exc)
        if code in _UNAVAILABLE:
            return "Transient.AwsUnavailable", str(exc)
        return f"Aws.{code or 'Error'}", str(exc)
    return "Orgvend.InternalError", f"{type(exc).__name__}: {exc}"


@dataclass
class _InFlight:
    message: dict[str, Any]
    step: StepMessage
    stop: threading.Event


class Worker:
    def __init__(
        self,
        tools: StepTools,
        *,
        queue_url: str,
        concurrency: int = 4,
        wait_seconds: int = 5,
        visibility_seconds: int = 30,
        heartbeat_seconds: float | None = None,
    ) -> None:
        self.tools = tools
        self.queue_url = queue_url
        self.concurrency = max(1, concurrency)
        self.wait_seconds = wait_seconds
        self.visibility_seconds = visibility_seconds
        # Beat well inside the visibility timeout, so a working message never reappears.
        self.heartbeat_seconds = heartbeat_seconds or max(1.0, min(10.0, visibility_seconds / 3))
        self._sqs = client(tools.session, "sqs")
        self._sfn = client(tools.session, "stepfunctions")
        self._slots = threading.Semaphore(self.concurrency)
        self._in_flight: dict[str, _InFlight] = {}
        self._lock = threading.Lock()

    # --- the loop -------------------------------------------------------------------

    def run(self, stop: threading.Event, *, grace_seconds: float = 20.0) -> None:
        """Work until ``stop`` is set; then finish the steps in hand or release them."""
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="orgvend-step") as pool:
            futures: list[Future[None]] = []
            while not stop.is_set():
                if not self._slots.acquire(timeout=0.5):
                    continue
                messages = self._receive()
                if not messages:
                    self._slots.release()
                    continue
                futures = [f for f in futures if not f.done()]
                futures.append(pool.submit(self._guarded, messages[0]))
            self._drain(futures, grace_seconds)

    def _receive(self) -> list[dict[str, Any]]:
        try:
            reply = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=self.wait_seconds,
                VisibilityTimeout=self.visibility_seconds,
                MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            )
        except ClientError as exc:
            log.warning("receive failed: %s", exc)
            return []
        return list(reply.get("Messages", []))

    def _drain(self, futures: list[Future[None]], grace_seconds: float) -> None:
        wait(futures, timeout=grace_seconds)
        with self._lock:
            left = list(self._in_flight.values())
        for flight in left:
            log.info("releasing %s of %s", flight.step.step, flight.step.stream)
            flight.stop.set()
            self._sqs.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=flight.message["ReceiptHandle"],
                VisibilityTimeout=0,
            )

    def _guarded(self, message: dict[str, Any]) -> None:
        try:
            self.process(message)
        except Exception:
            log.exception("step message left for redelivery")
        finally:
            self._slots.release()

    # --- one message ------------------------------------------------------------------

    def process(self, message: dict[str, Any]) -> None:
        """Run the step of one message and answer its token; see the module docstring."""
        step = StepMessage.parse(json.loads(message["Body"]))
        if self._maybe_stale(message, step) and not self._alive(step.token):
            log.info("dropping %s of %s: its task is already answered", step.step, step.stream)
            self._delete(message)
            return
        flight = _InFlight(message, step, threading.Event())
        beat = threading.Thread(target=self._heartbeat, args=(flight,), daemon=True)
        if step.step in WITHOUT_HEARTBEAT:
            flight.stop.set()
        with self._lock:
            self._in_flight[message["MessageId"]] = flight
        beat.start()
        try:
            self._run_step(flight)
        finally:
            flight.stop.set()
            with self._lock:
                self._in_flight.pop(message["MessageId"], None)

    def _run_step(self, flight: _InFlight) -> None:
        step = flight.step
        log.info("%s %s %s", step.step, step.stream, step.environment or "")
        try:
            output = HANDLERS[step.step](self.tools, step)
        except Exception as exc:
            code, text = failure_of(exc)
            log.info("%s %s failed: %s %s", step.step, step.stream, code, text)
            self._record_failure(step, code, text)
            self._answer(
                flight,
                lambda: self._sfn.send_task_failure(
                    taskToken=step.token, error=code, cause=text[:32768]
                ),
            )
            return
        if output is PARKED:
            self._delete(flight.message)
            return
        self._answer(
            flight,
            lambda: self._sfn.send_task_success(taskToken=step.token, output=json.dumps(output)),
        )

    def _answer(self, flight: _InFlight, send: Any) -> None:
        try:
            send()
        except ClientError as exc:
            if error_code(exc) not in _GONE:
                raise
            log.info("task of %s already answered or expired", flight.step.step)
        self._delete(flight.message)

    def _record_failure(self, step: StepMessage, code: str, text: str) -> None:
        if code.startswith("Transient."):
            return
        streams = self.tools.streams
        try:
            if step.environment:
                streams.update_account(
                    step.stream, step.environment, failure_code=code, failure_message=text
                )
            else:
                streams.update(
                    step.stream,
                    lambda r: r.update(step_failure_code=code, step_failure_message=text),
                )
        except OrgvendError:
            log.warning("could not record the failure of %s on %s", step.step, step.stream)

    def _maybe_stale(self, message: dict[str, Any], step: StepMessage) -> bool:
        """A message seen before, or older than a heartbeat, may carry an answered token.

        A fresh first delivery cannot: its task waits for exactly this message.
        """
        if step.step in WITHOUT_HEARTBEAT:
            return False
        attributes = message.get("Attributes", {})
        received = int(attributes.get("ApproximateReceiveCount", "2"))
        sent_ms = int(attributes.get("SentTimestamp", "0"))
        age = time.time() - sent_ms / 1000
        return received > 1 or age > self.heartbeat_seconds

    def _alive(self, token: str) -> bool:
        """Whether the task still waits for an answer.

        ``InvalidToken`` is asked again for a moment: the emulator registers a callback only
        after its SendMessage returns, so a fast worker can see the token before it is valid.
        """
        delay = 0.05
        for _ in range(6):
            try:
                self._sfn.send_task_heartbeat(taskToken=token)
            except ClientError as exc:
                code = error_code(exc)
                if code not in _GONE:
                    raise
                if code != "InvalidToken":
                    return False
                time.sleep(delay)
                delay *= 2
                continue
            return True
        return False

    def _heartbeat(self, flight: _InFlight) -> None:
        while not flight.stop.wait(self.heartbeat_seconds):
            try:
                self._sfn.send_task_heartbeat(taskToken=flight.step.token)
                self._sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=flight.message["ReceiptHandle"],
                    VisibilityTimeout=self.visibility_seconds,
                )
            except ClientError as exc:
                log.info("heartbeat of %s: %s", flight.step.step, exc)

    def _delete(self, message: dict[str, Any]) -> None:
        self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
