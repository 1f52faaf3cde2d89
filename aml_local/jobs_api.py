"""Job routes (ARM) and the run-history routes behind `jobs.stream` / `jobs.download`, plus
run history's batch lookup by run ids (one request for many jobs' statuses)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from .context import Context
from .errors import ServiceError, bad_request
from .faults import DroppedConnection
from .identity import TokenError
from .jobs import TERMINAL, log_ref
from .routing import Request, Response, Router
from .runner import LOG_NAME
from .validation import validate

PAGE_SIZE = 100
POLL_AFTER_S = "1"  # the SDK parses Retry-After as an integer
OPERATION = (
    "/subscriptions/{subscriptionId}/providers/Microsoft.MachineLearningServices"
    "/locations/local/mfeOperationResults/{operationId}"
)
HISTORY = "/history/v1.0{WS}"


def register(router: Router, ctx: Context) -> None:
    def put_job(req: Request) -> Response:
        body = req.json()
        errors = validate("JobBase", body)
        if errors:
            raise bad_request("Invalid job: " + "; ".join(errors))
        if body["properties"]["jobType"] == "Pipeline":
            check_user_token(req.headers.get("x-azureml-token", ""))
        doc, created = ctx.jobs.submit(req.params["name"], body)
        if ctx.faults.drop_response(doc["name"]):
            raise DroppedConnection(doc["name"])
        return Response(201 if created else 200, doc)

    def get_job(req: Request) -> Response:
        return Response(body=ctx.jobs.resource(req.params["name"]))

    def list_jobs(req: Request) -> Response:
        docs = ctx.jobs.list(req.query)
        skip = int(req.query.get("$skip", "0") or 0)
        page: dict[str, Any] = {"value": docs[skip : skip + PAGE_SIZE]}
        if skip + PAGE_SIZE < len(docs):
            query = {k: v for k, v in req.query.items() if k != "$skip"}
            query["$skip"] = str(skip + PAGE_SIZE)
            page["nextLink"] = f"{ctx.ws.base_url}{req.path}?{urlencode(query)}"
        return Response(body=page)

    def cancel_job(req: Request) -> Response:
        name = req.params["name"]
        ctx.jobs.cancel(name)
        location = OPERATION.format(
            subscriptionId=ctx.ws.subscription_id, operationId=f"cancel-{name}"
        )
        headers = {"Location": ctx.ws.base_url + location, "Retry-After": POLL_AFTER_S}
        return Response(202, None, headers)

    def operation(req: Request) -> Response:
        kind, _, name = req.params["operationId"].partition("-")
        status = ctx.jobs.get(name)["properties"]["status"] if kind == "cancel" else "Completed"
        if status in TERMINAL:
            return Response(200, {"status": "Succeeded"})
        return Response(202, None, {"Retry-After": POLL_AFTER_S})

    def check_user_token(token: str) -> None:
        """Pipeline jobs carry the user's Azure ML token too (the SDK's x-azureml-token):
        their steps act for the user. The header must hold a token for this service."""
        if not token:
            raise ServiceError(
                401, "AuthenticationFailed", "Pipeline jobs need the x-azureml-token header."
            )
        base = ctx.ws.base_url.rstrip("/")
        try:
            ctx.jobs.identities.verify(token, [base, base + "/"])
        except TokenError as exc:
            raise ServiceError(401, exc.code, f"x-azureml-token: {exc}") from exc

    def run(req: Request) -> Response:
        return Response(body=_run(ctx, req.params["runId"]))

    def children(req: Request) -> Response:
        """A pipeline's child runs (its steps), as `jobs.list(parent_job_name=...)` reads them."""
        name = req.params["runId"]
        return Response(body={"value": [_run(ctx, step) for step in ctx.jobs.children(name)]})

    def run_details(req: Request) -> Response:
        name = req.params["runId"]
        record = {**_run(ctx, name), "target": ctx.ws.compute, "warnings": []}
        ref = log_ref(name)
        container = ctx.stores.container_of(ref.datastore)
        if ctx.stores.list_names(container, ref.path):
            sas = ctx.stores.sas_token(container)
            record["logFiles"] = {LOG_NAME: f"{ctx.blob_url(container, ref.path)}?{sas}"}
        else:
            record["logFiles"] = {}
        return Response(body=record)

    def run_data(req: Request) -> Response:
        body = req.json()
        name = body.get("runId") if isinstance(body, dict) else None
        if not name:
            raise bad_request("runId is required.")
        return Response(body={"runMetadata": {**_run(ctx, name), "outputs": {}}})

    def runs_by_ids(req: Request) -> Response:
        refusal = ctx.faults.batch_refusal()
        if refusal:
            raise refusal
        experiment = req.params["experimentName"]
        runs, errors = {}, {}
        for run_id in _run_ids(req.json()):
            record = _run_in(ctx, experiment, run_id)
            if record is None:
                message = f"Run '{run_id}' was not found in experiment '{experiment}'."
                errors[run_id] = ServiceError(404, "UserError", message).body()
            else:
                runs[run_id] = record
        return Response(body={"runs": runs, "errors": errors})

    router.add("PUT", "{WS}/jobs/{name}", put_job)
    router.add("GET", "{WS}/jobs/{name}", get_job)
    router.add("GET", "{WS}/jobs", list_jobs)
    router.add("POST", "{WS}/jobs/{name}/cancel", cancel_job)
    router.add("GET", OPERATION, operation)
    router.add("GET", f"{HISTORY}/runs/{{runId}}", run)
    router.add("GET", f"{HISTORY}/runs/{{runId}}/details", run_details)
    router.add("GET", f"{HISTORY}/runs/{{runId}}/children", children)
    router.add("POST", f"{HISTORY}/rundata", run_data)
    router.add("POST", f"{HISTORY}/experiments/{{experimentName}}/runs/runIds", runs_by_ids)


def _run(ctx: Context, name: str) -> dict[str, Any]:
    """A run-history record (status, times, error) for a job."""
    props = ctx.jobs.run_props(name)
    record = ctx.jobs.run_record(name)
    return {
        "runId": name,
        "runUuid": name,
        "displayName": props.get("displayName"),
        "experimentId": props.get("experimentName"),
        "status": props["status"],
        "tags": props.get("tags") or {},
        "properties": props.get("properties") or {},
        **{
            k: v
            for k, v in record.items()
            if k in ("startTimeUtc", "endTimeUtc", "error", "parentRunId")
        },
    }


def _run_ids(body: Any) -> list[str]:
    """The `runIds` of a GetRunsByIds body; a 400 for anything else."""
    ids = body.get("runIds") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise bad_request("The body must be a JSON object with a 'runIds' list of strings.")
    return ids


def _run_in(ctx: Context, experiment: str, run_id: str) -> dict[str, Any] | None:
    """The run's record when it is a job of that experiment, else None."""
    try:
        record = _run(ctx, run_id)
    except ServiceError:  # no such job
        return None
    return record if record["experimentId"] == experiment else None
