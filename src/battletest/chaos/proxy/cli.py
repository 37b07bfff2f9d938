"""``battletest proxy``: run the fault proxy server, or drive a running one through its API.

battletest proxy --api 127.0.0.1:8474 --config proxies.json     # serve (until Ctrl-C)
battletest proxy --api 0.0.0.0:8474 --allow-remote --api-token T  # beyond loopback: token needed
battletest proxy add pms --listen 127.0.0.1:19001 --upstream 127.0.0.1:9001
battletest proxy toxic pms latency --latency 200 --jitter 50 --toxicity 0.5
battletest proxy list | disable pms | enable pms | remove pms [TOXIC] | reset
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from battletest.chaos.proxy.client import DEFAULT_API, ProxyClient
from battletest.errors import UsageError
from battletest.netutil import remote_control_options

API_ENV = "BATTLETEST_PROXY_API"
TOKEN_ENV = "BATTLETEST_PROXY_TOKEN"


def _client(ctx: click.Context) -> ProxyClient:
    return ProxyClient(ctx.obj["api"], token=ctx.obj["token"])


@click.group(
    "proxy",
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--api",
    default=lambda: os.environ.get(API_ENV, DEFAULT_API),
    show_default=DEFAULT_API,
    help=f"Control API address: where to serve it, or where the subcommands reach it (env {API_ENV}).",
)
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    default=None,
    help="Populate the server at start from this Toxiproxy JSON file (a list of proxies).",
)
@click.option("--seed", type=int, default=None, help="Seed for toxicity and jitter draws.")
@remote_control_options("control API", "--api-token", TOKEN_ENV, "the subcommands send it")
@click.pass_context
def proxy(
    ctx: click.Context,
    api: str,
    config: str | None,
    seed: int | None,
    allow_remote: bool,
    api_token: str | None,
) -> None:
    """Fault proxy with Toxiproxy's toxics and REST API, plus HTTP faults.

    Without a subcommand, serve the control API (Toxiproxy-compatible) until Ctrl-C. It listens
    on loopback only, unless --allow-remote is given with an --api-token.
    """
    ctx.ensure_object(dict)
    ctx.obj["api"] = api
    ctx.obj["token"] = api_token or None
    if ctx.invoked_subcommand is None:
        serve(api, config, seed, allow_remote=allow_remote, token=api_token or None)
    elif config is not None:
        raise UsageError("--config is for serving", hint="drop the subcommand to serve")


def serve(
    api: str,
    config: str | None,
    seed: int | None,
    *,
    allow_remote: bool = False,
    token: str | None = None,
) -> None:
    """Serve proxies and the control API in this process until interrupted."""
    from battletest.chaos.proxy.core import ProxyServer, parse_address
    from battletest.chaos.proxy.facade import (
        bind_socket,
        load_populate_file,
        new_event_loop,
        serve_api,
    )
    from battletest.netutil import guard_control_bind

    guard_control_bind(
        parse_address(api, "API address")[0],
        allow_remote=allow_remote,
        token=token,
        what="the proxy control API",
        token_hint=f"--api-token TOKEN or ${TOKEN_ENV}",
    )
    populate = load_populate_file(config) if config else None
    sock = bind_socket(api)

    async def main() -> None:
        async with ProxyServer(seed=seed) as server:
            if populate is not None:
                proxies = await server.populate(populate)
                for p in proxies:
                    click.echo(f"proxy {p.name}: {p.listen} -> {p.upstream}")
            host, port = sock.getsockname()[:2]
            click.echo(f"battletest proxy: control API on http://{host}:{port} (Ctrl-C to stop)")
            api = await serve_api(server, sock, token=token)
            await api.wait()

    loop = new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        sock.close()
        loop.close()


@proxy.command("add")
@click.argument("name")
@click.option("--upstream", required=True, help="host:port the proxy forwards to.")
@click.option("--listen", default="127.0.0.1:0", show_default=True, help="host:port to listen on.")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@click.pass_context
def add(ctx: click.Context, name: str, upstream: str, listen: str, disabled: bool) -> None:
    """Create a proxy NAME listening on --listen and forwarding to --upstream."""
    with _client(ctx) as client:
        created = client.create(name, upstream, listen, enabled=not disabled)
    click.echo(f"proxy {created['name']}: {created['listen']} -> {created['upstream']}")


def _attributes(args: list[str]) -> dict[str, Any]:
    """``--latency 200 --jitter=50`` → {"latency": "200", "jitter": "50"} (the server types them)."""
    attrs: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            raise UsageError(
                f"unexpected argument {arg!r}", hint="toxic attributes look like --latency 200"
            )
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(args):
                raise UsageError(f"attribute --{key} needs a value")
            value = args[i + 1]
            i += 1
        attrs[key.replace("-", "_")] = value
        i += 1
    return attrs


@proxy.command("toxic", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("proxy_name", metavar="PROXY")
@click.argument("toxic_type", metavar="TYPE")
@click.option("--name", default=None, help="Toxic name (default TYPE_STREAM).")
@click.option(
    "--stream",
    type=click.Choice(["upstream", "downstream"]),
    default="downstream",
    show_default=True,
)
@click.option("--toxicity", type=float, default=1.0, show_default=True, help="Probability 0..1.")
@click.pass_context
def toxic(
    ctx: click.Context,
    proxy_name: str,
    toxic_type: str,
    name: str | None,
    stream: str,
    toxicity: float,
) -> None:
    """Add a toxic of TYPE to PROXY; attributes as options (--latency 200 --jitter 50).

    Types: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data,
    packet_loss, blackhole, http_status, http_throttle, http_delay, http_body
    (`battletest proxy types` lists their attributes).
    """
    body: dict[str, Any] = {
        "type": toxic_type,
        "stream": stream,
        "toxicity": toxicity,
        "attributes": _attributes(list(ctx.args)),
    }
    if name:
        body["name"] = name
    with _client(ctx) as client:
        created = client.add_toxic(proxy_name, body)
    click.echo(f"toxic {created['name']} on {proxy_name}: {_describe(created)}")


def _describe(toxic: dict[str, Any]) -> str:
    attrs = " ".join(f"{k}={v}" for k, v in toxic.get("attributes", {}).items() if v != "")
    return f"{toxic['type']} {toxic['stream']} toxicity={toxic['toxicity']:g} {attrs}".strip()


@proxy.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List proxies, their state and toxics."""
    with _client(ctx) as client:
        proxies = client.proxies()
    if as_json:
        click.echo(json.dumps(proxies, indent=2, sort_keys=True))
        return
    if not proxies:
        click.echo("no proxies")
        return
    for name, p in sorted(proxies.items()):
        state = "enabled" if p.get("enabled") else "disabled"
        click.echo(f"{name}  {p['listen']} -> {p['upstream']}  {state}")
        stats = p.get("stats", {})
        if stats:
            click.echo(
                f"  connections {stats.get('connections_total', 0)} "
                f"({stats.get('connections_active', 0)} open), "
                f"upstream errors {stats.get('upstream_errors', 0)}"
            )
        for t in p.get("toxics", []):
            click.echo(f"  {t['name']}: {_describe(t)}")


