"""Outbound HTTP for SYNC_ACTION and ASYNC_ACTION tasks.

Every call: JSON POST through requests-hardened (SSRF filter, no redirects), a total
deadline of `timeout_seconds` for connect + send + read, a response body cap, an
`Idempotency-Key` stable across retries, and an HMAC-SHA256 signature of the body."""

import contextlib
import hashlib
import hmac
import ipaddress
import json
import socket
import threading
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from requests_hardened import Config, Manager
from requests_hardened.ip_filter import InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter

from workflows import jsonsafe

SIGNATURE_HEADER = "X-TicketFlower-Signature"
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


class ActionError(Exception):
    """A failed call. `transient` failures are worth retrying."""

    def __init__(self, message: str, *, transient: bool) -> None:
        self.transient = transient
        super().__init__(message)


@dataclass(frozen=True)
class ActionResponse:
    status: int
    headers: dict[str, str]
    body: Any

    def as_context(self) -> dict[str, Any]:
        return {"status": self.status, "headers": self.headers, "body": self.body}


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The IANA special-purpose address registries (IPv4 and IPv6), whole, including blocks
# the registry marks globally reachable (AS112, AMT, NAT64 well-known prefix): an action
# has no business calling any of them. Plus multicast, deprecated site-local, and all of
# ::/8, which holds the IPv4-compatible (::/96) and IPv4-mapped (::ffff:0:0/96) forms.
SPECIAL_PURPOSE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        # IPv4
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24",
        "192.88.99.0/24", "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "255.255.255.255/32",
        # IPv6
        "::/8", "64:ff9b::/96", "64:ff9b:1::/48", "100::/8", "2001::/23", "2001:db8::/32",
        "2002::/16", "2620:4f:8000::/48", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10",
        "fec0::/10", "ff00::/8",
    )
)  # fmt: skip
GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")


def is_special_purpose(ip: IPAddress) -> bool:
    """True for every address an action may not call (unless private networks are allowed)."""
    if any(ip in net for net in SPECIAL_PURPOSE_NETWORKS if net.version == ip.version):
        return True
    if ip.version == 6 and ip not in GLOBAL_UNICAST_V6:
        return True
    return not ip.is_global


class _StrictIPFilterAdapter(IPFilterAdapter):
    """requests-hardened's adapter (resolves once, pins the connection to the checked
    address) with the stricter rule above applied to the pinned address."""

    def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None) -> Any:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if is_special_purpose(ipaddress.ip_address(host_params["host"].strip("[]"))):
            raise InvalidIPAddress("special-purpose address")
        return host_params, pool_kwargs


# Never names the address: the workflow creator must not learn what internal names resolve to.
REFUSED_MESSAGE = (
    "Refused to call this URL: its host is, or resolves to, a private or special-purpose address."
)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _http() -> Manager:
    allow_private = settings.ACTIONS_ALLOW_PRIVATE_NETWORKS
    return Manager(
        Config(
            ip_filter_enable=not allow_private,
            ip_filter_allow_loopback_ips=False,
            never_redirect=True,
            default_timeout=(10, 10),
            user_agent_override="TicketFlower-Actions/1",
        )
    )


def _session() -> requests.Session:
    session = _http().get_session()
    if not settings.ACTIONS_ALLOW_PRIVATE_NETWORKS:
        session.mount("http://", _StrictIPFilterAdapter(is_https_proto=False))
        session.mount("https://", _StrictIPFilterAdapter(is_https_proto=True))
    return session


def _reason(exc: Exception) -> str:
    """A failure's kind without the addresses requests puts in its text."""
    text = repr(exc)
    for marker, reason in (
        ("NameResolution", "the host name does not resolve"),
        ("Failed to resolve", "the host name does not resolve"),
        ("ConnectionRefused", "connection refused"),
        ("Connection refused", "connection refused"),
        ("SSLError", "TLS handshake failed"),
        ("CERTIFICATE", "TLS certificate rejected"),
        ("RemoteDisconnected", "the server closed the connection"),
        ("ConnectionReset", "connection reset"),
        ("Network is unreachable", "network unreachable"),
        ("InvalidURL", "invalid URL"),
        ("InvalidSchema", "unsupported URL scheme"),
        ("MissingSchema", "the URL has no scheme"),
    ):
        if marker in text:
            return reason
    return type(exc).__name__


