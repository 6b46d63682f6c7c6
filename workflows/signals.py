"""The engine's seam to the ticket side (apps depend one way: tickets -> workflows).

`workflow_event` is sent, inside the engine's transaction, for every step worth a
timeline entry. When `error_type` is set the step failed and the receiver records a
ticket error as well. Receivers must not raise: a failure here rolls the step back.

Arguments: instance (WorkflowInstance), task_instance (TaskInstance | None),
kind (str), message (str), actor (User | None), data (dict),
error_type (str | None), stack_trace (str).

`workflow_events` carries the events of one service call at once (`engine.batched()`),
in order, when the service's work is done and its transaction still open: events (a
list of the keyword arguments `workflow_event` would have had). Receivers then look up
what the events share once and write them together."""

from django.dispatch import Signal

workflow_event = Signal()
workflow_events = Signal()

# Sent when an action task should get an attempt: task_id (int), delay_seconds
# (float). `workflows.tasks` puts it on the queue; the engine does not know the queue.
action_ready = Signal()

# Sent by the sweeper after each pass, outside any transaction, so the upper layers can
# do their own periodic upkeep without a process of their own. No arguments; a receiver
# returns a short report string (or "") and may raise a database error, which the
# sweeper's loop logs and backs off from like its own.
swept = Signal()
