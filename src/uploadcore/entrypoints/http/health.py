"""`/healthz`: the process answers and its database is reachable."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from uploadcore.entrypoints.http.common import Resource, SlashRoute
from uploadcore.entrypoints.http.responses import JsonResponse


class Health(Resource):
    def routes(self) -> list[BaseRoute]:
        return [SlashRoute("/healthz/", self.healthz, methods=["GET"])]

    async def healthz(self, request: Request) -> Response:
        await run_in_threadpool(self.core.health)
        return JsonResponse({"status": "ok"})
