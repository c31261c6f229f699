"""Outside events that start executions: verify and record them fast, build from them on the hooks queue.

- ``intake``: a provider webhook request -> verified, parsed, recorded delivery (the HTTP view is thin).
- ``images``: image-registry push notifications (Harbor, Docker Hub, Alibaba Cloud ACR).
- ``deliveries``: the one place a delivery is recorded (de-duplicated) and its processing enqueued.
- ``process``: a recorded delivery -> an execution, or the reason there is none.
"""
