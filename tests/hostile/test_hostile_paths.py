"""Cache paths and stage names that point outside the places they name, run by the worker and the
local executor (caches really restored and saved between two executions): nothing is written
outside the workspace, the execution's home and the cache root, and nothing outside the log root.

A sentinel directory outside all of them is named by an absolute cache path and reached through a
symlink the repository commits (``link -> <sentinels>``); it must stay empty. ``..`` is refused when
the file is read, with its position.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.conf import settings

from devops.models import StepRun
from devops.pipeline_config import PipelineConfigError, parse_pipeline
from devops.triggers import trigger_pipeline

CACHE_PIPELINE = """\
stages:
  - name: build
    steps:
      - name: build
        runScriptConfig:
          image: busybox
          shellScript: |
            echo run >> .cache/data/runs; echo "workspace cache: $(wc -l < .cache/data/runs)"
            echo run >> ~/.toolcache/runs; echo "home cache: $(wc -l < ~/.toolcache/runs)"
        cache:
          paths: [.cache/data, ~/.toolcache, "{outside}/absolute", link/sub, "$HOME/../../{outside_name}"]
"""


def test_traversing_cache_paths_are_refused_with_their_position() -> None:
    step = "  - name: s\n    steps:\n      - runScriptConfig: {image: x, shellScript: 'true'}\n"
    text = (
        "stages:\n" + step + "        cache: {paths: [ok, ../up, ~/../../etc, /var/../etc, 'a\\\\..\\\\b']}\n"
        "  - name: t\n    cache:\n      paths: [x/../../y]\n    steps:\n"
        "      - runScriptConfig: {image: x, shellScript: 'true'}\n"
    )
    with pytest.raises(PipelineConfigError) as caught:
        parse_pipeline(text)
    assert [str(e) for e in caught.value.errors] == [
        ".devops.yml:5:29: cache path '../up' must not contain a '..' component",
        ".devops.yml:5:36: cache path '~/../../etc' must not contain a '..' component",
        ".devops.yml:5:49: cache path '/var/../etc' must not contain a '..' component",
        ".devops.yml:5:62: cache path 'a\\\\..\\\\b' must not contain a '..' component",
        ".devops.yml:8:15: cache path 'x/../../y' must not contain a '..' component",
    ]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_caches_never_write_outside_workspace_home_and_cache_root(worker, make_repo, make_pipeline, tmp_path, h):
    outside = tmp_path / "sentinels"
    outside.mkdir()
    # ``$HOME/../..`` is refused on reading, so the file keeps only paths that reach out in other ways.
    text = CACHE_PIPELINE.format(outside=outside, outside_name=outside.name)
    with pytest.raises(PipelineConfigError, match=r"must not contain a '\.\.' component"):
        parse_pipeline(text)
    text = text.replace(f', "$HOME/../../{outside.name}"', "")
    repo = make_repo(text)
    os.symlink(outside, repo.path / "link")
    repo.commit({}, "a symlink out of the checkout")
    pipeline = make_pipeline(repo)
    cache_root = Path(pipeline.project.settings.get(key="cache-root").value)

    logs = []
    for _ in range(2):
        execution = h.wait_final(trigger_pipeline(pipeline, branch="main").pk, timeout=60)
        assert execution.state == "Success", h.describe(execution.pk)
        logs.append(h.stored_log(h.steps_of(execution.pk)["build"]))
    assert "workspace cache: 1\nhome cache: 1\n" in logs[0]
    assert "workspace cache: 2\nhome cache: 2\n" in logs[1]  # the two real caches were kept
    note = "[devops] cache {}: the local executor keeps only paths inside the workspace or under ~/; not cached"
    assert note.format(f"{outside}/absolute") in logs[1]
    assert "[devops] cache link/sub: leads out of the workspace through a symlink; not cached" in logs[1]

    assert list(outside.iterdir()) == [], "written outside the workspace"
    pipeline_caches = cache_root / pipeline.project.name / str(pipeline.pk)
    assert all(re.fullmatch(r"[0-9a-f]{16}(\.lock)?", p.name) for p in pipeline_caches.iterdir())
    for path in cache_root.rglob("*"):  # the cache root holds this pipeline's caches and nothing else
        assert path in pipeline_caches.parents or path == pipeline_caches or pipeline_caches in path.parents, path


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_stage_names_never_name_log_files(worker, make_repo, make_pipeline, h):
    """Log keys are made of indices, so no stage name can reach a path or a shell: a name that would
    create ``stage-pwned`` in a shell's working directory is just a label."""
    names = ["..", ".", "-rf", "$(touch${IFS}stage-pwned)", "a;b|c&d>e", "~", "*", "x" * 100]
    stages = "".join(
        f"  - name: '{name}'\n    steps:\n      - runScriptConfig: {{image: x, shellScript: 'echo in {index}'}}\n"
        for index, name in enumerate(names)
    )
    step = "\n    steps: [{runScriptConfig: {image: x, shellScript: 'true'}}]\n"
    with pytest.raises(PipelineConfigError) as caught:  # '/', control characters, > 100: refused on reading
        parse_pipeline("stages:\n" + stages + "  - name: ../../x" + step + '  - name: "a\\tb"' + step)
    assert [e.message.split(" must ")[0] for e in caught.value.errors] == ["stage name '../../x'", "stage name 'a\tb'"]

    pipeline = make_pipeline(make_repo("stages:\n" + stages))
    log_root = Path(settings.LOG_ROOT)
    before = set(log_root.iterdir())
    execution = h.wait_final(trigger_pipeline(pipeline, branch="main").pk, timeout=60)
    assert execution.state == "Success", h.describe(execution.pk)
    prefix = f"{pipeline.project.name}/{pipeline.pk}/{execution.run}/"
    steps = list(StepRun.objects.filter(execution=execution).order_by("stage_index"))
    assert [s.log_key for s in steps] == [f"{prefix}{i}-0.log" for i in range(len(names) + 1)]
    for index, step in enumerate(steps[1:]):
        assert h.stored_log(step) == f"in {index}\n"
    assert set(log_root.iterdir()) - before <= {log_root / pipeline.project.name}
    stored = sorted(str(p.relative_to(log_root)) for p in (log_root / pipeline.project.name).rglob("*") if p.is_file())
    assert stored == sorted(s.log_key for s in steps)
    for place in (log_root, Path(settings.LOG_SPOOL_DIR), Path(settings.BASE_DIR), Path(settings.WORKSPACE_ROOT)):
        assert not (place / "stage-pwned").exists(), place
