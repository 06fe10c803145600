"""Who is emitting: the resource every span, metric and log of this process carries."""

from __future__ import annotations

from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_VERSION, Resource

from suppliers import __version__
from suppliers.settings import Settings

DEFAULT_SERVICE_NAME = "suppliers-api"
DEPLOYMENT_ENVIRONMENT_NAME = "deployment.environment.name"


def build_resource(settings: Settings, *, instance_id: str) -> Resource:
    """Our defaults, overridden by OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME when they are set."""
    from_environment = Resource.create()
    ours = Resource(
        {
            SERVICE_NAME: DEFAULT_SERVICE_NAME,
            SERVICE_VERSION: __version__,
            DEPLOYMENT_ENVIRONMENT_NAME: settings.environment,
            SERVICE_INSTANCE_ID: instance_id,
        }
    )
    attributes = dict(from_environment.attributes)
    # The SDK fills in "unknown_service:<executable>" when neither variable names the service.
    if str(attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        del attributes[SERVICE_NAME]
    return ours.merge(Resource(attributes, from_environment.schema_url))
