"""One spelling per Git repository, whatever URL form names it.

Buildkite reports a pipeline's repository as it was configured, Cortex names it as
``org/repo`` under a provider, and people paste whatever their clone button gave them.
All of these name the same repository and normalise to ``github.com/acme/payments-api``::

    git@github.com:acme/payments-api.git          (scp-like)
    ssh://git@github.com:22/acme/payments-api.git
    https://github.com/acme/payments-api
    https://token@GitHub.com/acme/payments-api.git/
    github.com/acme/payments-api

Host and path are compared without case (GitHub, GitLab and Bitbucket treat them so);
ports, user info, a ``.git`` suffix and trailing slashes are dropped. Azure DevOps's two
forms (``dev.azure.com/org/project/_git/repo`` and ``ssh.dev.azure.com:v3/org/project/repo``)
meet at ``dev.azure.com/org/project/repo``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["PROVIDER_HOSTS", "normalise_repository"]

# Cortex's ``x-cortex-git`` providers and the host their short ``org/repo`` names live on.
PROVIDER_HOSTS = {
    "github": "github.com",
    "gitlab": "gitlab.com",
    "bitbucket": "bitbucket.org",
    "azure": "dev.azure.com",
}

_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>(?!//).+)$")


def normalise_repository(url: str, *, default_host: str | None = None) -> str | None:
    """``host/path`` in lower case, or ``None`` when ``url`` names no repository.

    ``default_host`` is used for host-less names such as Cortex's ``acme/payments-api``.
    """
    text = url.strip()
    if not text:
        return None
    if "://" in text:
        parts = urlsplit(text)
        host, path = parts.hostname or "", parts.path
    elif (match := _SCP_LIKE.match(text)) and "." in match["host"]:
        host, path = match["host"], match["path"]
    else:
        head, _, rest = text.partition("/")
        if "." in head and rest:
            host, path = head, rest
        elif default_host is not None:
            host, path = default_host, text
        else:
            return None
    path = path.strip("/")
    if path.lower().endswith(".git"):
        path = path[:-4].rstrip("/")
    if not host or not path:
        return None
    host, path = _azure(host.lower(), path)
    return f"{host}/{path.lower()}"


def _azure(host: str, path: str) -> tuple[str, str]:
    if host == "ssh.dev.azure.com" and path.lower().startswith("v3/"):
        return "dev.azure.com", path[3:]
    if host == "dev.azure.com":
        return host, path.replace("/_git/", "/")
    return host, path