@proxy.command("types")
def types() -> None:
    """List the toxic types and their attributes (defaults in brackets)."""
    from battletest.chaos.proxy.toxics import ToxicKinds

    for kind in ToxicKinds():
        scope = "http" if kind.http else "tcp"
        click.echo(f"{kind.name} ({scope}): {kind.help}")
        for attr in kind.attributes:
            click.echo(f"  --{attr.name.replace('_', '-')} [{attr.default!r}]  {attr.help}")


def _switch(enabled: bool, help: str) -> click.Command:
    """The ``enable`` / ``disable`` command: one flag of a proxy, set through the control API."""
    verb = "enable" if enabled else "disable"

    @click.argument("name")
    @click.pass_context
    def command(ctx: click.Context, name: str) -> None:
        with _client(ctx) as client:
            client.update(name, enabled=enabled)
        click.echo(f"proxy {name}: {verb}d")

    return click.command(verb, help=help)(command)


proxy.add_command(
    _switch(False, "Disable a proxy: new connections are refused, open ones are cut.")
)
proxy.add_command(_switch(True, "Enable a disabled proxy (it listens on the same address again)."))


@proxy.command("remove")
@click.argument("name")
@click.argument("toxic_name", required=False, metavar="[TOXIC]")
@click.pass_context
def remove(ctx: click.Context, name: str, toxic_name: str | None) -> None:
    """Remove the toxic TOXIC from proxy NAME, or the proxy itself."""
    with _client(ctx) as client:
        if toxic_name:
            client.remove_toxic(name, toxic_name)
            click.echo(f"toxic {toxic_name} removed from {name}")
        else:
            client.delete(name)
            click.echo(f"proxy {name} removed")


@proxy.command("reset")
@click.pass_context
def reset(ctx: click.Context) -> None:
    """Enable every proxy and remove every toxic."""
    with _client(ctx) as client:
        client.reset()
    click.echo("all proxies enabled, all toxics removed")


__all__ = ["proxy"]
