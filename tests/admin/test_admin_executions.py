"""Executions in the admin: read-only, stages and steps inline, abort and rerun (list actions and the
buttons on an execution's page) through devops.engine."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from devops import engine
from devops.models import PipelineExecution
from devops.states import State

pytestmark = pytest.mark.django_db

LIST = "admin:devops_pipelineexecution_changelist"
ONE_STEP = """\
stages:
  - name: Only
    steps:
      - name: one
        runScriptConfig: {image: alpine, shellScript: 'true'}
"""


def change_url(execution) -> str:
    return reverse("admin:devops_pipelineexecution_change", args=[execution.pk])


def state_of(execution) -> str:
    return PipelineExecution.objects.get(pk=execution.pk).state


def test_the_list_shows_columns_filters_search_and_dates(staff, world):
    execution = world.execution
    response = staff.get(reverse(LIST))
    text = response.content.decode()
    assert f"{world.pipeline.name} #{execution.run}" in text
    assert execution.commit[:8] in text and execution.commit[8:] not in text
    assert "Queueing" in text and "manual" in text
    cl = response.context["cl"]
    assert cl.date_hierarchy == "created_at"
    base = reverse(LIST)
    assert staff.get(f"{base}?state__exact=Queueing").context["cl"].result_count == 1
    assert staff.get(f"{base}?state__exact=Success").context["cl"].result_count == 0
    assert staff.get(f"{base}?event__exact=push").context["cl"].result_count == 0
    assert staff.get(f"{base}?project__id__exact={world.other_project.pk}").context["cl"].result_count == 0
    assert staff.get(f"{base}?q={execution.commit[:10]}").context["cl"].result_count == 1
    assert staff.get(f"{base}?q={world.pipeline.name}").context["cl"].result_count == 1
    assert staff.get(f"{base}?q=no-such-branch-anywhere").context["cl"].result_count == 0


def test_the_page_is_read_only_with_stages_and_steps(staff, world):
    response = staff.get(change_url(world.execution))
    assert response.status_code == 200
    inlines = {i.formset.model._meta.model_name: i for i in response.context["inline_admin_formsets"]}
    assert set(inlines) == {"stagerun", "steprun"}
    assert [f.instance.name for f in inlines["stagerun"].formset.forms][-2:] == ["Build", "Test"]  # after the clone
    assert [f.instance.name for f in inlines["steprun"].formset.forms][-2:] == ["compile", "unit"]
    text = response.content.decode()
    assert "Abort</button>" in text and "Run again</button>" in text
    assert 'name="_save"' not in text  # view only
    assert staff.get(reverse("admin:devops_pipelineexecution_add")).status_code == 403
    assert staff.post(change_url(world.execution), {"branch": "other"}).status_code == 403
    assert PipelineExecution.objects.get(pk=world.execution.pk).branch == "main"


def test_abort_action(staff, world):
    response = staff.post(
        reverse(LIST), {"action": "abort_selected", "_selected_action": [world.execution.pk], "index": "0"}
    )
    assert response.status_code == 302
    assert state_of(world.execution) == State.ABORTED
    page = staff.get(response["Location"]).content.decode()
    assert f"Aborted 1: {world.pipeline.name} #{world.execution.run}." in page
    # Again: already final, said so, nothing changes.
    response = staff.post(
        reverse(LIST), {"action": "abort_selected", "_selected_action": [world.execution.pk], "index": "0"}, follow=True
    )
    assert "Not aborted (already finished)" in response.content.decode()
    assert PipelineExecution.objects.get(pk=world.execution.pk).reason.startswith("aborted by admin")


def test_rerun_action(staff, world, admin_user):
    engine.abort(world.execution.pk)
    response = staff.post(
        reverse(LIST),
        {"action": "rerun_selected", "_selected_action": [world.execution.pk], "index": "0"},
        follow=True,
    )
    new = PipelineExecution.objects.get(rerun_of=world.execution)
    assert new.state == State.QUEUEING and new.run == world.execution.run + 1
    assert (new.commit, new.branch, new.config) == (world.execution.commit, "main", world.execution.config)
    assert new.triggered_by_id == admin_user.pk
    assert f"Started 1 new execution(s): {world.pipeline.name} #{new.run}." in response.content.decode()


def test_buttons_on_the_page(staff, world):
    abort = reverse("admin:devops_pipelineexecution_abort", args=[world.execution.pk])
    rerun = reverse("admin:devops_pipelineexecution_rerun", args=[world.execution.pk])
    assert staff.get(abort).status_code == 405
    assert state_of(world.execution) == State.QUEUEING
    response = staff.post(abort, follow=True)
    assert state_of(world.execution) == State.ABORTED
    text = response.content.decode()
    assert "Aborted " in text and "Abort</button>" not in text  # final: only "Run again" is offered
    response = staff.post(rerun)
    new = PipelineExecution.objects.get(rerun_of=world.execution)
    assert response.status_code == 302 and response["Location"] == change_url(new)
    assert staff.post(reverse("admin:devops_pipelineexecution_abort", args=[999999999])).status_code == 404


def test_a_staff_member_with_view_permission_only_sees_but_cannot_operate(client, world, django_user_model, h):
    user = django_user_model.objects.create_user(h.unique_name("ops"), is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_pipelineexecution"))
    client.force_login(user)
    response = client.get(reverse(LIST))
    assert response.status_code == 200
    assert b"abort_selected" not in response.content
    assert client.get(change_url(world.execution)).status_code == 200
    response = client.post(
        reverse(LIST), {"action": "abort_selected", "_selected_action": [world.execution.pk], "index": "0"}
    )
    assert state_of(world.execution) == State.QUEUEING
    assert client.post(reverse("admin:devops_pipelineexecution_rerun", args=[world.execution.pk])).status_code == 403
    assert not PipelineExecution.objects.filter(rerun_of=world.execution).exists()


def test_only_finished_executions_can_be_deleted(staff, world):
    delete = reverse("admin:devops_pipelineexecution_delete", args=[world.execution.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 403
    engine.abort(world.execution.pk)
    assert staff.post(delete, {"post": "yes"}).status_code == 302
    assert not PipelineExecution.objects.filter(pk=world.execution.pk).exists()


def test_an_execution_queued_by_the_quota_is_aborted_from_the_admin(staff, make_repo, make_pipeline, trigger):
    """Quota 1 and two triggers: admission (run here by hand, as the on-commit task would) lets the first
    in and keeps the second queued; the admin aborts the queued one and the first is untouched."""
    pipeline = make_pipeline(make_repo(ONE_STEP), quota=1)
    first, second = trigger(pipeline, branch="main"), trigger(pipeline, branch="main")
    engine.admit(pipeline.project_id)
    assert (state_of(first), state_of(second)) == (State.WAITING, State.QUEUEING)
    response = staff.post(reverse("admin:devops_pipelineexecution_abort", args=[second.pk]))
    assert response.status_code == 302
    assert (state_of(first), state_of(second)) == (State.WAITING, State.ABORTED)


def test_the_page_shows_the_config_and_links_each_started_step_to_its_log(staff, world):
    from devops.models import StepRun

    step = StepRun.objects.get(execution=world.execution, name="compile")
    StepRun.objects.filter(pk=step.pk).update(log_key="some/key.log")
    text = staff.get(change_url(world.execution)).content.decode()
    assert "<pre>{" in text and "echo compiled" in text
    log = f"/api/v1/executions/{world.execution.pk}/logs/{step.stage_index}/{step.index}/"
    assert f'href="{log}"' in text
    assert text.count(f"/api/v1/executions/{world.execution.pk}/logs/") == 1  # steps without a log: no link
