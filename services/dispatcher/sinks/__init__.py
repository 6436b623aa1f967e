"""The sinks, and :func:`build_sinks`, which makes them from the routes file.

Building checks everything that can be checked before the first alert: every secret is
there, every URL passes outbound safety (scheme, literal addresses), so that a broken
configuration stops the dispatcher at start with one clear message. Each HTTP sink gets
its own client (its own connection pool and guard), made here, once, with a connection
for each delivery its window may have in flight (``sink_concurrency``).
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr

from services.dispatcher.credentials import SecretSource
from services.dispatcher.egress import Reach, reach_for
from services.dispatcher.errors import ConfigError, DestinationRefused
from services.dispatcher.outbound import Resolver, SinkClient, make_client, system_resolver
from services.dispatcher.routing import (
    BuildkiteBuildSinkConfig,
    LogSinkConfig,
    PagerDutySinkConfig,
    RoutesFile,
    SinkConfig,
    SlackSinkConfig,
    WebhookSinkConfig,
)
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.sinks.base import Envelope, Receipt, Sink
from services.dispatcher.sinks.buildkite import BuildkiteBuildSink
from services.dispatcher.sinks.log import LogSink
from services.dispatcher.sinks.pagerduty import PagerDutySink
from services.dispatcher.sinks.slack import SlackSink
from services.dispatcher.sinks.webhook import WebhookSink

__all__ = ["Envelope", "Receipt", "Sink", "build_sinks"]


def build_sinks(
    routes: RoutesFile,
    settings: DispatcherSettings,
    secrets: SecretSource,
    *,
    resolver: Resolver = system_resolver,
) -> dict[str, Sink]:
    """Every sink of ``routes``, ready to send; :class:`ConfigError` when one cannot be."""
    # Check all sinks before making any client, so that an error leaves nothing open.
    makers = {
        name: _maker(name, config, settings, secrets, resolver)
        for name, config in routes.sinks.items()
    }
    return {name: make() for name, make in makers.items()}


def _maker(
    name: str,
    config: SinkConfig,
    settings: DispatcherSettings,
    secrets: SecretSource,
    resolver: Resolver,
) -> Callable[[], Sink]:
    def reach(url: str) -> Reach:
        try:
            return reach_for(url, allow_private=config.allow_private, dev_mode=settings.dev_mode)
        except DestinationRefused as exc:
            raise ConfigError(f"sink {name!r}: {exc}") from None

    match config:
        case SlackSinkConfig():
            url = secrets.required(name, "url", env=config.url_env, file=config.url_file)
            r = reach(url.get_secret_value())
            return lambda: SlackSink(
                name,
                url=url,
                client=_client(r, settings, resolver),
                min_interval_s=settings.slack_interval_s,
            )
        case WebhookSinkConfig():
            url = (
                SecretStr(config.url)
                if config.url is not None
                else secrets.required(name, "url", env=config.url_env, file=config.url_file)
            )
            secret = secrets.required(
                name, "secret", env=config.secret_env, file=config.secret_file
            )
            r = reach(url.get_secret_value())
            return lambda: WebhookSink(
                name, url=url, secret=secret, client=_client(r, settings, resolver)
            )
        case PagerDutySinkConfig():
            key = secrets.required(
                name, "routing_key", env=config.routing_key_env, file=config.routing_key_file
            )
            r = reach(config.events_url)
            return lambda: PagerDutySink(
                name,
                routing_key=key,
                events_url=config.events_url,
                client=_client(r, settings, resolver),
            )
        case BuildkiteBuildSinkConfig():
            token = secrets.required(name, "token", env=config.token_env, file=config.token_file)
            r = reach(config.api_url)
            return lambda: BuildkiteBuildSink(
                name,
                organization=config.organization,
                pipeline=config.pipeline,
                token=token,
                api_url=config.api_url,
                branch=config.branch,
                commit=config.commit,
                client=_client(r, settings, resolver),
            )
        case LogSinkConfig():
            return lambda: LogSink(name)


def _client(reach: Reach, settings: DispatcherSettings, resolver: Resolver) -> SinkClient:
    return make_client(
        reach,
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
        resolver=resolver,
        max_connections=settings.sink_concurrency,
    )
