"""Provider autolog: MLflow's own spans for the provider SDK calls an eval makes.

Autolog patches the provider SDKs, so it has to run in the eval process: this is the one part
of the package that imports MLflow there (only when ``autolog_enabled`` is on).

Where the provider spans go: while a sample runs, its task carries an OpenTelemetry context
whose (remote) parent is the sample's root span, with the trace id the sample's trace will
have (both are derived from the sample ``uuid``). MLflow therefore records each provider call
as a span of the sample's trace, under its ``sample`` span, and exports it to the same
experiment as soon as the call ends. The tracing hook writes the rest of the trace when the
sample ends (from the writer process), and the two meet in the store. What is not possible:

* nesting a provider span under the sample's LLM span: that span is made from Inspect's
  ``ModelEvent`` when the sample ends, and its id is not known while the call runs (no hook
  runs in the sample's task at the start of a model call);
* going through the writer process: autolog exports with MLflow's own exporter, to the
  *global* tracking URI (set to the hooks' URI for the run, then restored) and, under heavy
  load, with MLflow's own asynchronous queue (which can drop spans when full; see the README).

Each provider is switched on only when its SDK and MLflow flavor are both installed and the
user has not already switched it on; at the end of the run exactly those are switched off
again, so the user's own autolog configuration is left as it was.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from inspect_mlflow._records._traces import root_span_id_for, trace_id_for
from inspect_mlflow._settings import Settings

logger = logging.getLogger("inspect_mlflow")

PROVIDERS: dict[str, tuple[str, str]] = {
    "openai": ("openai", "mlflow.openai"),
    "anthropic": ("anthropic", "mlflow.anthropic"),
    "google-genai": ("google.genai", "mlflow.gemini"),
    "mistral": ("mistralai", "mlflow.mistral"),
    "groq": ("groq", "mlflow.groq"),
    "litellm": ("litellm", "mlflow.litellm"),
    "bedrock": ("boto3", "mlflow.bedrock"),
    "langchain": ("langchain", "mlflow.langchain"),
}
"""Provider name -> (SDK module, MLflow flavor module)."""

ALIASES = {"gemini": "google-genai", "google": "google-genai", "mistralai": "mistral"}

GENAI_EXPERIMENT_TAGS = {"mlflow.experimentKind": "genai_development"}


def resolve_providers(requested: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(providers to autolog, reasons for the requested ones that cannot be).

    An empty request means every supported provider whose SDK and MLflow flavor are installed.
    """
    names = [ALIASES.get(n.lower(), n.lower()) for n in requested] or list(PROVIDERS)
    chosen: list[str] = []
    skipped: list[str] = []
    for name in dict.fromkeys(names):
        if name not in PROVIDERS:
            skipped.append(f"{name}: not a supported provider ({', '.join(PROVIDERS)})")
            continue
        sdk, flavor = PROVIDERS[name]
        if not _installed(sdk):
            if requested:
                skipped.append(f"{name}: the {sdk} package is not installed")
            continue
        if not _installed(flavor):
            skipped.append(f"{name}: this MLflow has no {flavor} flavor")
            continue
        chosen.append(name)
    return chosen, skipped


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@dataclass
class AutologSession:
    """Autolog switched on for one Inspect run; :meth:`stop` puts everything back."""

    experiment_id: str
    enabled: list[str] = field(default_factory=list)
    """Providers switched on by us (and so to be switched off at the end)."""
    user_enabled: list[str] = field(default_factory=list)
    """Providers the user had switched on already (left alone)."""
    _previous_uri: tuple[str | None, str | None] | None = None
    """(MLflow's global tracking URI, ``MLFLOW_TRACKING_URI``) before the run, when changed."""
    _samples: dict[str, Any] = field(default_factory=dict)
    _finished: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, settings: Settings) -> AutologSession:
        """Switch autolog on for the providers in ``settings`` (blocking: call off the loop)."""
        import mlflow
        from mlflow.tracking._tracking_service import utils as tracking_utils

        assert settings.tracking_uri is not None
        providers, skipped = resolve_providers(settings.autolog_models)
        for reason in skipped:
            logger.warning(f"inspect_mlflow: no autolog for {reason}")
        session = cls(experiment_id=_experiment_id(settings))
        # provider spans export to the global tracking URI: point it at the hooks' store
        if mlflow.get_tracking_uri() != settings.tracking_uri:
            session._previous_uri = (
                tracking_utils._tracking_uri,
                os.environ.get("MLFLOW_TRACKING_URI"),
            )
            mlflow.set_tracking_uri(settings.tracking_uri)
        for name in providers:
            module = importlib.import_module(PROVIDERS[name][1])
            if _user_enabled(module):
                session.user_enabled.append(name)
                continue
            try:
                module.autolog(log_traces=True, disable=False, silent=True)
            except Exception as ex:
                logger.warning(f"inspect_mlflow: autolog for {name} failed to start: {ex}")
                continue
            session.enabled.append(name)
        return session

    def enter_sample(self, sample_uuid: str) -> None:
        """Make provider spans of this sample children of its root span (call in its task)."""
        context = _SampleContext(sample_uuid, self.experiment_id)
        try:
            context.enter()
        except Exception as ex:
            logger.warning(f"inspect_mlflow: autolog context for sample failed: {ex}")
            return
        with self._lock:
            self._samples[sample_uuid] = context

    def exit_sample(self, sample_uuid: str) -> None:
        with self._lock:
            context = self._samples.pop(sample_uuid, None)
        if context is not None:
            context.exit()
            with self._lock:
                self._finished.append(context.otel_trace_id)

    def flush(self) -> None:
        """Wait for MLflow's exporter to write the provider spans of finished samples."""
        import mlflow
        from mlflow.tracing.trace_manager import InMemoryTraceManager

        try:
            mlflow.flush_trace_async_logging()
        except Exception as ex:
            logger.warning(f"inspect_mlflow: flushing autolog traces failed: {ex}")
        with self._lock:
            finished, self._finished = self._finished, []
        manager = InMemoryTraceManager.get_instance()
        for otel_trace_id in finished:
            manager.pop_trace(otel_trace_id)

    def stop(self) -> None:
        """Flush, switch off what we switched on, restore the tracking URI."""
        import mlflow

        with self._lock:
            open_samples = list(self._samples)
        for sample_uuid in open_samples:
            self.exit_sample(sample_uuid)
        self.flush()
        for name in self.enabled:
            try:
                importlib.import_module(PROVIDERS[name][1]).autolog(disable=True, silent=True)
            except Exception as ex:
                logger.warning(f"inspect_mlflow: could not switch autolog for {name} off: {ex}")
        self.enabled = []
        if self._previous_uri is not None:
            uri, env = self._previous_uri
            mlflow.set_tracking_uri(uri)  # type: ignore[arg-type]  # None unsets it
            if env is not None:
                os.environ["MLFLOW_TRACKING_URI"] = env
            self._previous_uri = None


