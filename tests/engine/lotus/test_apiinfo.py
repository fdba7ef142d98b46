"""Lotus API info (``FULLNODE_API_INFO``): every form Lotus accepts, clear refusals that never
show the token, and the resolution order --lotus-api, environment, Curio's config layers."""

from __future__ import annotations

import pytest

from engine.harmonydb import DB
from engine.lotus import (
    ApiInfo,
    ApiInfoError,
    LotusNotConfigured,
    endpoints_from_layers,
    parse_api_info,
    parse_api_info_multi,
    resolve_endpoint,
)

# A JWT as `lotus auth api-info --perm=read` prints one.
TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJBbGxvdyI6WyJyZWFkIl19.q2mzZQnBNe6ZZsgyKd6b7TdYrTHQ"


@pytest.mark.parametrize(
    ("text", "url", "token"),
    [
        (f"{TOKEN}:/ip4/127.0.0.1/tcp/1234/http", "http://127.0.0.1:1234/rpc/v1", TOKEN),
        ("/ip4/127.0.0.1/tcp/1234/http", "http://127.0.0.1:1234/rpc/v1", None),
        ("/ip4/10.0.0.5/tcp/1234", "http://10.0.0.5:1234/rpc/v1", None),
        (f"{TOKEN}:/dns/lotus.example/tcp/1234/http", "http://lotus.example:1234/rpc/v1", TOKEN),
        ("/dns4/lotus-daemon/tcp/1234/ws", "http://lotus-daemon:1234/rpc/v1", None),
        ("/dns6/lotus.example/tcp/443/wss", "https://lotus.example:443/rpc/v1", None),
        ("/dns/lotus.example/tcp/443/tls/ws", "https://lotus.example:443/rpc/v1", None),
        ("/dns/lotus.example/tcp/443/https", "https://lotus.example:443/rpc/v1", None),
        ("/ip6/::1/tcp/1234/http", "http://[::1]:1234/rpc/v1", None),
        ("/ip4/127.0.0.1/tcp/1234/http/", "http://127.0.0.1:1234/rpc/v1", None),
        (f"{TOKEN}:http://127.0.0.1:1234", "http://127.0.0.1:1234/rpc/v1", TOKEN),
        ("http://127.0.0.1:1234", "http://127.0.0.1:1234/rpc/v1", None),
        ("ws://lotus.example:1234/", "http://lotus.example:1234/rpc/v1", None),
        ("wss://glif.example", "https://glif.example/rpc/v1", None),
        ("https://glif.example/rpc/v1", "https://glif.example/rpc/v1", None),
        ("http://[::1]:1234", "http://[::1]:1234/rpc/v1", None),
        (f"  {TOKEN}:/ip4/127.0.0.1/tcp/1234/http\n", "http://127.0.0.1:1234/rpc/v1", TOKEN),
    ],
)
def test_lotus_forms(text: str, url: str, token: str | None) -> None:
    info = parse_api_info(text)
    assert info.url == url
    assert info.token == token
    assert info.headers() == ({"Authorization": f"Bearer {token}"} if token else {})


def test_the_token_is_not_in_repr_or_str() -> None:
    info = parse_api_info(f"{TOKEN}:/ip4/127.0.0.1/tcp/1234/http")
    assert TOKEN not in repr(info) and TOKEN not in str(info)
    assert "with a token" in str(info)


def test_several_endpoints_comma_separated() -> None:
    infos = parse_api_info_multi(f"{TOKEN}:/ip4/10.0.0.1/tcp/1234/http,/ip4/10.0.0.2/tcp/1234")
    assert [i.url for i in infos] == [
        "http://10.0.0.1:1234/rpc/v1",
        "http://10.0.0.2:1234/rpc/v1",
    ]
    assert [i.token for i in infos] == [TOKEN, None]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        (TOKEN, "neither TOKEN:MULTIADDR"),  # a token alone
        (f"{TOKEN}:127.0.0.1:1234", "neither TOKEN:MULTIADDR"),
        (f"{TOKEN}:/ip4/127.0.0.1/http", "/http must follow /tcp/PORT"),
        (f"{TOKEN}:/ip4/127.0.0.1", "the multiaddr has no /tcp/PORT"),
        (f"{TOKEN}:/ip4/127.0.0.1/tcp/http", "port must be a number"),
        (f"{TOKEN}:/ip4/127.0.0.1/tcp/99999/http", "port must be a number"),
        (f"{TOKEN}:/ip4/127.0.0.1/tcp/0/http", "port must be a number"),
        (f"{TOKEN}:/ip4/300.1.1.1/tcp/1234/http", "not an IP4 address"),
        (f"{TOKEN}:/ip6/127.0.0.1/tcp/1234/http", "not an IP6 address"),
        (f"{TOKEN}:/dns/bad_host!/tcp/1234/http", "not a host name"),
        (f"{TOKEN}:/tcp/1234/http", "must follow /ip4"),
        (f"{TOKEN}:/ip4/127.0.0.1/tcp/1234/quic", "/quic (component 5"),
        (f"{TOKEN}:/unix/run/lotus.sock", "/unix (component 1"),
        # the token after the address: the misplaced token must not be echoed
        (f"/ip4/127.0.0.1/tcp/1234/http:{TOKEN}", "a component (component 5"),
        (f"/ip4/127.0.0.1/tcp/1234/{TOKEN}", "a component (component 5"),
        (f"{TOKEN}:ftp://127.0.0.1:1234", "scheme must be http"),
        (f"http://user:{TOKEN}@127.0.0.1:1234", "put the token before the address"),
        (f"{TOKEN}:http://127.0.0.1:1234/?token=x", "query or fragment"),
        (f"{TOKEN}:http://127.0.0.1:notaport", "malformed"),
        ("bad token:/ip4/127.0.0.1/tcp/1234/http", "holds spaces"),
    ],
)
def test_bad_forms_say_why_without_the_token(text: str, says: str) -> None:
    with pytest.raises(ApiInfoError) as caught:
        parse_api_info(text, what="FULLNODE_API_INFO")
    message = str(caught.value)
    assert says in message
    assert message.startswith("FULLNODE_API_INFO")
    assert TOKEN not in message and TOKEN[:20] not in message
    assert TOKEN not in repr(caught.value)