def post_json(
    *, url: str, payload: dict[str, Any], secret: str, idempotency_key: str, timeout: float
) -> ActionResponse:
    """POSTs `payload`; returns the parsed 2xx JSON answer or raises ActionError.

    `timeout` bounds the whole exchange. Socket timeouts alone cannot (a server that
    drips bytes resets them), so the exchange runs in a helper thread and is cut off
    at the deadline: its socket is shut down and the call counts as timed out."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Idempotency-Key": idempotency_key,
        SIGNATURE_HEADER: sign(secret, body),
    }
    exchange = _Exchange(url=url, body=body, headers=headers, timeout=timeout)
    worker = threading.Thread(target=exchange.run, name="action-call", daemon=True)
    worker.start()
    if not exchange.done.wait(timeout):
        exchange.abort()
        raise ActionError(f"No complete response within {timeout:g}s.", transient=True)
    if exchange.error is not None:
        raise exchange.error
    assert exchange.result is not None
    return exchange.result


class _Exchange:
    """One HTTP exchange, run in a helper thread so the caller can enforce a deadline."""

    def __init__(self, *, url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
        self.url, self.body, self.headers, self.timeout = url, body, headers, timeout
        self.done = threading.Event()
        self.response: requests.Response | None = None
        self.result: ActionResponse | None = None
        self.error: ActionError | None = None

    def run(self) -> None:
        try:
            self.result = self._exchange()
        except ActionError as exc:
            self.error = exc
        except Exception as exc:  # after an abort, or a bug: never lost silently
            self.error = ActionError(f"Request failed: {exc!r}", transient=False)
        finally:
            self.done.set()

    def abort(self) -> None:
        response = self.response
        if response is None:
            return
        connection = getattr(response.raw, "connection", None)
        sock = getattr(connection, "sock", None)
        with contextlib.suppress(OSError):
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a read blocked in the helper thread
        with contextlib.suppress(Exception):
            response.close()

    def _exchange(self) -> ActionResponse:
        url, timeout = self.url, self.timeout
        cap = settings.ACTIONS_MAX_RESPONSE_BYTES
        try:
            with _session() as session:
                response = session.post(
                    url,
                    data=self.body,
                    headers=self.headers,
                    timeout=(timeout, timeout),
                    stream=True,
                    allow_redirects=False,
                )
                self.response = response
                with response:
                    chunks: list[bytes] = []
                    size = 0
                    for chunk in response.iter_content(chunk_size=65536):
                        size += len(chunk)
                        if size > cap:
                            raise ActionError(
                                f"Response body is larger than the {cap} byte cap.", transient=False
                            )
                        chunks.append(chunk)
        except InvalidIPAddress as exc:
            raise ActionError(REFUSED_MESSAGE, transient=False) from exc
        except requests.Timeout as exc:
            raise ActionError(f"No response within {timeout:g}s.", transient=True) from exc
        except requests.ConnectionError as exc:
            if isinstance(exc.__context__, InvalidIPAddress) or "InvalidIPAddress" in repr(exc):
                raise ActionError(REFUSED_MESSAGE, transient=False) from exc
            # requests' text names the pinned (resolved) address; say what failed instead.
            raise ActionError(f"Connection failed ({_reason(exc)}).", transient=True) from exc
        except requests.RequestException as exc:
            raise ActionError(f"Request failed ({_reason(exc)}).", transient=False) from exc
        return _interpret(url, response, b"".join(chunks))


def _interpret(url: str, response: requests.Response, raw: bytes) -> ActionResponse:
    status = response.status_code
    if 300 <= status < 400:
        raise ActionError(
            f"HTTP {status} redirect to {response.headers.get('Location', '?')} is not followed.",
            transient=False,
        )
    if status in TRANSIENT_STATUSES or status >= 500:
        raise ActionError(f"HTTP {status} from {url}.", transient=True)
    if not 200 <= status < 300:
        raise ActionError(f"HTTP {status} from {url}.", transient=False)
    try:
        parsed = jsonsafe.loads(raw) if raw.strip() else {}
    except jsonsafe.JSONRefused as exc:
        raise ActionError(f"Response is not JSON we can store: {exc}", transient=False) from exc
    return ActionResponse(status=status, headers=dict(response.headers), body=parsed)
