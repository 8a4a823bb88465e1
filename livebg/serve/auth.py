"""Who a request is: with tokens set, a request without a valid bearer token is refused, and
the token's hash owns the jobs it starts; without tokens (loopback only) every job is ""'s."""
from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from livebg.serve.errors import ApiError
from livebg.serve.jobs import owner_of


async def client(request: Request) -> str:
    """The owner of this request's jobs; refuses it without a valid token when tokens are set.
    (async: FastAPI would run a plain function in a worker thread, one for each request.)"""
    tokens = request.app.state.server.settings.tokens
    if not tokens:
        return ""
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise ApiError(401, "this server needs a token: send the header `Authorization: Bearer TOKEN`",
                       "unauthorized", {"WWW-Authenticate": "Bearer"})
    for token in tokens:
        if hmac.compare_digest(given.strip().encode(), token.encode()):
            return owner_of(token)
    raise ApiError(401, "the token is not valid: check it with whoever runs the server", "unauthorized",
                   {"WWW-Authenticate": 'Bearer error="invalid_token"'})


Owner = Annotated[str, Depends(client)]