def test_an_api_info_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_api_info("nonsense")


# ----------------------------------------------------------------------------- resolution


async def test_an_explicit_endpoint_wins_over_the_environment() -> None:
    env = {"FULLNODE_API_INFO": f"{TOKEN}:/ip4/10.0.0.9/tcp/1234/http"}
    (found,) = await resolve_endpoint("/ip4/127.0.0.1/tcp/4321/http", environ=env)
    assert found.source == "--lotus-api"
    assert found.info == ApiInfo("http://127.0.0.1:4321/rpc/v1", None)
    (from_env,) = await resolve_endpoint(None, environ=env)
    assert from_env.source == "FULLNODE_API_INFO"
    assert from_env.info.token == TOKEN
    assert TOKEN not in str(from_env)


async def test_a_bad_environment_value_is_refused_not_skipped(db: DB) -> None:
    await db.exec(
        "INSERT INTO harmony_config (title, config) VALUES ('base', $1)",
        '[Apis]\nChainApiInfo = ["/ip4/10.0.0.1/tcp/1234/http"]\n',
    )
    with pytest.raises(ApiInfoError, match="FULLNODE_API_INFO: the multiaddr has no /tcp"):
        await resolve_endpoint(None, environ={"FULLNODE_API_INFO": f"{TOKEN}:/ip4/10.0.0.1"}, db=db)


async def test_curio_config_layers_in_harmony_config(db: DB) -> None:
    # Curio's table (harmony/harmonydb/sql/20230919-config.sql): a TOML document per layer.
    await db.exec(
        "INSERT INTO harmony_config (title, config) VALUES ($1, $2), ($3, $4), ($5, $6)",
        "aaa-gpu",
        '[Apis]\nChainApiInfo = ["/ip4/10.0.0.7/tcp/1234/http"]\n',
        "base",
        f'[Subsystems]\nEnableWindowPost = true\n\n[APIs]\nChainApiInfo = ["{TOKEN}:'
        '/ip4/10.0.0.1/tcp/1234/http", "/dns/lotus-2/tcp/1234/http"]\n',
        "broken",
        "[Apis\nnot toml",
    )
    found = await resolve_endpoint(None, environ={}, db=db)
    assert [e.info.url for e in found] == [
        "http://10.0.0.1:1234/rpc/v1",
        "http://lotus-2:1234/rpc/v1",
    ]
    assert found[0].info.token == TOKEN
    assert found[0].source == "harmony_config layer 'base' [Apis] ChainApiInfo (entry 1)"
    assert TOKEN not in str(found[0])


def test_layers_other_than_base_are_read_by_title() -> None:
    found = endpoints_from_layers(
        [
            ("zeta", 'apis.chainapiinfo = ["/ip4/10.0.0.9/tcp/1/http"]'),
            ("base", "[Subsystems]\nEnableWebGui = true\n"),
            ("market", '[Apis]\nChainApiInfo = "/ip4/10.0.0.3/tcp/1234/http"\n'),
        ]
    )
    assert [(e.info.url, e.source) for e in found] == [
        ("http://10.0.0.3:1234/rpc/v1", "harmony_config layer 'market' [Apis] ChainApiInfo")
    ]


def test_a_bad_entry_in_a_layer_names_the_layer_not_the_token() -> None:
    with pytest.raises(ApiInfoError) as caught:
        endpoints_from_layers([("base", f'[Apis]\nChainApiInfo = ["{TOKEN}:/ip4/1.2.3.4"]\n')])
    assert "harmony_config layer 'base' [Apis] ChainApiInfo" in str(caught.value)
    assert TOKEN not in str(caught.value)


async def test_nothing_configured_says_where_to_configure(db: DB) -> None:
    with pytest.raises(LotusNotConfigured, match=r"--lotus-api.*FULLNODE_API_INFO.*ChainApiInfo"):
        await resolve_endpoint(None, environ={"FULLNODE_API_INFO": " "}, db=db)
    with pytest.raises(LotusNotConfigured):
        await resolve_endpoint(None, environ={})


async def test_a_database_without_harmony_config_has_no_layers(db: DB) -> None:
    await db.exec("DROP TABLE harmony_config")
    with pytest.raises(LotusNotConfigured):
        await resolve_endpoint(None, environ={}, db=db)
