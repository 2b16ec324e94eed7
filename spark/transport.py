"""The transport under :class:`~spark.client.SparkClient`: authentication (a static token, OAuth
refresh), one HTTP exchange with its timeouts and failure mapping, the request hooks, query
building and paging. The endpoint methods live in the client.

The only automatic retry is the one Spark documents: on code 1020 (token expired) the token is
refreshed once and the request re-sent once (docs/spark-protocol.md#expired-token-1020).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from spark.errors import (
    TOKEN_EXPIRED_CODE,
    SparkAuthError,
    SparkConnectionError,
    SparkError,
    SparkOAuthError,
    SparkTimeout,
    SparkTokenExpired,
    classify_error,
)
from spark.filters import Expr
from spark.responses import (
    NOT_MODIFIED,
    WRITE_METHODS,
    SparkResult,
    Validators,
    as_int,
    body_snippet,
    decode_body,
    header_value,
    oauth_message,
    parse_response,
    parse_retry_after,
)
from spark.tokens import InMemoryTokenStore, TokenSet, TokenStore

__all__ = [
    "MAX_PAGE_SIZE",
    "AfterRequestHook",
    "BeforeRequestHook",
    "Exchange",
    "FilterArg",
    "ListArg",
    "RawResponse",
    "SparkTransport",
    "join_values",
]

# The log channel keeps the client's name: log settings and readers filter on it.
logger = logging.getLogger("spark.client")

MAX_PAGE_SIZE = 25  # larger _limit values are refused or clamped (docs/spark-protocol.md#paging)
# Bytes read from the socket at a time; bounds how far a trickled body can overrun its deadline.
READ_CHUNK_BYTES = 65536
# A body larger than this is not parsed just to log its Spark code.
PEEK_CODE_MAX_BYTES = 1_000_000

FilterArg = str | Expr | None
ListArg = str | Sequence[str] | None

# (method, route) -> None; route is a stable name such as "photos.create" (see each method).
BeforeRequestHook = Callable[[str, str], None]


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange as `after_request` sees it (no token, no body)."""

    method: str
    path: str
    route: str
    status: int | None
    code: int | None
    duration_ms: float
    request_id: str | None
    failure: str | None


AfterRequestHook = Callable[[Exchange], None]


@dataclass(frozen=True)
class RawResponse:
    """An answer as received, before :func:`~spark.responses.parse_response` reads it."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class _NoRetryAdapter(HTTPAdapter):
    """Pooling without urllib3's own retries: a silent re-send of a POST could duplicate it."""

    def __init__(self, pool_maxsize: int) -> None:
        super().__init__(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)


class _EnvironmentReadOnceSession(requests.Session):
    """A session that reads the environment's proxy variables and CA bundle once per origin.

    requests reads them on every request (`merge_environment_settings`: every proxy variable,
    the NO_PROXY list matched against the host; ~430 Python calls a request). What it finds
    depends only on the environment, which does not change while the process runs, and on the
    URL's scheme and host, so the answer for a request with no settings of its own is kept."""

    def __init__(self) -> None:
        super().__init__()
        # (scheme, host, stream) -> (the session's own settings then, the answer)
        self._environment_settings: dict[tuple[str, str, Any], tuple[tuple[Any, ...], Any]] = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[no-untyped-def]
        if proxies or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parsed = urlsplit(url)
        key = (parsed.scheme, parsed.netloc, stream)
        own = self._session_settings()
        kept = self._environment_settings.get(key)
        if kept is None or kept[0] != own:
            kept = (own, super().merge_environment_settings(url, proxies, stream, verify, cert))
            self._environment_settings[key] = kept
        answer = kept[1]
        return {**answer, "proxies": dict(answer["proxies"])}

    def _session_settings(self) -> tuple[Any, ...]:
        """What of the session's own the answer also depends on (changed by hand, it is read again)."""
        return (self.trust_env, tuple(sorted(self.proxies.items())), self.verify, self.cert)


