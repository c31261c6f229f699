"""Where a request to run (CLI, API, webhook, schedule) becomes an execution.

It resolves the commit, reads the pipeline file at that commit (or takes a temporary config), parses
it with the project's templates, applies the file's branch filter, and hands the result to the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devops import engine
from devops.models import Pipeline, PipelineExecution, PipelineTemplate
from devops.pipeline_config import PipelineSpec, TemplateDef, parse_pipeline
from devops.scm import git
from devops.scm.access import git_auth


class TriggerError(Exception):
    """The execution cannot be created; the message says why (safe to show)."""


class NoPipelineFile(TriggerError):
    pass


class BranchFiltered(TriggerError):
    pass


def project_templates(project_id: int) -> dict[str, TemplateDef]:
    return {
        t.name: TemplateDef(name=t.name, body=t.body, params=dict(t.params or {}))
        for t in PipelineTemplate.objects.filter(project_id=project_id)
    }


def parse_for_pipeline(pipeline: Pipeline, text: str, filename: str) -> PipelineSpec:
    """Parse with the project's templates; raises PipelineConfigError with every error found."""
    return parse_pipeline(text, filename=filename, templates=project_templates(pipeline.project_id))


@dataclass(frozen=True)
class ResolvedSource:
    """A commit and the pipeline file text to run at it, before anything is created."""

    branch: str | None
    tag: str | None
    ref: str
    sha: str
    info: git.CommitInfo
    config_name: str
    config_text: str


def resolve_source(
    pipeline: Pipeline,
    *,
    branch: str | None = None,
    tag: str | None = None,
    commit: str | None = None,
    config_text: str | None = None,
    config_name: str = "",
) -> ResolvedSource:
    """Resolve the ref and commit and read the pipeline file there (or take ``config_text``); no writes."""
    auth = git_auth(pipeline)
    token, user = auth.token or None, auth.username
    url = pipeline.repository_url
    try:
        if tag:
            git.check_ref_name(tag, "tag")
            ref = f"refs/tags/{tag}"
        else:
            branch = git.check_ref_name(branch or git.default_branch(url, token, user))
            ref = f"refs/heads/{branch}"
        sha = commit or git.resolve(url, ref, token, user)
        mirror, info = git.fetch_commit(url, sha, token, user)
        if config_text is None:
            found = git.read_pipeline_file(mirror, sha)
            if found is None:
                raise NoPipelineFile(
                    f"no pipeline file at {sha[:7]}: add one of .devops.yml, .devops.yaml,"
                    " .rancher-pipeline.yml or .rancher-pipeline.yaml at the repository root"
                )
            config_name, config_text = found
    except git.GitError as exc:
        raise TriggerError(str(exc)) from exc
    return ResolvedSource(branch, tag, ref, sha, info, config_name, config_text)


@dataclass(frozen=True)
class Prepared:
    """Everything an execution needs, resolved and parsed; nothing written yet."""

    spec: PipelineSpec
    trigger: engine.TriggerInfo


def prepare_trigger(
    pipeline: Pipeline,
    *,
    branch: str | None = None,
    tag: str | None = None,
    commit: str | None = None,
    event: str | None = None,
    config_text: str | None = None,
    config_name: str = "",
    trigger_type: str = "user",
    triggered_by_id: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> Prepared:
    """Resolve, read and parse, and apply the file's ``branch`` filter; raises TriggerError (or
    PipelineConfigError) with the reason. Separate from the write so a caller can do the slow part
    (git) outside the transaction that creates the execution."""
    source = resolve_source(
        pipeline, branch=branch, tag=tag, commit=commit, config_text=config_text, config_name=config_name
    )
    branch, ref, sha, info, config_name = source.branch, source.ref, source.sha, source.info, source.config_name
    spec = parse_for_pipeline(pipeline, source.config_text, config_name or ".devops.yml")
    if branch and not tag and not spec.should_run_for_branch(branch):
        raise BranchFiltered(f"branch {branch!r} is excluded by the pipeline file's `branch` filter")
    trigger = engine.TriggerInfo(
        event=event or ("tag" if tag else "manual"),
        trigger_type=trigger_type,
        branch=branch or "",
        ref=ref,
        tag=tag or "",
        commit=sha,
        message=info.message,
        author=info.author,
        triggered_by_id=triggered_by_id,
        config_file=config_name,
        extra_env=extra_env or {},
    )
    return Prepared(spec, trigger)


def trigger_pipeline(pipeline: Pipeline, **kwargs: Any) -> PipelineExecution:
    """Prepare (see ``prepare_trigger`` for the arguments) and create the execution."""
    prepared = prepare_trigger(pipeline, **kwargs)
    return engine.create_execution(pipeline, prepared.spec, prepared.trigger)
