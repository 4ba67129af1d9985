"""A local fake Secret Manager (v1, REST) that records every request, like tests/fake_vertex.py fakes Vertex.

Answers are real ``google.cloud.secretmanager_v1`` messages serialised with ``to_json``, so the client parses
them exactly as it would parse Secret Manager's. Only 127.0.0.1 is used.

    with FakeSecretManager({"projects/p/secrets/ls-token/versions/1": b"abc"}) as fake:
        read_secret_version("projects/p/secrets/ls-token/versions/1", api_endpoint=fake.url, credentials=...)
"""

from __future__ import annotations

import re

import google_crc32c
from fake_vertex import FakeServer, Reply, Request, google_error
from google.cloud import secretmanager_v1


class FakeSecretManager(FakeServer):
    """Serves ``secrets`` (version resource name → payload); ``denied`` names answer 403; ``latest`` resolves to
    the highest numbered version of a secret."""

    def __init__(self, secrets: dict[str, bytes], *, denied: tuple[str, ...] = (), bad_checksum: bool = False):
        self.secrets = dict(secrets)
        self.denied = set(denied)
        self.bad_checksum = bad_checksum
        super().__init__(
            [("GET", re.compile(r"/v1/(?P<name>projects/[^/]+/secrets/[^/]+/versions/[^/:]+):access"), self._access)]
        )

    def _access(self, request: Request, name: str) -> Reply:
        if name in self.denied:
            return google_error(403, f"Permission 'secretmanager.versions.access' denied for resource '{name}'")
        name = self._resolve(name)
        if name not in self.secrets:
            return google_error(404, f"Secret Version [{name}] not found or has no versions.")
        data = self.secrets[name]
        checksum = int(google_crc32c.value(data)) ^ (1 if self.bad_checksum else 0)
        response = secretmanager_v1.AccessSecretVersionResponse(
            name=name, payload=secretmanager_v1.SecretPayload(data=data, data_crc32c=checksum)
        )
        return Reply(200, secretmanager_v1.AccessSecretVersionResponse.to_json(response))

    def _resolve(self, name: str) -> str:
        if not name.endswith("/versions/latest"):
            return name
        prefix = name.removesuffix("latest")
        numbered = [int(n.removeprefix(prefix)) for n in self.secrets if n.startswith(prefix)]
        return f"{prefix}{max(numbered)}" if numbered else name