class SparkTransport:
    """Authenticated requests to Spark; :class:`~spark.client.SparkClient` adds the endpoints.

    ``base_url`` is the API root without ``/v1`` (``https://sparkapi.com``, or the sandbox's
    ``http://host/sandbox``). Authentication: a static ``access_token``; add ``client_id``,
    ``client_secret`` and ``refresh_token`` to refresh it through ``/v1/oauth2/grant`` when
    Spark answers 1020 or the announced expiry is near (docs/spark-protocol.md#oauth2-grant-and-refresh).

    ``before_request(method, route)`` is called before every HTTP request the client sends
    (including the grant and ticket uploads); it may block (a rate limiter) or raise to abort.
    ``after_request(exchange)`` is called after each one, answered or not (a call log).
    """

    def __init__(
        self,
        base_url: str,
        *,
        access_token: str | None = None,
        refresh_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        user_agent: str = "ListingDraftsPortal/1.0",
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        total_timeout: float | None = None,
        token_store: TokenStore | None = None,
        before_request: BeforeRequestHook | None = None,
        after_request: AfterRequestHook | None = None,
        session: requests.Session | None = None,
        pool_maxsize: int = 10,
    ) -> None:
        base = base_url.rstrip("/")
        if base.endswith("/v1"):
            base = base[: -len("/v1")]
        self.base_url = base
        self.user_agent = user_agent
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        # The socket read timeout bounds each wait; this bounds a body trickled byte by byte.
        self.total_timeout = total_timeout if total_timeout is not None else connect_timeout + read_timeout
        self.before_request = before_request
        self.after_request = after_request
        self._client_id = client_id or None
        self._client_secret = client_secret or None
        self._redirect_uri = redirect_uri or None
        self._configured_refresh_token = refresh_token or None

        self.token_store: TokenStore = token_store or InMemoryTokenStore()
        if access_token or refresh_token:
            with self.token_store.lock():
                if self.token_store.get() is None:
                    self.token_store.set(TokenSet(access_token or None, refresh_token or None))

        self.session = session or _EnvironmentReadOnceSession()
        adapter = _NoRetryAdapter(pool_maxsize)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update(
            {
                "X-SparkApi-User-Agent": user_agent,
                "User-Agent": user_agent,
                "Accept": "application/json",
                "Accept-Encoding": "gzip, deflate",
                "Content-Type": "application/json",
            }
        )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # -- authentication -----------------------------------------------------------------------

    @property
    def can_refresh(self) -> bool:
        tokens = self.token_store.get()
        refresh_token = (tokens.refresh_token if tokens else None) or self._configured_refresh_token
        return bool(self._client_id and self._client_secret and refresh_token)

    def exchange_code(self, code: str, redirect_uri: str | None = None) -> TokenSet:
        """Authorization-code grant (docs/spark-protocol.md#oauth2-grant-and-refresh); stores and
        returns the new tokens."""
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri or self._redirect_uri,
        }
        with self.token_store.lock():
            tokens = self._grant(body, previous=None)
            self.token_store.set(tokens)
        return tokens

    def refresh_access_token(self, stale_access_token: str | None = None) -> TokenSet:
        """Refresh unless another caller already replaced ``stale_access_token``.

        Double-checked under the store's lock: whoever waited for the lock re-reads the token
        and returns the one the other caller obtained instead of refreshing again. With no
        ``stale_access_token`` it always refreshes.
        """
        with self.token_store.lock():
            current = self.token_store.get()
            if (
                stale_access_token is not None
                and current is not None
                and current.access_token
                and current.access_token != stale_access_token
                and not current.expires_soon()
            ):
                return current
            refresh_token = (current.refresh_token if current else None) or self._configured_refresh_token
            if not (self._client_id and self._client_secret and refresh_token):
                raise SparkTokenExpired(
                    "access token expired and no refresh credentials are configured",
                    code=TOKEN_EXPIRED_CODE,
                    route="oauth.grant",
                )
            body = {"grant_type": "refresh_token", "refresh_token": refresh_token}
            if self._redirect_uri:
                body["redirect_uri"] = self._redirect_uri
            tokens = self._grant(body, previous=current)
            self.token_store.set(tokens)
            return tokens

    def _grant(self, body: dict[str, Any], previous: TokenSet | None) -> TokenSet:
        """POST /v1/oauth2/grant. The body is bare JSON, not wrapped in D
        (docs/spark-protocol.md#oauth2-grant-and-refresh)."""
        if not (self._client_id and self._client_secret):
            raise SparkAuthError("OAuth client id/secret are not configured", route="oauth.grant")
        payload = {"client_id": self._client_id, "client_secret": self._client_secret, **body}
        payload = {k: v for k, v in payload.items() if v is not None}
        path = "/v1/oauth2/grant"
        raw = self._send(
            "POST",
            self.base_url + path,
            route="oauth.grant",
            log_path=path,
            data=json.dumps(payload).encode(),
            headers={"Authorization": None},
        )
        parsed, text = decode_body(raw.body)
        common: dict[str, Any] = {
            "status": raw.status,
            "method": "POST",
            "path": path,
            "route": "oauth.grant",
            "request_id": header_value(raw.headers, "X-Request-Id"),
            "retry_after": parse_retry_after(header_value(raw.headers, "Retry-After")),
        }
        if 200 <= raw.status < 300 and isinstance(parsed, Mapping) and parsed.get("access_token"):
            expires_in = as_int(parsed.get("expires_in"))
            # Without rotation Spark may omit the refresh token: keep using the one we have.
            refresh_token = (
                parsed.get("refresh_token")
                or body.get("refresh_token")
                or (previous and previous.refresh_token)
            )
            return TokenSet(
                access_token=str(parsed["access_token"]),
                refresh_token=str(refresh_token) if refresh_token else None,
                expires_at=time.time() + expires_in if expires_in else None,
            )
        if isinstance(parsed, Mapping) and isinstance(parsed.get("D"), Mapping):
            # Spark-style failure (rate limit, 5xx...): classified like any other response.
            parse_response(raw.status, raw.headers, parsed, method="POST", path=path, route="oauth.grant")
        if raw.status >= 500 or raw.status == 429:
            error_class = classify_error(raw.status, None)
            raise error_class(oauth_message(parsed) or body_snippet(text) or "grant failed", **common)
        raise SparkOAuthError(
            oauth_message(parsed) or "OAuth grant refused",
            error=parsed.get("error") if isinstance(parsed, Mapping) else None,
            **common,
        )

    def _access_token(self) -> str:
        tokens = self.token_store.get()
        if tokens is not None and tokens.access_token and not (tokens.expires_soon() and self.can_refresh):
            return tokens.access_token
        if self.can_refresh:
            stale = tokens.access_token if tokens else None
            try:
                refreshed = self.refresh_access_token(stale)
            except SparkError as error:
                # Refreshing ahead of expiry is a courtesy: while the old token is still valid, a
                # grant endpoint hiccup must not fail the call.
                still_valid = tokens is not None and tokens.access_token and not tokens.expires_soon(margin=0)
                if not (error.transient and still_valid):
                    raise
                return tokens.access_token  # type: ignore[union-attr,return-value]
            if refreshed.access_token:
                return refreshed.access_token
        if tokens is not None and tokens.access_token:
            return tokens.access_token
        raise SparkAuthError("no Spark access token is configured")

    # -- transport ----------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        route: str,
        log_path: str,
        params: Mapping[str, Any] | None = None,
        data: bytes | Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        headers: Mapping[str, str | None] | None = None,
    ) -> RawResponse:
        """One HTTP exchange. Maps transport failures to errors; never interprets the body."""
        if self.before_request is not None:
            self.before_request(method, route)
        started = time.monotonic()
        deadline = started + self.total_timeout
        is_write = method in WRITE_METHODS
        status: int | None = None
        code: int | None = None
        request_id: str | None = None
        failure: str | None = None
        response: requests.Response | None = None
        try:
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    files=files,
                    headers=headers,  # None values delete session headers
                    timeout=(self.connect_timeout, self.read_timeout),
                    stream=True,
                    allow_redirects=False,
                )
            except requests.exceptions.ConnectTimeout as exc:
                failure = "connect timeout"
                raise SparkTimeout(
                    f"connect timeout after {self.connect_timeout:g}s",
                    method=method,
                    path=log_path,
                    route=route,
                    ambiguous=False,
                ) from exc
            except requests.exceptions.ReadTimeout as exc:
                failure = "read timeout"
                raise SparkTimeout(
                    f"no response within {self.read_timeout:g}s",
                    method=method,
                    path=log_path,
                    route=route,
                    ambiguous=is_write,
                ) from exc
            except requests.exceptions.ConnectionError as exc:
                sent = not _is_connect_failure(exc)
                failure = "connection dropped" if sent else "connection failed"
                raise SparkConnectionError(
                    f"{failure}: {type(_root_cause(exc)).__name__}",
                    method=method,
                    path=log_path,
                    route=route,
                    ambiguous=is_write and sent,
                ) from exc
            except requests.exceptions.RequestException as exc:
                failure = type(exc).__name__
                raise SparkConnectionError(
                    f"request failed: {type(exc).__name__}",
                    method=method,
                    path=log_path,
                    route=route,
                    ambiguous=False,
                ) from exc

            status = response.status_code
            request_id = response.headers.get("X-Request-Id")
            try:
                body = self._read_body(response, deadline)
            except _DeadlinePassed as exc:
                failure = "response deadline"
                raise SparkTimeout(
                    f"response not complete within {self.total_timeout:g}s",
                    status=status,
                    method=method,
                    path=log_path,
                    route=route,
                    request_id=request_id,
                    ambiguous=is_write,
                ) from exc
            except urllib3.exceptions.ReadTimeoutError as exc:
                failure = "body read timeout"
                raise SparkTimeout(
                    f"response body stalled for {self.read_timeout:g}s",
                    status=status,
                    method=method,
                    path=log_path,
                    route=route,
                    request_id=request_id,
                    ambiguous=is_write,
                ) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                failure = "connection dropped mid-response"
                raise SparkConnectionError(
                    f"connection dropped mid-response: {type(exc).__name__}",
                    status=status,
                    method=method,
                    path=log_path,
                    route=route,
                    request_id=request_id,
                    ambiguous=is_write,
                ) from exc
            code = _peek_code(body, response.headers.get("Content-Type", ""))
            return RawResponse(status=status, headers=response.headers, body=body)
        finally:
            if response is not None:
                response.close()
            self._log(method, log_path, route, status, code, started, request_id, failure)

    @staticmethod
    def _read_body(response: requests.Response, deadline: float) -> bytes:
        # read1 returns what has arrived, so a trickled body cannot outlive the deadline by
        # more than one socket read timeout.
        raw = response.raw
        chunks: list[bytes] = []
        while True:
            if time.monotonic() > deadline:
                raise _DeadlinePassed
            chunk = raw.read1(READ_CHUNK_BYTES, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def _log(
        self,
        method: str,
        path: str,
        route: str,
        status: int | None,
        code: int | None,
        started: float,
        request_id: str | None,
        failure: str | None,
    ) -> None:
        duration_ms = (time.monotonic() - started) * 1000
        fields = {
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "spark_code": code,
            "duration_ms": round(duration_ms, 1),
            "request_id": request_id,
            "failure": failure,
        }
        failed = failure is not None or status is None or status >= 400
        logger.log(
            logging.WARNING if failed else logging.INFO,
            "spark %s %s -> %s code=%s %.0fms request_id=%s%s",
            method,
            path,
            status if status is not None else "-",
            code if code is not None else "-",
            duration_ms,
            request_id or "-",
            f" failure={failure}" if failure else "",
            extra={"spark": fields},
        )
        if self.after_request is not None:
            self.after_request(Exchange(method, path, route, status, code, duration_ms, request_id, failure))

    def request(
        self,
        method: str,
        path: str,
        *,
        route: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        if_changed: Validators | None = None,
    ) -> SparkResult:
        """Any authenticated Spark call: ``body`` (if not None) is sent as ``{"D": body}``.

        ``path`` starts with ``/v1``; ``route`` names the call for ``before_request`` and the log.
        On code 1020 the token is refreshed once (when refresh credentials exist) and the request
        sent once more. The typed methods below all go through here.

        ``if_changed`` makes a GET conditional: its validators are sent, and a 304 comes back as
        a result with ``not_modified`` true, no results, and the validators still valid.
        """
        method = method.upper()
        conditional = if_changed.request_headers() if if_changed else {}
        data = json.dumps({"D": body}).encode() if body is not None else None
        url = self.base_url + path
        for attempt in (1, 2):
            token = self._access_token()
            raw = self._send(
                method,
                url,
                route=route,
                log_path=path,
                params=params,
                data=data,
                headers={"Authorization": f"Bearer {token}", **conditional},
            )
            if if_changed and raw.status == NOT_MODIFIED:
                # A 304 may repeat only one validator (the pages' example sends the ETag alone).
                sent = Validators.from_headers(raw.headers)
                return SparkResult(
                    status=NOT_MODIFIED,
                    results=[],
                    request_id=header_value(raw.headers, "X-Request-Id"),
                    validators=Validators(
                        sent.etag or if_changed.etag, sent.last_modified or if_changed.last_modified
                    ),
                )
            try:
                return parse_response(
                    raw.status, raw.headers, raw.body, method=method, path=path, route=route
                )
            except SparkTokenExpired:
                if attempt == 2 or not self.can_refresh:
                    raise
                self.refresh_access_token(token)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- query helpers ------------------------------------------------------------------------

    @staticmethod
    def build_query(
        *,
        filter: FilterArg = None,
        orderby: ListArg = None,
        select: ListArg = None,
        expand: ListArg = None,
        limit: int | None = None,
        page: int | None = None,
        pagination: bool | Literal["count"] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        """Query parameters for GET collections (docs/spark-protocol.md#collection-parameters)."""
        params: dict[str, str] = {}
        if filter is not None:
            text = str(filter)
            if text:
                params["_filter"] = text
        for name, value in (("_orderby", orderby), ("_select", select), ("_expand", expand)):
            joined = join_values(value)
            if joined:
                params[name] = joined
        if limit is not None:
            if not 1 <= limit <= MAX_PAGE_SIZE:
                raise ValueError(f"_limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
            params["_limit"] = str(limit)
        if page is not None:
            if page < 1:
                raise ValueError(f"_page is 1-based, got {page}")
            params["_page"] = str(page)
        if pagination is not None:
            params["_pagination"] = "count" if pagination == "count" else ("1" if pagination else "0")
        for key, value in (extra or {}).items():
            if value is not None:
                params[key] = _query_value(value)
        return params

    def _list(self, path: str, route: str, **query: Any) -> SparkResult:
        return self.request("GET", path, route=route, params=self.build_query(**query))

    def iter_pages(
        self,
        path: str,
        *,
        route: str,
        page_size: int = MAX_PAGE_SIZE,
        start_page: int = 1,
        max_pages: int | None = None,
        **query: Any,
    ) -> Iterator[SparkResult]:
        """Yield each page of a collection (``_pagination=1``, ``_page``, ``_limit``).

        Pages are fetched lazily; a record created or deleted meanwhile can shift the pages.
        """
        page = start_page
        fetched = 0
        while True:
            result = self.request(
                "GET",
                path,
                route=route,
                params=self.build_query(limit=page_size, page=page, pagination=True, **query),
            )
            yield result
            fetched += 1
            if not result.results or result.pagination is None or result.pagination.is_last_page:
                return
            if max_pages is not None and fetched >= max_pages:
                return
            page += 1

    def iter_records(self, path: str, *, route: str, **kwargs: Any) -> Iterator[Any]:
        """Yield every record of every page (see :meth:`iter_pages`)."""
        for result in self.iter_pages(path, route=route, **kwargs):
            yield from result.results


class _DeadlinePassed(Exception):
    pass


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        nxt = getattr(current, "reason", None)
        if not isinstance(nxt, BaseException):
            args = getattr(current, "args", ())
            nxt = next((a for a in args if isinstance(a, BaseException)), None)
        if nxt is None:
            nxt = current.__cause__ or current.__context__
        if nxt is None:
            break
        current = nxt
    return current


def _is_connect_failure(exc: BaseException) -> bool:
    """True when the request cannot have reached the server (refused, DNS, TLS handshake)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(
            current,
            urllib3.exceptions.NewConnectionError
            | urllib3.exceptions.NameResolutionError
            | urllib3.exceptions.ConnectTimeoutError
            | ConnectionRefusedError,
        ):
            return True
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
        stack.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                stack.append(linked)
    return False


def _peek_code(body: bytes, content_type: str) -> int | None:
    """The Spark Code of a response, for the log line only."""
    if not body or len(body) > PEEK_CODE_MAX_BYTES or "json" not in content_type.lower():
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    envelope = payload.get("D") if isinstance(payload, dict) else None
    return as_int(envelope.get("Code")) if isinstance(envelope, dict) else None


def join_values(value: ListArg) -> str | None:
    """A comma-separated list parameter; None when there is nothing in it."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    joined = ",".join(str(v) for v in value if v)
    return joined or None


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
