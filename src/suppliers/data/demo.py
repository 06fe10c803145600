"""The demo users a … z (password = username), each bound to its vendor; `a` is an operator."""

from __future__ import annotations

import string
import uuid

DEMO_VENDOR_IDS = tuple(
    uuid.UUID(v)
    for v in (
        "24c8baa4-40db-4dd7-83b7-fd28b09b0155",
        "306c68cb-164e-48ab-bae1-1f4340b2548c",
        "e587397b-5a33-4604-88ce-886024321e3d",
        "8becfc81-d436-4f01-8b5f-a2c5e0bde4df",
        "46f518bd-e6d8-4640-bc86-434023a1425a",
        "9881b926-3cd0-4e9a-8f19-19744fa449e6",
        "47916915-036a-4344-ba34-f91f8704dc78",
        "b86fe5a3-c3c5-44be-a368-0c9357898124",
        "e08e2df2-5693-4e4d-b631-a4c482e3d915",
        "f1b2ab99-98a1-4920-b5cd-62b603b88b62",
        "fff5d6d4-5b29-4b8b-bdf8-879dc004e658",
        "98cfe59f-0008-41f6-a72e-4c850002e900",
        "3dec4d79-6d28-4980-b964-7e27f4b1fd5a",
        "26f79560-80eb-4495-b122-f41211cd60d0",
        "9080a5a9-e6b4-4af0-b52f-3e8e2bd69112",
        "ea76a8e1-4297-432a-bc21-51c95d0b3de8",
        "76ae83b2-37f5-4780-adac-1580384f530c",
        "e0205d6e-4477-4478-8065-1ad15847bf30",
        "e9fa4fea-b148-4cb1-855f-3133abb11b2c",
        "8732b4a9-9845-46ed-8155-9689f64f6814",
        "9b675be9-ef83-4fd0-86fa-08bbfb15450b",
        "528b6d22-1cb6-447a-bef3-2d7a047f6498",
        "5cd647a3-cc3c-4204-8198-88882b20f553",
        "803dbcc6-bf70-4ea3-9378-105f30a50495",
        "6d92be02-af97-44d3-8fa3-e45ce679e109",
        "677af515-ca17-45ab-8079-6efd2e964147",
    )
)

DEMO_USERS: tuple[tuple[str, uuid.UUID, str], ...] = tuple(
    (name, vendor_id, "operator" if name == "a" else "vendor")
    for name, vendor_id in zip(string.ascii_lowercase, DEMO_VENDOR_IDS, strict=True)
)
