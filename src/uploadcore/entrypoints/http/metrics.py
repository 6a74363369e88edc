"""`/metrics`: Prometheus text exposition, behind `Authorization: Bearer <METRICS_TOKEN>` if set."""

from __future__ import annotations

import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from uploadcore.adapters.prometheus import CONTENT_TYPE
from uploadcore.domain.errors import NotAuthenticated
from uploadcore.entrypoints.http.common import Resource, SlashRoute


class Metrics(Resource):
    def routes(self) -> list[BaseRoute]:
        if self.core.metrics is None:
            return []
        return [SlashRoute("/metrics/", self.metrics, methods=["GET"], name="metrics")]

    async def metrics(self, request: Request) -> Response:
        token = self.core.settings.metrics_token
        if token is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), token.encode()
            ):
                raise NotAuthenticated("send the metrics token as `Authorization: Bearer <token>`")
        metrics = self.core.metrics
        if metrics is None:  # pragma: no cover - the route exists only with metrics
            return Response(status_code=404)
        body = await run_in_threadpool(metrics.exposition, self.core.stats)
        return Response(body, media_type=CONTENT_TYPE)
