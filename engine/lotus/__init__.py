"""Chain state from a Lotus node's JSON-RPC v1 API (or ``harmony chain serve``, which speaks it).

Public API::

    endpoints = await resolve_endpoint(args.lotus_api, db=db)  # --lotus-api, FULLNODE_API_INFO,
                                                               # or Curio's [Apis] ChainApiInfo
    async with LotusClient(endpoints[0].info, timeout=5) as lotus:
        head = await lotus.chain_head()                         # TipSet
        info = await lotus.state_miner_proving_deadline("f01000")
        parts = await lotus.state_miner_partitions("f01000", info.index)
        faulty = (await lotus.state_miner_faults("f01000")).count()

Types are decoded exactly as Lotus encodes them (``api-methods-v1-stable.md``): bitfields as
run lengths (:class:`BitField`), CIDs as ``{"/": …}``, token amounts as decimal strings,
tipset keys as lists of CIDs. Errors derive from :class:`LotusError` and never hold the token.
"""

from engine.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "apiinfo": ["API_VERSION", "ApiInfo", "parse_api_info", "parse_api_info_multi"],
        "bitfield": ["BitField"],
        "client": ["DEFAULT_TIMEOUT", "LotusClient", "miner_address"],
        "encoding": ["Cid", "TipSetKey"],
        "endpoint": [
            "ENV_VAR",
            "Endpoint",
            "endpoints_from_layers",
            "read_config_layers",
            "resolve_endpoint",
        ],
        "errors": [
            "ApiInfoError",
            "LotusDecodeError",
            "LotusError",
            "LotusHTTPError",
            "LotusNotConfigured",
            "LotusRPCError",
            "LotusTimeout",
            "LotusUnauthorized",
            "LotusUnreachable",
        ],
        "types": [
            "BeaconEntry",
            "BeneficiaryTerm",
            "BlockHeader",
            "Claim",
            "Deadline",
            "DeadlineInfo",
            "ElectionProof",
            "MinerInfo",
            "MinerPower",
            "Partition",
            "PendingBeneficiaryChange",
            "PoStProof",
            "Signature",
            "Ticket",
            "TipSet",
            "Version",
        ],
    },
)