def _user_enabled(module: Any) -> bool:
    from mlflow.utils.autologging_utils import get_autologging_config

    flavor = getattr(module, "FLAVOR_NAME", module.__name__.rsplit(".", 1)[-1])
    return get_autologging_config(flavor, "disable", True) is False


def _experiment_id(settings: Settings) -> str:
    from mlflow import MlflowClient

    client = MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name(settings.experiment_name)
    if experiment is not None:
        return str(experiment.experiment_id)
    try:
        return str(client.create_experiment(settings.experiment_name, tags=GENAI_EXPERIMENT_TAGS))
    except Exception:
        # the writer process created it in the meantime
        experiment = client.get_experiment_by_name(settings.experiment_name)
        if experiment is None:
            raise
        return str(experiment.experiment_id)


class _SampleContext:
    """The OpenTelemetry context of one sample: a remote parent in the sample's trace.

    Like MLflow's ``set_tracing_context_from_http_request_headers``, but the placeholder trace
    it registers names the experiment, so MLflow exports the spans there (MLflow's own
    version sends them to the active experiment instead).
    """

    def __init__(self, sample_uuid: str, experiment_id: str) -> None:
        self.trace_id = trace_id_for(sample_uuid)
        self.otel_trace_id = int(self.trace_id[3:], 16)
        self.span_id = root_span_id_for(self.trace_id)
        self.experiment_id = experiment_id
        self._token: Any = None

    def enter(self) -> None:
        from mlflow.entities import TraceInfo, TraceLocation, TraceState
        from mlflow.tracing.provider import get_context_api
        from mlflow.tracing.trace_manager import InMemoryTraceManager
        from opentelemetry import trace as otel_trace
        from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

        parent = SpanContext(
            trace_id=self.otel_trace_id,
            span_id=self.span_id,
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        context = otel_trace.set_span_in_context(NonRecordingSpan(parent))
        InMemoryTraceManager.get_instance().register_trace(
            self.otel_trace_id,
            TraceInfo(
                trace_id=self.trace_id,
                trace_location=TraceLocation.from_experiment_id(self.experiment_id),
                request_time=0,
                state=TraceState.IN_PROGRESS,
            ),
            is_remote_trace=True,
        )
        self._token = get_context_api().attach(context)

    def exit(self) -> None:
        from mlflow.tracing.provider import get_context_api

        if self._token is not None:
            # in another context detaching fails; the sample's task ends anyway
            with contextlib.suppress(Exception):
                get_context_api().detach(self._token)
            self._token = None
