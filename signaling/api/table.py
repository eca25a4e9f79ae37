"""The route table every route module declares on (like aiohttp's ``RouteTableDef``)."""

from signaling.api.registry import Api

API = Api(prefix="/api/v1")
