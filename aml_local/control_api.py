"""`/_local/...`: what tests and operators use to observe and steer the service (no auth)."""

from __future__ import annotations

from .context import Context
from .errors import bad_request
from .faults import FaultSettings
from .routing import Request, Response, Router


def register(router: Router, ctx: Context) -> None:
    def requests(_: Request) -> Response:
        return Response(body={"records": ctx.log.records(), "counts": ctx.log.counts()})

    def clear_requests(_: Request) -> Response:
        ctx.log.clear()
        return Response(204)

    def get_faults(_: Request) -> Response:
        return Response(body=ctx.faults.as_dict())

    def put_faults(req: Request) -> Response:
        try:
            settings = FaultSettings.from_dict(req.json())
        except (TypeError, ValueError) as exc:
            raise bad_request(f"Invalid fault settings: {exc}") from exc
        ctx.faults.configure(settings)
        return Response(body=ctx.faults.as_dict())

    def preempt(req: Request) -> Response:
        pattern = (req.json() if req.body else {}).get("pattern", "")
        return Response(body={"preempted": ctx.jobs.preempt(pattern)})

    def put_quota(req: Request) -> Response:
        try:
            return Response(body=ctx.jobs.quota.set_limit(req.json()))
        except (TypeError, ValueError, AttributeError) as exc:
            raise bad_request(f"Invalid quota: {exc}") from exc

    def stats(_: Request) -> Response:
        return Response(body=ctx.jobs.scheduler.stats())

    router.add("GET", "/_local/requests", requests)
    router.add("DELETE", "/_local/requests", clear_requests)
    router.add("GET", "/_local/faults", get_faults)
    router.add("PUT", "/_local/faults", put_faults)
    router.add("POST", "/_local/preempt", preempt)
    router.add("PUT", "/_local/quota", put_quota)

    def usage(_: Request) -> Response:
        """Node-seconds each job held its nodes (a pipeline job: its steps'), as Azure bills."""
        runs = ctx.store.values("runs")
        parents = {r["runId"]: r["parentRunId"] for r in runs if r.get("parentRunId")}
        return Response(body={"jobs": ctx.jobs.scheduler.usage.report(parents)})

    def traffic(_: Request) -> Response:
        """Bytes read and written per blob, job and node (traffic.py); a step's pipeline job
        under `parents`, as in usage."""
        runs = ctx.store.values("runs")
        parents = {r["runId"]: r["parentRunId"] for r in runs if r.get("parentRunId")}
        return Response(body={**ctx.stores.traffic.report(), "parents": parents})

    def clear_traffic(_: Request) -> Response:
        ctx.stores.traffic.clear()
        return Response(204)

    router.add("GET", "/_local/stats", stats)
    router.add("GET", "/_local/traffic", traffic)
    router.add("DELETE", "/_local/traffic", clear_traffic)
    router.add("GET", "/_local/usage", usage)
